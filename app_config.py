"""The app's one configuration module: reads settings from the environment, with local defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

STORAGE_SETTING = "AzureWebJobsStorage"
DEFAULT_APP_VERSION = "0.1.0"
DEFAULT_HEALTH_TIMEOUT_SECONDS = 5.0

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
    """How to reach the app's storage account: exactly one of the two fields is set.

    `connection_string` is kept out of repr() so that logging this object cannot leak a key.
    """

    connection_string: str | None = field(default=None, repr=False)
    blob_service_uri: str | None = None
    # Client id of a user-assigned managed identity; None lets DefaultAzureCredential choose.
    managed_identity_client_id: str | None = None

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _setting(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def storage_connection(env: Mapping[str, str] | None = None) -> StorageConnection:
    """Resolve the `AzureWebJobsStorage` connection the same way the Functions host does.

    Precedence: a connection string in `AzureWebJobsStorage`; then the identity-based settings
    `AzureWebJobsStorage__blobServiceUri` or `AzureWebJobsStorage__accountName` (with an optional
    `AzureWebJobsStorage__clientId` for a user-assigned identity); otherwise local Azurite.
    """
    env = _env(env)
    value = _setting(env, STORAGE_SETTING)
    if value is not None:
        if _is_development_storage(value):
            return StorageConnection(connection_string=DEV_STORAGE_CONNECTION_STRING)
        return StorageConnection(connection_string=value)

    client_id = _setting(env, f"{STORAGE_SETTING}__clientId")
    blob_uri = _setting(env, f"{STORAGE_SETTING}__blobServiceUri")
    if blob_uri is None:
        account = _setting(env, f"{STORAGE_SETTING}__accountName")
        if account is not None:
            blob_uri = f"https://{account}.blob.core.windows.net"
    if blob_uri is not None:
        return StorageConnection(blob_service_uri=blob_uri, managed_identity_client_id=client_id)

    return StorageConnection(connection_string=DEV_STORAGE_CONNECTION_STRING)


def _is_development_storage(value: str) -> bool:
    """True for "UseDevelopmentStorage=true", optionally followed by more `key=value;` pairs."""
    for part in value.split(";"):
        key, _, flag = part.partition("=")
        if key.strip().lower() == "usedevelopmentstorage":
            return flag.strip().lower() == "true"
    return False


def app_version(env: Mapping[str, str] | None = None) -> str:
    """The version reported by the health probe; set APP_VERSION at deploy time."""
    return _setting(_env(env), "APP_VERSION") or DEFAULT_APP_VERSION


def health_timeout_seconds(env: Mapping[str, str] | None = None) -> float:
    """Upper bound for each dependency check in the health probe (HEALTH_TIMEOUT_SECONDS)."""
    raw = _setting(_env(env), "HEALTH_TIMEOUT_SECONDS")
    if raw is None:
        return DEFAULT_HEALTH_TIMEOUT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        # Fail loudly: a silently ignored setting is harder to debug than an unhealthy probe.
        raise ValueError(f"HEALTH_TIMEOUT_SECONDS must be a positive number of seconds: {raw!r}")
    return seconds


# Orders at or above this amount (in the order's currency, in cents) wait for a human.
DEFAULT_APPROVAL_THRESHOLD_CENTS = 100_000
DEFAULT_APPROVAL_ESCALATION_HOURS = 24.0
DEFAULT_APPROVAL_TIMEOUT_HOURS = 72.0
DEFAULT_REJECTED_MESSAGES_TABLE = "rejectedmessages"


def _number(env: Mapping[str, str], name: str, default: float, *, allow_zero: bool) -> float:
    raw = _setting(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0 or (value == 0 and not allow_zero):
        # Fail loudly at start: a silently ignored threshold could skip approvals.
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number")
    return value


def approval_threshold_cents(env: Mapping[str, str] | None = None) -> int:
    """ORDER_APPROVAL_THRESHOLD_CENTS: orders at or above it need an approver (0: every order)."""
    name, default = "ORDER_APPROVAL_THRESHOLD_CENTS", DEFAULT_APPROVAL_THRESHOLD_CENTS
    return int(_number(_env(env), name, default, allow_zero=True))


def approval_escalation_hours(env: Mapping[str, str] | None = None) -> float:
    """ORDER_APPROVAL_ESCALATION_HOURS: how long an order waits before the approval escalates."""
    name, default = "ORDER_APPROVAL_ESCALATION_HOURS", DEFAULT_APPROVAL_ESCALATION_HOURS
    return _number(_env(env), name, default, allow_zero=False)


def approval_timeout_hours(env: Mapping[str, str] | None = None) -> float:
    """ORDER_APPROVAL_TIMEOUT_HOURS: after this long without a decision the order is rejected."""
    name, default = "ORDER_APPROVAL_TIMEOUT_HOURS", DEFAULT_APPROVAL_TIMEOUT_HOURS
    return _number(_env(env), name, default, allow_zero=False)


def rejected_messages_table(env: Mapping[str, str] | None = None) -> str:
    """REJECTED_MESSAGES_TABLE: the Table that records malformed queue messages and why."""
    return _setting(_env(env), "REJECTED_MESSAGES_TABLE") or DEFAULT_REJECTED_MESSAGES_TABLE


def table_service_uri(env: Mapping[str, str] | None = None) -> str | None:
    """The Table endpoint of the `AzureWebJobsStorage` account when it uses an identity.

    `AzureWebJobsStorage__tableServiceUri`, else derived from `AzureWebJobsStorage__accountName`
    or the blob endpoint; None with a connection string (which names its own endpoint).
    """
    env = _env(env)
    connection = storage_connection(env)
    if connection.connection_string is not None:
        return None
    uri = _setting(env, f"{STORAGE_SETTING}__tableServiceUri")
    account = _setting(env, f"{STORAGE_SETTING}__accountName")
    if uri is None and account is not None:
        uri = f"https://{account}.table.core.windows.net"
    blob_uri = connection.blob_service_uri or ""
    if uri is None and ".blob." in blob_uri:
        uri = blob_uri.replace(".blob.", ".table.", 1)
    return uri


# The order workflow's storage: Table names (3-63 letters and digits, starting with a letter)
# and the private blob container of the claim check. The defaults work on Azurite unchanged.
TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class OrderStorageNames:
    """Where the order workflow keeps its state; each field has a setting (see the mapping)."""

    orders_table: str = "orders"
    stock_table: str = "stock"
    payments_table: str = "paymentledger"
    shipments_table: str = "shipments"
    outbox_table: str = "notificationoutbox"
    claim_check_container: str = "orders-private"

    def __post_init__(self) -> None:
        for name, setting in ORDER_STORAGE_SETTINGS.items():
            value = getattr(self, name)
            pattern = CONTAINER_NAME if name == "claim_check_container" else TABLE_NAME
            if not pattern.match(value):
                # Fail loudly at start: a bad name would otherwise fail every order at run time.
                raise ValueError(f"{setting} is not a valid storage name: {value!r}")


ORDER_STORAGE_SETTINGS = {
    "orders_table": "ORDERS_TABLE",
    "stock_table": "STOCK_TABLE",
    "payments_table": "PAYMENTS_LEDGER_TABLE",
    "shipments_table": "SHIPMENTS_TABLE",
    "outbox_table": "NOTIFICATIONS_OUTBOX_TABLE",
    "claim_check_container": "CLAIM_CHECK_CONTAINER",
}


def order_storage_names(env: Mapping[str, str] | None = None) -> OrderStorageNames:
    """The order workflow's tables and claim-check container, each overridable by its setting."""
    env = _env(env)
    chosen = {
        name: value
        for name, setting in ORDER_STORAGE_SETTINGS.items()
        if (value := _setting(env, setting)) is not None
    }
    return OrderStorageNames(**chosen)


