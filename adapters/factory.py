"""The composition root: the one place that builds adapters from app_config.

`root` builds each adapter group on first use and shares it, so a group needs only its own
settings (thumbnails run without Service Bus) and a failed build is tried again next time.
`build_*` take explicit arguments (tests, scripts). Tables and containers are created on first
use, so a fresh Azurite needs no setup step (in Azure, Bicep provisions them too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient

import app_config
from adapters.claim_check import ClaimCheckStore
from adapters.faults import FaultHook, no_fault
from adapters.mail import FileTransport, MailTransport, SmtpTransport
from adapters.mail_content import MailContext, render
from adapters.messaging import ServiceBusPublisher
from adapters.notifications import NOTIFICATIONS_QUEUE, NotificationOutbox
from adapters.order_store import OrderStore
from adapters.outbox_sender import OutboxSender
from adapters.payments import (
    SIMULATED,
    LedgerPaymentProvider,
    PaymentPort,
    PaymentProviderNotConfigured,
    UnconfiguredPayments,
)
from adapters.rejected_messages import RejectedMessageStore
from adapters.report_store import BlobSweeper, ReportStore
from adapters.shipping import LocalCarrier, ShippingPort
from adapters.status_records import StatusRecords
from adapters.stock import StockStore
from adapters.storage_probe import BlobStorageProbe
from adapters.thumbnail_store import THUMBNAILS_CONTAINER, UPLOADS_CONTAINER, ThumbnailStore
from adapters.webhooks import WebhookSender
from app_config import MailSettings, OrderStorageNames, ResultChannels, StorageConnection
from domain.failures import PermanentFailure
from domain.outbound import AllowList

if TYPE_CHECKING:
    from azure.identity import DefaultAzureCredential
    from azure.storage.queue import QueueClient

T = TypeVar("T")


def _credential(connection: StorageConnection) -> DefaultAzureCredential:
    # Imported here so that apps running on a connection string (local Azurite) skip its cost.
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=connection.managed_identity_client_id)


def table_service(connection: StorageConnection) -> TableServiceClient:
    if connection.connection_string is not None:
        return TableServiceClient.from_connection_string(connection.connection_string)
    if not connection.table_service_uri:
        raise ValueError(
            "no Table endpoint: set AzureWebJobsStorage__tableServiceUri or __accountName"
        )
    return TableServiceClient(connection.table_service_uri, credential=_credential(connection))


def notifications_queue(connection: StorageConnection) -> QueueClient:
    """The `notifications` queue, Base64-encoded as the Functions host's queue trigger reads
    messages by default (host.json messageEncoding); created if missing."""
    from azure.storage.queue import QueueClient, TextBase64EncodePolicy

    encode = {"message_encode_policy": TextBase64EncodePolicy()}
    if connection.connection_string is not None:
        queue = QueueClient.from_connection_string(
            connection.connection_string, NOTIFICATIONS_QUEUE, **encode
        )
    elif connection.queue_service_uri:
        queue = QueueClient(
            connection.queue_service_uri,
            NOTIFICATIONS_QUEUE,
            credential=_credential(connection),
            **encode,
        )
    else:
        raise ValueError("no Queue endpoint: set AzureWebJobsStorage__queueServiceUri")
    with suppress(ResourceExistsError):
        queue.create_queue()
    return queue


def blob_service(connection: StorageConnection, **options: Any) -> BlobServiceClient:
    """A client for the account's blobs; `options` are the SDK's (timeouts, retries)."""
    if connection.connection_string is not None:
        return BlobServiceClient.from_connection_string(connection.connection_string, **options)
    uri, credential = connection.blob_service_uri or "", _credential(connection)
    return BlobServiceClient(uri, credential=credential, **options)


def private_container(blobs: BlobServiceClient, name: str) -> ContainerClient:
    """The container, created if missing; private: no public access level is ever set."""
    container = blobs.get_container_client(name)
    with suppress(ResourceExistsError):
        container.create_container()
    return container


# The payment providers PAYMENT_PROVIDER may name, each built from the order tables; a real
# provider is added here (docs/order-workflow.md).
BuildProvider = Callable[[TableServiceClient, OrderStorageNames, FaultHook], PaymentPort]
PAYMENT_PROVIDERS: dict[str, BuildProvider] = {
    SIMULATED: lambda tables, names, fault: LedgerPaymentProvider(
        tables.create_table_if_not_exists(names.payments_table), fault=fault
    ),
}


def check_payment_provider(provider: str | None) -> None:
    """Raises PaymentProviderNotConfigured unless PAYMENT_PROVIDER names a provider above."""
    if provider not in PAYMENT_PROVIDERS:
        raise PaymentProviderNotConfigured(provider)


def outbound_allow_list(env: app_config.Env = None, *, purpose: str) -> AllowList:
    """The allow-list from app settings; a PermanentFailure naming the setting with a malformed
    entry (`purpose` says what cannot run, e.g. "webhooks")."""
    try:
        return app_config.outbound_allow_list(env)
    except ValueError as error:
        raise PermanentFailure(f"{purpose} are not configured: {error}") from None


def build_webhook_sender(env: app_config.Env = None) -> WebhookSender:
    """The sender from app settings, built per webhook; a PermanentFailure naming the setting
    when webhooks are not configured (the key is read when a webhook is due, never at import)."""
    try:
        key = app_config.webhook_signing_key(env)
    except ValueError as error:
        raise PermanentFailure(f"webhooks are not configured: {error}") from None
    return WebhookSender(key, outbound_allow_list(env, purpose="webhooks"))


def build_transport(settings: MailSettings) -> MailTransport:
    """The transport MAIL_TRANSPORT names (app_config.mail_settings checked what it needs)."""
    if settings.transport == "smtp" and settings.smtp_host:
        return SmtpTransport(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_security,
            settings.smtp_username,
            settings.smtp_password,
        )
    if settings.transport == "acs":
        from adapters.mail_acs import acs_transport  # the SDK only where it is used

        return acs_transport(settings)
    return FileTransport(Path(settings.file_folder).resolve())


@dataclass(frozen=True)
class OrderAdapters:
    """Everything the order activities touch."""

    orders: OrderStore
    stock: StockStore
    payments: PaymentPort
    shipping: ShippingPort
    outbox: NotificationOutbox
    claims: ClaimCheckStore


def build_order_adapters(
    connection: StorageConnection,
    names: OrderStorageNames,
    *,
    payment_provider: str | None,
    fault: FaultHook = no_fault,
) -> OrderAdapters:
    tables = table_service(connection)
    container = private_container(blob_service(connection), names.claim_check_container)
    provider = PAYMENT_PROVIDERS.get(payment_provider or "")
    payments: PaymentPort = (
        provider(tables, names, fault) if provider else UnconfiguredPayments(payment_provider)
    )

    def table(name: str) -> Any:
        return tables.create_table_if_not_exists(name)

    return OrderAdapters(
        orders=OrderStore(table(names.orders_table), fault=fault),
        stock=StockStore(table(names.stock_table), fault=fault),
        payments=payments,
        shipping=LocalCarrier(table(names.shipments_table), fault=fault),
        outbox=NotificationOutbox(
            table(names.outbox_table), notifications_queue(connection), fault=fault
        ),
        claims=ClaimCheckStore(container, fault=fault),
    )


@dataclass(frozen=True)
class ResultAdapters:
    """Everything that publishes a job's results: its status record, the topic, the replies."""

    status: StatusRecords
    publisher: ServiceBusPublisher
    channels: ResultChannels


