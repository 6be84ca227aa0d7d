"""The app's one configuration module: reads settings from the environment, with local defaults.

Every reader takes `env` (None: the process environment). A bad value raises ValueError naming
the setting, never a secret's value: a silently ignored setting is harder to find. A settings
dataclass names each field's setting beside it (`_from`); one function reads them all (`_read`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from domain.approvers import Approver, parse_approvers
from domain.fulfilment import ApprovalPolicy
from domain.images import DEFAULT_THUMBNAIL_SIZES, ImageLimits, parse_sizes
from domain.outbound import AllowList
from domain.reports import ChunkingPolicy
from domain.retention import RetentionPolicy
from domain.supervision import parse_duration, parse_durations

Env = Mapping[str, str] | None
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def _setting(env: Env, name: str) -> str | None:
    value = (os.environ if env is None else env).get(name, "").strip()
    return value or None


def _list(env: Env, name: str) -> tuple[str, ...]:
    """The entries of a list setting, separated by commas (or semicolons), blanks dropped."""
    return tuple(
        entry.strip() for entry in re.split(r"[,;]", _setting(env, name) or "") if entry.strip()
    )


def _number(
    env: Env, name: str, default: float = 0, *, allow_zero: bool = False, whole: bool = False
) -> float:
    """A positive (or `allow_zero`) number, an int when `whole`; `default` when unset."""
    raw = _setting(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")  # fails both checks below
    if not (value >= 0 if allow_zero else value > 0) or (whole and not value.is_integer()):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} {'whole number' if whole else 'number'}")
    return int(value) if whole else value


def _choice(env: Env, name: str, choices: tuple[str, ...]) -> str:
    """One of `choices`, in lower case; the first when unset."""
    value = (_setting(env, name) or choices[0]).lower()
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}")
    return value


def _flag(env: Env, name: str) -> bool:
    value = (_setting(env, name) or "false").lower()
    if value not in ("true", "false"):
        raise ValueError(f"{name} must be true or false")
    return value == "true"


def _resolved(env: Env, setting: str) -> str | None:
    """A setting that may be a Key Vault reference. The platform leaves the reference text as
    the value when it cannot read the secret: that must never be used as the secret."""
    value = _setting(env, setting)
    if value is not None and value.startswith("@Microsoft.KeyVault("):
        raise ValueError(
            f"{setting} is an unresolved Key Vault reference: check that the app's identity may "
            "read the secret (Key Vault Secrets User) and the secret exists"
        )
    return value


def _from(
    setting: str, default: Any = None, read: Callable[..., Any] = _setting, **options: Any
) -> Any:
    """A settings dataclass field that `_read` fills with `read(env, setting, **options)`, text
    by default. Secrets, read with `_resolved`, stay out of repr()."""
    metadata = {"setting": setting, "read": partial(read, **options)}
    return field(default=default, repr=read is not _resolved, metadata=metadata)


def _read(cls: type[T], env: Env, **given: Any) -> T:
    """A settings dataclass with each field whose setting is set read by `_from`'s reader, and
    the `given` ones; the others keep their defaults."""
    values = {
        item.name: item.metadata["read"](env, item.metadata["setting"])
        for item in fields(cls)
        if "setting" in item.metadata and _setting(env, item.metadata["setting"]) is not None
    }
    return cls(**{**values, **given})


def _policy(model: type[M], env: Env, prefix: str) -> M:
    """A domain model of whole numbers, each field read from the setting named by `prefix` and
    the field in capitals (REPORT_ + page_size: REPORT_PAGE_SIZE); unset ones keep the model's
    defaults, and the model's range errors name the setting."""
    settings = {name: prefix + name.upper() for name in model.model_fields}
    values = {
        name: _number(env, setting, whole=True)
        for name, setting in settings.items()
        if _setting(env, setting) is not None
    }
    try:
        return model(**values)
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        where = settings.get(str(problem["loc"][0])) if problem["loc"] else None
        raise ValueError(f"{where or ', '.join(settings.values())}: {problem['msg']}") from None


# --- Role ---------------------------------------------------------------------------------------

APP_ROLES = ("main", "express")


def app_role(env: Env = None) -> str:
    """APP_ROLE: `main` (the default: every function) or `express` (only what runs express
    orders: function_app.py says which), so one package serves both apps."""
    return _choice(env, "APP_ROLE", APP_ROLES)