SERVICE_BUS_SETTING = "ServiceBusConnection"


@dataclass(frozen=True)
class ServiceBusSettings:
    """How the app's own sender reaches Service Bus: exactly one of the first two is set.

    The same `ServiceBusConnection` setting the triggers use, so one identity and one setting
    serve both. `connection_string` is kept out of repr() so that logging this cannot leak a key.
    """

    connection_string: str | None = field(default=None, repr=False)
    fully_qualified_namespace: str | None = None
    client_id: str | None = None


def service_bus_settings(env: Mapping[str, str] | None = None) -> ServiceBusSettings:
    """`ServiceBusConnection` (a connection string, e.g. the local emulator's), else
    `ServiceBusConnection__fullyQualifiedNamespace` with a managed identity (optionally the
    user-assigned one in `ServiceBusConnection__clientId`). Neither: a clear error."""
    env = _env(env)
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


# Where jobs publish results (infra/servicebus.json declares these entities).
DEFAULT_JOB_EVENTS_TOPIC = "order-events"
DEFAULT_REPLY_QUEUE = "replies"
DEFAULT_JOB_STATUS_TABLE = "jobstatus"


@dataclass(frozen=True)
class ResultChannels:
    """The entities and table that carry job results; each has a setting."""

    events_topic: str = DEFAULT_JOB_EVENTS_TOPIC
    reply_queue: str = DEFAULT_REPLY_QUEUE
    # Queues a message's ReplyTo may name; any other ReplyTo falls back to `reply_queue`.
    reply_queues: frozenset[str] = frozenset({DEFAULT_REPLY_QUEUE})
    status_table: str = DEFAULT_JOB_STATUS_TABLE

    def __post_init__(self) -> None:
        if not TABLE_NAME.match(self.status_table):
            raise ValueError(f"JOB_STATUS_TABLE is not a valid table name: {self.status_table!r}")
        if self.reply_queue not in self.reply_queues:
            raise ValueError("REPLY_QUEUE must be one of REPLY_QUEUES")