def build_result_adapters(
    connection: StorageConnection,
    channels: ResultChannels,
    publisher: ServiceBusPublisher,
    *,
    fault: FaultHook = no_fault,
) -> ResultAdapters:
    table = table_service(connection).create_table_if_not_exists(channels.status_table)
    return ResultAdapters(StatusRecords(table, fault=fault), publisher, channels)


@dataclass(frozen=True)
class ReportAdapters:
    """Everything the report and retention activities touch."""

    orders: OrderStore
    reports: ReportStore
    claims: BlobSweeper


def build_report_adapters(
    connection: StorageConnection, names: OrderStorageNames, reports_container: str
) -> ReportAdapters:
    blobs = blob_service(connection)
    orders = table_service(connection).create_table_if_not_exists(names.orders_table)
    return ReportAdapters(
        orders=OrderStore(orders),
        reports=ReportStore(private_container(blobs, reports_container)),
        claims=BlobSweeper(blobs.get_container_client(names.claim_check_container)),
    )


def build_thumbnail_store(
    connection: StorageConnection,
    uploads: str = UPLOADS_CONTAINER,
    thumbnails: str = THUMBNAILS_CONTAINER,
    *,
    fault: FaultHook = no_fault,
) -> ThumbnailStore:
    blobs = blob_service(connection)
    return ThumbnailStore(
        private_container(blobs, uploads), private_container(blobs, thumbnails), fault=fault
    )