# The task hub of each role's app: host.json reads the app's own from TASK_HUB_NAME, and the
# main app reaches express orders in the hub named by EXPRESS_TASK_HUB_NAME.
EXPRESS_HUB_SETTING = "EXPRESS_TASK_HUB_NAME"


def express_hub_name(env: Env = None) -> str:
    """The express app's task hub, which the main app's API and timers also reach."""
    hub = _setting(env, EXPRESS_HUB_SETTING)
    if not hub:
        raise ValueError(f"{EXPRESS_HUB_SETTING} must name the express app's task hub")
    return hub


# --- Storage ----------------------------------------------------------------------------------

STORAGE_SETTING = "AzureWebJobsStorage"
# Azurite's published development account. The key is public and only works against the
# emulator; the app never needs a real storage key (in Azure it uses a managed identity).
# devhost keeps its own copy of this constant: the app and devhost never import each other.
DEV_STORAGE_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


@dataclass(frozen=True)
class StorageConnection:
    """A connection string (kept out of repr() so a log cannot leak a key), or endpoints and an
    identity (a user-assigned one's client id; None lets DefaultAzureCredential choose)."""

    connection_string: str | None = field(default=None, repr=False)
    blob_service_uri: str | None = None
    managed_identity_client_id: str | None = None
    table_service_uri: str | None = None
    queue_service_uri: str | None = None


def storage_connection(env: Env = None) -> StorageConnection:
    """Resolve the `AzureWebJobsStorage` connection the same way the Functions host does.

    Precedence: a connection string in `AzureWebJobsStorage` ("UseDevelopmentStorage=true" is
    Azurite); then the identity-based `AzureWebJobsStorage__blobServiceUri` or `__accountName`
    (with `__clientId` for a user-assigned identity, and `__tableServiceUri` or
    `__queueServiceUri` where an endpoint is not the account's usual one); otherwise Azurite.
    """
    value = _setting(env, STORAGE_SETTING)
    if value is not None and not _is_development_storage(value):
        return StorageConnection(connection_string=value)
    account = _setting(env, f"{STORAGE_SETTING}__accountName")
    blob_uri = _service_uri(env, "blob", account)
    if value is not None or blob_uri is None:
        return StorageConnection(connection_string=DEV_STORAGE_CONNECTION_STRING)
    return StorageConnection(
        blob_service_uri=blob_uri,
        managed_identity_client_id=_setting(env, f"{STORAGE_SETTING}__clientId"),
        table_service_uri=_service_uri(env, "table", account, blob_uri),
        queue_service_uri=_service_uri(env, "queue", account, blob_uri),
    )


def _service_uri(env: Env, service: str, account: str | None, blob_uri: str = "") -> str | None:
    """`AzureWebJobsStorage__<service>ServiceUri`, else the account's usual endpoint, else the
    blob endpoint's sibling."""
    uri = _setting(env, f"{STORAGE_SETTING}__{service}ServiceUri")
    if uri is None and account is not None:
        uri = f"https://{account}.{service}.core.windows.net"
    if uri is None and ".blob." in blob_uri:
        uri = blob_uri.replace(".blob.", f".{service}.", 1)
    return uri


def _is_development_storage(value: str) -> bool:
    """True for "UseDevelopmentStorage=true", optionally followed by more `key=value;` pairs."""
    for part in value.split(";"):
        key, _, flag = part.partition("=")
        if key.strip().lower() == "usedevelopmentstorage":
            return flag.strip().lower() == "true"
    return False


# Table names are 3-63 letters and digits, starting with a letter; container names are 3-63
# lower-case letters, digits and single hyphens.
TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")


def _storage_name(setting: str, name: str) -> str:
    """`name` if it is a valid container (a `*_CONTAINER` setting) or table name. Checked at
    the start: a bad name would otherwise fail every use at run time."""
    container = setting.endswith("_CONTAINER")
    if not (CONTAINER_NAME if container else TABLE_NAME).match(name):
        kind = "container" if container else "table"
        raise ValueError(f"{setting} is not a valid {kind} name: {name!r}")
    return name