def result_channels(env: Mapping[str, str] | None = None) -> ResultChannels:
    """JOB_EVENTS_TOPIC, REPLY_QUEUE, REPLY_QUEUES (comma-separated) and JOB_STATUS_TABLE."""
    env = _env(env)
    reply_queue = _setting(env, "REPLY_QUEUE") or DEFAULT_REPLY_QUEUE
    listed = _setting(env, "REPLY_QUEUES")
    queues = {q.strip() for q in listed.split(",") if q.strip()} if listed else {reply_queue}
    return ResultChannels(
        events_topic=_setting(env, "JOB_EVENTS_TOPIC") or DEFAULT_JOB_EVENTS_TOPIC,
        reply_queue=reply_queue,
        reply_queues=frozenset(queues),
        status_table=_setting(env, "JOB_STATUS_TABLE") or DEFAULT_JOB_STATUS_TABLE,
    )


APPROVAL_SIGNING_KEY_SETTING = "APPROVAL_SIGNING_KEY"
UNRESOLVED_KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("
MIN_APPROVAL_SIGNING_KEY_LENGTH = 32


def approval_signing_key(env: Mapping[str, str] | None = None) -> str | None:
    """APPROVAL_SIGNING_KEY: the HMAC key of approval tokens (a Key Vault reference in Azure).

    None when it is missing or shorter than 32 characters: approvals are then refused (503),
    never accepted unsigned. The value is never logged.
    """
    key = _setting(_env(env), APPROVAL_SIGNING_KEY_SETTING)
    if key is None or len(key.encode("utf-8")) < MIN_APPROVAL_SIGNING_KEY_LENGTH:
        return None
    if key.startswith(UNRESOLVED_KEY_VAULT_REFERENCE):
        # The platform leaves the reference text as the value when it cannot read the secret;
        # that text is public (it is in the app's configuration) and must never sign anything.
        return None
    return key


WEBHOOK_SIGNING_KEY_SETTING = "WEBHOOK_SIGNING_KEY"
WEBHOOK_ALLOWED_HOSTS_SETTING = "WEBHOOK_ALLOWED_HOSTS"
MIN_WEBHOOK_SIGNING_KEY_LENGTH = 32


def webhook_signing_key(env: Mapping[str, str] | None = None) -> bytes:
    """WEBHOOK_SIGNING_KEY: the HMAC key webhooks are signed with (a Key Vault reference in Azure).

    Read when a webhook is sent, not at import, so an app without webhooks needs no key. Raises
    ValueError naming the setting (never its value) when it is missing, shorter than 32 bytes,
    or still an unresolved Key Vault reference: the platform leaves the reference text itself as
    the value when it cannot read the secret, and that text must never become the key.
    """
    key = _setting(_env(env), WEBHOOK_SIGNING_KEY_SETTING)
    if key is None:
        raise ValueError(f"{WEBHOOK_SIGNING_KEY_SETTING} is not set: webhooks cannot be signed")
    if key.startswith(UNRESOLVED_KEY_VAULT_REFERENCE):
        raise ValueError(
            f"{WEBHOOK_SIGNING_KEY_SETTING} is an unresolved Key Vault reference: check that the "
            "app's identity may read the secret (Key Vault Secrets User) and the secret exists"
        )
    raw = key.encode("utf-8")
    if len(raw) < MIN_WEBHOOK_SIGNING_KEY_LENGTH:
        raise ValueError(
            f"{WEBHOOK_SIGNING_KEY_SETTING} must be at least "
            f"{MIN_WEBHOOK_SIGNING_KEY_LENGTH} bytes long"
        )
    return raw


def webhook_allowed_hosts(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """WEBHOOK_ALLOWED_HOSTS: comma-separated `host` or `host:port` entries that may receive
    webhooks over plain http and on private or loopback addresses. For local development and
    tests only; empty (nothing exempt) by default. domain.webhooks.AllowList checks each entry."""
    raw = _setting(_env(env), WEBHOOK_ALLOWED_HOSTS_SETTING) or ""
    return tuple(entry.strip().lower() for entry in raw.split(",") if entry.strip())


OUTBOUND_ALLOWED_HOSTS_SETTING = "OUTBOUND_ALLOWED_HOSTS"


def outbound_allowed_hosts(env: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """OUTBOUND_ALLOWED_HOSTS, and the older WEBHOOK_ALLOWED_HOSTS (still honoured): the
    `host` or `host:port` entries every outbound call (webhooks, monitor polls) may reach over
    plain http and on private or loopback addresses, keyed by the setting that lists them (so
    an error can name it). For local development and tests only; empty by default."""
    env = _env(env)
    return {
        OUTBOUND_ALLOWED_HOSTS_SETTING: tuple(
            entry.strip().lower()
            for entry in (_setting(env, OUTBOUND_ALLOWED_HOSTS_SETTING) or "").split(",")
            if entry.strip()
        ),
        WEBHOOK_ALLOWED_HOSTS_SETTING: webhook_allowed_hosts(env),
    }


# The nightly report and retention (docs/nightly-report.md). A timer's `%Setting%` schedule
# fails to index when the setting is missing, in the host as in devhost, so the binding names
# the setting only when it is set and otherwise carries the default schedule itself.
NIGHTLY_REPORT_SCHEDULE_SETTING = "NIGHTLY_REPORT_SCHEDULE"
DEFAULT_NIGHTLY_REPORT_SCHEDULE = "0 0 2 * * *"
RETENTION_SCHEDULE_SETTING = "RETENTION_SCHEDULE"
DEFAULT_RETENTION_SCHEDULE = "0 30 3 * * *"
DEFAULT_REPORTS_CONTAINER = "reports"


def timer_schedule(setting: str, default: str, env: Mapping[str, str] | None = None) -> str:
    """The `schedule` of a timer binding: `%setting%` when the setting is set, else `default`.

    A set value must look like a six-field NCRONTAB expression (Flex Consumption runs no
    TimeSpan schedules); the host checks the fields themselves when it resolves it.
    """
    value = _setting(_env(env), setting)
    if value is None:
        return default
    if len(value.split()) != 6:
        raise ValueError(f"{setting} must be a six-field NCRONTAB expression, e.g. {default!r}")
    return f"%{setting}%"


def reports_container(env: Mapping[str, str] | None = None) -> str:
    """REPORTS_CONTAINER: the private container of `<day>.json` and `<day>.csv`."""
    name = _setting(_env(env), "REPORTS_CONTAINER") or DEFAULT_REPORTS_CONTAINER
    if not CONTAINER_NAME.match(name):
        raise ValueError(f"REPORTS_CONTAINER is not a valid container name: {name!r}")
    return name


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    value = _number(env, name, default, allow_zero=False)
    if value != int(value):
        raise ValueError(f"{name} must be a whole number")
    return int(value)


def report_chunking(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """REPORT_PAGE_SIZE (orders per activity, 500), REPORT_PAGES_PER_CHUNK (4) and
    REPORT_CHUNKS_PER_WAVE (10); domain.reports.ChunkingPolicy checks the ranges."""
    env = _env(env)
    return {
        "page_size": _whole(env, "REPORT_PAGE_SIZE", 500),
        "pages_per_chunk": _whole(env, "REPORT_PAGES_PER_CHUNK", 4),
        "chunks_per_wave": _whole(env, "REPORT_CHUNKS_PER_WAVE", 10),
    }


def retention_days(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """RETENTION_INSTANCE_DAYS (30), RETENTION_REPORT_DAYS (90) and RETENTION_CLAIM_DAYS (30):
    how old finished instances, report files and claim-check blobs get before they go."""
    env = _env(env)
    return {
        "instance_days": _whole(env, "RETENTION_INSTANCE_DAYS", 30),
        "report_days": _whole(env, "RETENTION_REPORT_DAYS", 90),
        "claim_days": _whole(env, "RETENTION_CLAIM_DAYS", 30),
    }


# Thumbnails: the sizes made of every upload and the limits an upload must stay within.
DEFAULT_THUMBNAIL_SIZES = "128,256,512"


def thumbnail_sizes(env: Mapping[str, str] | None = None) -> tuple[int, ...]:
    """THUMBNAIL_SIZES: comma-separated longest sides in pixels (16 to 4096), e.g. "128,256,512".

    Resolved by the starter and passed in the job's input: orchestrators must not read settings.
    """
    from domain.images import parse_sizes

    raw = _setting(_env(env), "THUMBNAIL_SIZES") or DEFAULT_THUMBNAIL_SIZES
    try:
        return parse_sizes(raw)
    except ValueError as error:
        raise ValueError(f"THUMBNAIL_SIZES: {error}") from error


def thumbnail_limits(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """THUMBNAIL_MAX_BYTES (default 20 MiB), THUMBNAIL_MAX_PIXELS (default 40 million, at most
    100 million) and THUMBNAIL_MAX_SIDE (default 16384), as domain.images.ImageLimits fields:
    uploads beyond them are rejected before they are decoded, which stops decompression bombs."""
    from domain.images import ImageLimits

    env = _env(env)
    values = {}
    for name, setting in (
        ("max_bytes", "THUMBNAIL_MAX_BYTES"),
        ("max_pixels", "THUMBNAIL_MAX_PIXELS"),
        ("max_side", "THUMBNAIL_MAX_SIDE"),
    ):
        raw = _setting(env, setting)
        if raw is None:
            continue
        if not raw.isdigit() or int(raw) < 1:
            raise ValueError(f"{setting} must be a positive whole number")
        values[name] = int(raw)
    try:  # checked here, at the start, rather than in every job
        return ImageLimits(**values).dump()
    except ValueError as error:
        raise ValueError(f"thumbnail limits: {error}") from error


# Operations: telemetry export and the supervisor of stuck jobs (docs/operations.md).
APPLICATIONINSIGHTS_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
APPLICATIONINSIGHTS_AUTH_SETTING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"


@dataclass(frozen=True)
class TelemetrySettings:
    """Where telemetry goes. No connection string: nothing is exported (local runs, tests).

    `entra` is True when App Insights takes Entra tokens only (local authentication disabled),
    with `client_id` naming the user-assigned identity; the connection string stays out of
    repr() all the same, though it is an endpoint and an id rather than a secret.
    """

    connection_string: str | None = field(default=None, repr=False)
    entra: bool = False
    client_id: str | None = None


def telemetry_settings(env: Mapping[str, str] | None = None) -> TelemetrySettings:
    """APPLICATIONINSIGHTS_CONNECTION_STRING and APPLICATIONINSIGHTS_AUTHENTICATION_STRING
    (`Authorization=AAD;ClientId=<id>`, the setting the Functions host reads for Entra auth)."""
    env = _env(env)
    auth: dict[str, str] = {}
    for part in (_setting(env, APPLICATIONINSIGHTS_AUTH_SETTING) or "").split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            auth[key.strip().lower()] = value.strip()
    return TelemetrySettings(
        connection_string=_setting(env, APPLICATIONINSIGHTS_SETTING),
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


def supervisor_settings(env: Mapping[str, str] | None = None) -> SupervisorSettings:
    """SUPERVISOR_EXPECTED_DURATIONS (`name=P4D;other=PT3H`: how long a healthy run of each
    orchestrator may take), SUPERVISOR_DEFAULT_EXPECTED (PT24H, for the others),
    SUPERVISOR_MAX_PENDING (PT30M), SUPERVISOR_TERMINATE_AFTER (`name=PT1H`: which
    orchestrators may be terminated, and how long past their limit; none by default) and
    SUPERVISOR_REWIND (comma-separated orchestrators whose recent failures are rewound).
    Read at each run; a bad value raises ValueError naming the setting."""
    from domain.supervision import parse_duration, parse_durations

    env = _env(env)

    def durations(name: str) -> dict[str, float]:
        parsed = parse_durations(_setting(env, name) or "", name)
        return {key: value.total_seconds() for key, value in parsed.items()}

    def duration(name: str, default: str) -> float:
        return parse_duration(_setting(env, name) or default, name).total_seconds()

    rewind = _setting(env, "SUPERVISOR_REWIND") or ""
    return SupervisorSettings(
        expected_seconds=durations("SUPERVISOR_EXPECTED_DURATIONS"),
        default_expected_seconds=duration("SUPERVISOR_DEFAULT_EXPECTED", "PT24H"),
        max_pending_seconds=duration("SUPERVISOR_MAX_PENDING", "PT30M"),
        terminate_after_seconds=durations("SUPERVISOR_TERMINATE_AFTER"),
        rewind=frozenset(name.strip() for name in rewind.split(",") if name.strip()),
    )
