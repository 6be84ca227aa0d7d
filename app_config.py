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