@dataclass(frozen=True)
class OrderStorageNames:
    """Where the order workflow keeps its state, each name from the setting beside it."""

    orders_table: str = _from("ORDERS_TABLE", "orders")
    stock_table: str = _from("STOCK_TABLE", "stock")
    payments_table: str = _from("PAYMENTS_LEDGER_TABLE", "paymentledger")
    shipments_table: str = _from("SHIPMENTS_TABLE", "shipments")
    outbox_table: str = _from("NOTIFICATIONS_OUTBOX_TABLE", "notificationoutbox")
    claim_check_container: str = _from("CLAIM_CHECK_CONTAINER", "orders-private")
    # One row per malformed queue message and why, never its body.
    rejected_messages_table: str = _from("REJECTED_MESSAGES_TABLE", "rejectedmessages")

    def __post_init__(self) -> None:
        for item in fields(self):
            _storage_name(item.metadata["setting"], getattr(self, item.name))


def order_storage_names(env: Env = None) -> OrderStorageNames:
    return _read(OrderStorageNames, env)


def reports_container(env: Env = None) -> str:
    """REPORTS_CONTAINER: the private container of `<day>.json` and `<day>.csv`."""
    return _storage_name("REPORTS_CONTAINER", _setting(env, "REPORTS_CONTAINER") or "reports")


# --- Orders -----------------------------------------------------------------------------------


def payment_provider(env: Env = None) -> str | None:
    """PAYMENT_PROVIDER, in lower case (adapters/factory.py knows the names). No default, so that
    nothing simulates payments unless a setting says so (docs/order-workflow.md)."""
    value = _setting(env, "PAYMENT_PROVIDER")
    return value.lower() if value else None


def approval_policy(env: Env = None) -> ApprovalPolicy:
    """ORDER_APPROVAL_THRESHOLD_CENTS (100000; orders at or above it need an approver, 0: every
    order), ORDER_APPROVAL_ESCALATION_HOURS (24) and ORDER_APPROVAL_TIMEOUT_HOURS (72: then the
    order is rejected). Resolved by the starters: orchestrators must not read settings."""
    hour = timedelta(hours=1).total_seconds()
    return ApprovalPolicy(
        threshold_cents=_number(
            env, "ORDER_APPROVAL_THRESHOLD_CENTS", 100_000, allow_zero=True, whole=True
        ),
        escalate_after_seconds=_number(env, "ORDER_APPROVAL_ESCALATION_HOURS", 24) * hour,
        timeout_seconds=_number(env, "ORDER_APPROVAL_TIMEOUT_HOURS", 72) * hour,
    )


def _approvers(env: Env, name: str) -> tuple[Approver, ...]:
    return parse_approvers(_list(env, name), name)


@dataclass(frozen=True)
class ApprovalSettings:
    """Who is asked to approve (`id=email` entries), where approval links point, and whether
    deciding also needs the approver signed in through App Service Authentication.
    function_app.py reads them at start, so a bad value stops the app with its error."""

    approvers: tuple[Approver, ...] = _from("ORDER_APPROVERS", (), _approvers)
    escalation_approvers: tuple[Approver, ...] = _from("ORDER_ESCALATION_APPROVERS", (), _approvers)
    # PUBLIC_BASE_URL, else https://WEBSITE_HOSTNAME (which Azure sets); never a request's Host.
    public_base_url: str | None = None
    require_signed_in: bool = _from("APPROVAL_REQUIRE_SIGNED_IN", False, _flag)

    def approver(self, approver_id: str) -> Approver | None:
        return next(
            (a for a in self.approvers + self.escalation_approvers if a.id == approver_id), None
        )


def approval_settings(env: Env = None) -> ApprovalSettings:
    return _read(ApprovalSettings, env, public_base_url=_public_base_url(env))


def _public_base_url(env: Env) -> str | None:
    chosen = _setting(env, "PUBLIC_BASE_URL")
    if chosen is None:
        host = _setting(env, "WEBSITE_HOSTNAME")
        return f"https://{host}" if host else None
    parts = urlsplit(chosen)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError("PUBLIC_BASE_URL must be an http(s) URL without query or fragment")
    return chosen.rstrip("/")