def build_rejected_messages(connection: StorageConnection, table: str) -> RejectedMessageStore:
    return RejectedMessageStore(table_service(connection).create_table_if_not_exists(table))


class Root:
    """The app's adapters from app_config, each built once on first use (under one lock)."""

    def __init__(self) -> None:
        self._built: dict[Hashable, Any] = {}
        self._lock = threading.RLock()

    def _once(self, key: Hashable, build: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._built:
                self._built[key] = build()
            return cast(T, self._built[key])

    def reset(self) -> None:
        """Forget everything built, so the next use reads the settings again (tests)."""
        with self._lock:
            self._built.clear()

    def orders(self) -> OrderAdapters:
        return self._once(
            "orders",
            lambda: build_order_adapters(
                app_config.storage_connection(),
                app_config.order_storage_names(),
                payment_provider=app_config.payment_provider(),
            ),
        )

    def claims(self) -> ClaimCheckStore:
        """The starters' claim check: where personal data goes before a workflow starts."""
        return self.orders().claims

    def results(self) -> ResultAdapters:
        return self._once(
            "results",
            lambda: build_result_adapters(
                app_config.storage_connection(),
                app_config.result_channels(),
                ServiceBusPublisher(app_config.service_bus_settings()),
            ),
        )

    def reports(self) -> ReportAdapters:
        return self._once(
            "reports",
            lambda: build_report_adapters(
                app_config.storage_connection(),
                app_config.order_storage_names(),
                app_config.reports_container(),
            ),
        )

    def thumbnails(self) -> ThumbnailStore:
        return self._once(
            "thumbnails", lambda: build_thumbnail_store(app_config.storage_connection())
        )

    def rejected_messages(self) -> RejectedMessageStore:
        return self._once(
            "rejected messages",
            lambda: build_rejected_messages(
                app_config.storage_connection(),
                app_config.order_storage_names().rejected_messages_table,
            ),
        )

    def outbox_sender(self) -> OutboxSender:
        """The notification sender over the order adapters' outbox and MAIL_TRANSPORT."""

        def build() -> OutboxSender:
            mail = app_config.mail_settings()
            context = MailContext(
                sender=mail.sender,
                approvals=app_config.approval_settings(),
                signing_key=app_config.approval_signing_key,
                customer=self.claims().read,
            )
            return OutboxSender(
                self.orders().outbox,
                build_transport(mail),
                lambda row: render(row, context),
                max_attempts=mail.max_attempts,
                first_retry=timedelta(seconds=mail.first_retry_seconds),
            )

        return self._once("outbox sender", build)

    def storage_probe(self, connection: StorageConnection, timeout: float) -> BlobStorageProbe:
        """The health probe's, by the settings it reads at every request: no retries (a probe
        must answer quickly, and its caller polls again anyway) and short timeouts; kept so
        that repeated probes reuse connections and, with an identity, the token cache."""
        options = {"connection_timeout": timeout, "read_timeout": timeout, "retry_total": 0}
        return self._once(
            ("storage probe", connection, timeout),
            lambda: BlobStorageProbe(blob_service(connection, **options), timeout),
        )


root = Root()
