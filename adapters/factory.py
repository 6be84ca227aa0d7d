"""The composition root of the order workflow: builds every adapter from app_config, once.

Activities ask `order_adapters()` for their adapters; tests call `build_order_adapters()` with
their own connection, storage names and fault hook. Tables and the private container are
created on first use (idempotent), so a fresh Azurite or a new account needs no setup step;
in Azure, Bicep provisions them as well and the identity needs only data-plane roles.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient

import app_config
from adapters.claim_check import ClaimCheckStore
from adapters.faults import FaultHook, no_fault
from adapters.messaging import ServiceBusPublisher
from adapters.notifications import NotificationOutbox
from adapters.order_store import OrderStore
from adapters.payments import LedgerPaymentProvider, PaymentPort
from adapters.shipping import LocalCarrier, ShippingPort
from adapters.status_records import StatusRecords
from adapters.stock import StockStore
from app_config import OrderStorageNames, ResultChannels, StorageConnection

if TYPE_CHECKING:
    from azure.identity import DefaultAzureCredential


@dataclass(frozen=True)
class OrderAdapters:
    """Everything the order activities touch."""

    orders: OrderStore
    stock: StockStore
    payments: PaymentPort
    shipping: ShippingPort
    outbox: NotificationOutbox
    claims: ClaimCheckStore


def _credential(connection: StorageConnection) -> DefaultAzureCredential:
    # Imported here so that apps running on a connection string (local Azurite) skip its cost.
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=connection.managed_identity_client_id)


def table_service(connection: StorageConnection, table_uri: str | None) -> TableServiceClient:
    if connection.connection_string is not None:
        return TableServiceClient.from_connection_string(connection.connection_string)
    if not table_uri:
        raise ValueError(
            "no Table endpoint: set AzureWebJobsStorage__tableServiceUri or __accountName"
        )
    return TableServiceClient(table_uri, credential=_credential(connection))


def blob_service(connection: StorageConnection) -> BlobServiceClient:
    if connection.connection_string is not None:
        return BlobServiceClient.from_connection_string(connection.connection_string)
    return BlobServiceClient(connection.blob_service_uri or "", credential=_credential(connection))


def build_order_adapters(
    connection: StorageConnection,
    names: OrderStorageNames,
    *,
    table_uri: str | None = None,
    fault: FaultHook = no_fault,
) -> OrderAdapters:
    tables = table_service(connection, table_uri)
    container = blob_service(connection).get_container_client(names.claim_check_container)
    with suppress(ResourceExistsError):
        container.create_container()  # private: no public access level is ever set

    def table(name: str) -> TableClient:
        return tables.create_table_if_not_exists(name)

    return OrderAdapters(
        orders=OrderStore(table(names.orders_table), fault=fault),
        stock=StockStore(table(names.stock_table), fault=fault),
        # The seam for a real provider: construct it here instead (see adapters/payments.py).
        payments=LedgerPaymentProvider(table(names.payments_table), fault=fault),
        shipping=LocalCarrier(table(names.shipments_table), fault=fault),
        outbox=NotificationOutbox(table(names.outbox_table), fault=fault),
        claims=ClaimCheckStore(container, fault=fault),
    )


@lru_cache(maxsize=1)
def order_adapters() -> OrderAdapters:
    """The app's adapters, built on first use from the environment and shared afterwards."""
    return build_order_adapters(
        app_config.storage_connection(),
        app_config.order_storage_names(),
        table_uri=app_config.table_service_uri(),
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
    table_uri: str | None = None,
    fault: FaultHook = no_fault,
) -> ResultAdapters:
    table = table_service(connection, table_uri).create_table_if_not_exists(channels.status_table)
    return ResultAdapters(StatusRecords(table, fault=fault), publisher, channels)


@lru_cache(maxsize=1)
def result_adapters() -> ResultAdapters:
    """The result publishers, built on first use from the environment and shared afterwards."""
    return build_result_adapters(
        app_config.storage_connection(),
        app_config.result_channels(),
        ServiceBusPublisher(app_config.service_bus_settings()),
        table_uri=app_config.table_service_uri(),
    )