@dataclass(frozen=True)
class MailSettings:
    """How notifications leave the app (adapters/mail.py). `transport`: `file` (the local
    default: .eml files in `file_folder`), `smtp` or `acs` (Azure Communication Services Email
    as the managed identity `acs_client_id`; None lets DefaultAzureCredential choose). After
    `max_attempts` a notification is dead; retries wait `first_retry_seconds`, doubling per
    failed attempt up to an hour."""

    transport: str = _from("MAIL_TRANSPORT", "file", _choice, choices=("file", "smtp", "acs"))
    sender: str = _from("MAIL_FROM", "orders@localhost")
    file_folder: str = _from("MAIL_FILE_FOLDER", ".devhost/mail")
    acs_endpoint: str | None = _from("ACS_EMAIL_ENDPOINT")
    acs_client_id: str | None = _from("ACS_EMAIL_CLIENT_ID")
    smtp_host: str | None = _from("SMTP_HOST")
    smtp_port: int = _from("SMTP_PORT", 587, _number, whole=True)
    smtp_security: str = _from(
        "SMTP_SECURITY", "starttls", _choice, choices=("starttls", "tls", "none")
    )
    smtp_username: str | None = _from("SMTP_USERNAME")
    smtp_password: str | None = _from("SMTP_PASSWORD", read=_resolved)  # Key Vault, in Azure
    max_attempts: int = _from("MAIL_MAX_ATTEMPTS", 8, _number, whole=True)
    first_retry_seconds: float = _from("MAIL_FIRST_RETRY_SECONDS", 30, _number)


def mail_settings(env: Env = None) -> MailSettings:
    """The mail settings; what the chosen transport needs must be set."""
    settings = _read(MailSettings, env)
    if settings.transport == "acs" and not (settings.acs_endpoint or "").startswith("https://"):
        raise ValueError("MAIL_TRANSPORT=acs needs ACS_EMAIL_ENDPOINT (https://...)")
    if settings.transport == "smtp" and settings.smtp_host is None:
        raise ValueError("MAIL_TRANSPORT=smtp needs SMTP_HOST")
    return settings


# --- Secrets ----------------------------------------------------------------------------------

MIN_SECRET_BYTES = 32


def _secret(env: Env, setting: str, purpose: str) -> bytes:
    """A secret (a Key Vault reference in Azure), read when needed, never at import. Missing,
    short or unresolved, it fails one way: ValueError naming the setting."""
    key = _resolved(env, setting)
    if key is None:
        raise ValueError(f"{setting} is not set: {purpose}")
    raw = key.encode("utf-8")
    if len(raw) < MIN_SECRET_BYTES:
        raise ValueError(f"{setting} must be at least {MIN_SECRET_BYTES} bytes long")
    return raw


def approval_signing_key(env: Env = None) -> bytes:
    """APPROVAL_SIGNING_KEY: the key of approval tokens. Without it approvals are refused (503),
    never accepted unsigned."""
    return _secret(env, "APPROVAL_SIGNING_KEY", "approvals cannot be verified")


def webhook_signing_key(env: Env = None) -> bytes:
    """WEBHOOK_SIGNING_KEY: the key webhooks are signed with; an app without webhooks needs none."""
    return _secret(env, "WEBHOOK_SIGNING_KEY", "webhooks cannot be signed")


# --- Results and outbound calls ---------------------------------------------------------------

SERVICE_BUS_SETTING = "ServiceBusConnection"


@dataclass(frozen=True)
class ServiceBusSettings:
    """How the app's own sender reaches Service Bus (the triggers' setting): exactly one of the
    first two is set; `connection_string` is kept out of repr() so a log cannot leak a key."""

    connection_string: str | None = field(default=None, repr=False)
    fully_qualified_namespace: str | None = None
    client_id: str | None = None


def service_bus_settings(env: Env = None) -> ServiceBusSettings:
    """`ServiceBusConnection` (a connection string, e.g. the local emulator's), else
    `ServiceBusConnection__fullyQualifiedNamespace` with a managed identity (optionally the
    user-assigned one in `ServiceBusConnection__clientId`). Neither: a clear error."""
    value = _setting(env, SERVICE_BUS_SETTING)
    if value is not None:
        return ServiceBusSettings(connection_string=value)
    namespace = _setting(env, f"{SERVICE_BUS_SETTING}__fullyQualifiedNamespace")
    if namespace is None:
        raise ValueError(
            f"no Service Bus connection: set {SERVICE_BUS_SETTING}__fullyQualifiedNamespace "
            f"(managed identity) or {SERVICE_BUS_SETTING} (local emulator connection string)"
        )
    return ServiceBusSettings(
        fully_qualified_namespace=namespace,
        client_id=_setting(env, f"{SERVICE_BUS_SETTING}__clientId"),
    )


@dataclass(frozen=True)
class ResultChannels:
    """The entities and table that carry job results (infra/servicebus.json declares the
    entities), each from the setting beside it."""

    events_topic: str = _from("JOB_EVENTS_TOPIC", "order-events")
    reply_queue: str = _from("REPLY_QUEUE", "replies")
    # REPLY_QUEUES, the queues a message's ReplyTo may name (unset: REPLY_QUEUE); any other
    # ReplyTo falls back to `reply_queue`.
    reply_queues: frozenset[str] = frozenset({"replies"})
    status_table: str = _from("JOB_STATUS_TABLE", "jobstatus")

    def __post_init__(self) -> None:
        _storage_name("JOB_STATUS_TABLE", self.status_table)
        if self.reply_queue not in self.reply_queues:
            raise ValueError("REPLY_QUEUE must be one of REPLY_QUEUES")


def result_channels(env: Env = None) -> ResultChannels:
    reply_queue = _setting(env, "REPLY_QUEUE") or ResultChannels.reply_queue
    queues = frozenset(_list(env, "REPLY_QUEUES") or {reply_queue})
    return _read(ResultChannels, env, reply_queues=queues)


def outbound_allow_list(env: Env = None) -> AllowList:
    """OUTBOUND_ALLOWED_HOSTS, and the older WEBHOOK_ALLOWED_HOSTS (still honoured): comma-
    separated `host` or `host:port` entries every outbound call (webhooks, monitor polls) may
    reach over plain http and on private or loopback addresses. For local development and
    tests only; empty by default. A bad entry raises ValueError naming its setting."""
    entries: set[tuple[str, int | None]] = set()
    for setting in ("OUTBOUND_ALLOWED_HOSTS", "WEBHOOK_ALLOWED_HOSTS"):
        try:
            entries |= AllowList.parse(_list(env, setting)).entries
        except ValueError as error:
            raise ValueError(f"{setting}: {error}") from None
    return AllowList(frozenset(entries))


# --- Scheduled jobs and thumbnails ------------------------------------------------------------

# A timer's `%Setting%` schedule fails to index when the setting is missing, in the host as in
# devhost, so the binding names the setting only when it is set and otherwise carries the
# default schedule itself.
NIGHTLY_REPORT_SCHEDULE_SETTING = "NIGHTLY_REPORT_SCHEDULE"
DEFAULT_NIGHTLY_REPORT_SCHEDULE = "0 0 2 * * *"
RETENTION_SCHEDULE_SETTING = "RETENTION_SCHEDULE"
DEFAULT_RETENTION_SCHEDULE = "0 30 3 * * *"
NOTIFICATIONS_SCHEDULE_SETTING = "NOTIFICATIONS_RESEND_SCHEDULE"
DEFAULT_NOTIFICATIONS_SCHEDULE = "0 */5 * * * *"


def timer_schedule(setting: str, default: str, env: Env = None) -> str:
    """The `schedule` of a timer binding: `%setting%` when the setting is set, else `default`.
    A set value must have six NCRONTAB fields (Flex Consumption runs no TimeSpan schedules)."""
    value = _setting(env, setting)
    if value is None:
        return default
    if len(value.split()) != 6:
        raise ValueError(f"{setting} must be a six-field NCRONTAB expression, e.g. {default!r}")
    return f"%{setting}%"


def report_chunking(env: Env = None) -> ChunkingPolicy:
    """REPORT_PAGE_SIZE (orders per activity, 500), REPORT_PAGES_PER_CHUNK (4) and
    REPORT_CHUNKS_PER_WAVE (10)."""
    return _policy(ChunkingPolicy, env, "REPORT_")


def retention_policy(env: Env = None) -> RetentionPolicy:
    """RETENTION_INSTANCE_DAYS (30), RETENTION_REPORT_DAYS (90) and RETENTION_CLAIM_DAYS (30):
    how old finished instances, report files and claim-check blobs get before they go."""
    return _policy(RetentionPolicy, env, "RETENTION_")


def thumbnail_sizes(env: Env = None) -> tuple[int, ...]:
    """THUMBNAIL_SIZES: comma-separated longest sides in pixels (16 to 4096), e.g. "128,256,512".
    Resolved by the starter and passed in the job's input: orchestrators must not read settings."""
    if _setting(env, "THUMBNAIL_SIZES") is None:
        return DEFAULT_THUMBNAIL_SIZES
    return parse_sizes(_list(env, "THUMBNAIL_SIZES"), "THUMBNAIL_SIZES")


def thumbnail_limits(env: Env = None) -> ImageLimits:
    """THUMBNAIL_MAX_BYTES (20 MiB), THUMBNAIL_MAX_PIXELS (40 million, at most 100 million) and
    THUMBNAIL_MAX_SIDE (16384): uploads beyond them are rejected before they are decoded, which
    stops decompression bombs. Checked here, at the start, rather than in every job."""
    return _policy(ImageLimits, env, "THUMBNAIL_")


# --- Operations -------------------------------------------------------------------------------


def app_version(env: Env = None) -> str:
    """The version reported by the health probe; set APP_VERSION at deploy time."""
    return _setting(env, "APP_VERSION") or "0.1.0"


def health_timeout_seconds(env: Env = None) -> float:
    """HEALTH_TIMEOUT_SECONDS (5): the upper bound of each dependency check in the probe."""
    return _number(env, "HEALTH_TIMEOUT_SECONDS", 5.0)


@dataclass(frozen=True)
class TelemetrySettings:
    """Where telemetry goes (no connection string: nowhere). `entra`: App Insights takes Entra
    tokens only (local authentication disabled), as the identity `client_id`."""

    connection_string: str | None = field(default=None, repr=False)
    entra: bool = False
    client_id: str | None = None


def telemetry_settings(env: Env = None) -> TelemetrySettings:
    """APPLICATIONINSIGHTS_CONNECTION_STRING and APPLICATIONINSIGHTS_AUTHENTICATION_STRING
    (`Authorization=AAD;ClientId=<id>`, the setting the Functions host reads for Entra auth)."""
    auth = {}
    for part in _list(env, "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"):
        key, _, value = part.partition("=")
        auth[key.strip().lower()] = value.strip()
    return TelemetrySettings(
        connection_string=_setting(env, "APPLICATIONINSIGHTS_CONNECTION_STRING"),
        entra=auth.get("authorization", "").upper() == "AAD",
        client_id=auth.get("clientid") or None,
    )


@dataclass(frozen=True)
class SupervisorSettings:
    """The supervisor's limits in seconds; triggers/supervisor_timer.py builds its policy."""

    expected_seconds: dict[str, float]
    default_expected_seconds: float
    max_pending_seconds: float
    terminate_after_seconds: dict[str, float]
    rewind: frozenset[str]


def supervisor_settings(env: Env = None) -> SupervisorSettings:
    """SUPERVISOR_EXPECTED_DURATIONS (`name=P4D;other=PT3H`: how long a healthy run of each
    orchestrator may take), SUPERVISOR_DEFAULT_EXPECTED (PT24H, for the others),
    SUPERVISOR_MAX_PENDING (PT30M), SUPERVISOR_TERMINATE_AFTER (`name=PT1H`: which
    orchestrators may be terminated, and how long past their limit; none by default) and
    SUPERVISOR_REWIND (comma-separated orchestrators whose recent failures are rewound).
    Read at each run."""

    def durations(name: str) -> dict[str, float]:
        parsed = parse_durations(_list(env, name), name)
        return {key: value.total_seconds() for key, value in parsed.items()}

    def duration(name: str, default: str) -> float:
        return parse_duration(_setting(env, name) or default, name).total_seconds()

    return SupervisorSettings(
        expected_seconds=durations("SUPERVISOR_EXPECTED_DURATIONS"),
        default_expected_seconds=duration("SUPERVISOR_DEFAULT_EXPECTED", "PT24H"),
        max_pending_seconds=duration("SUPERVISOR_MAX_PENDING", "PT30M"),
        terminate_after_seconds=durations("SUPERVISOR_TERMINATE_AFTER"),
        rewind=frozenset(_list(env, "SUPERVISOR_REWIND")),
    )
