"""Resolves a binding's `connection` to storage or Service Bus clients, as the host does.

A setting `<NAME>` (or `AzureWebJobs<NAME>`) holds a connection string; otherwise identity
settings `<NAME>__accountName`, `<NAME>__blobServiceUri` (queue/table likewise),
`<NAME>__fullyQualifiedNamespace`, with `<NAME>__credential`, `<NAME>__clientId`,
`<NAME>__tenantId` and `<NAME>__clientSecret` choosing an azure-identity credential. A Service
Bus connection string for the Service Bus emulator (`UseDevelopmentEmulator=true`) selects
devhost's stand-in, since the emulator cannot run where devhost does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from devhost.azurite import DEV_STORAGE_CONNECTION_STRING

DEFAULT_STORAGE = "AzureWebJobsStorage"
DEFAULT_SERVICE_BUS = "AzureWebJobsServiceBus"


class ConnectionNotConfigured(LookupError):
    """A binding's connection is not configured; the message names what to set."""


def _lookup(env: Mapping[str, str], name: str) -> str | None:
    for candidate in (name, f"AzureWebJobs{name}"):
        value = env.get(candidate)
        if value:
            return value
    return None


def _prefixed(env: Mapping[str, str], name: str, suffix: str) -> str | None:
    for candidate in (name, f"AzureWebJobs{name}"):
        value = env.get(f"{candidate}__{suffix}")
        if value:
            return value
    return None


def _credential(env: Mapping[str, str], name: str) -> Any:
    """The azure-identity credential an identity-based connection asks for."""
    from azure.identity import (
        ClientSecretCredential,
        DefaultAzureCredential,
        ManagedIdentityCredential,
    )

    kind = (_prefixed(env, name, "credential") or "").lower()
    client_id = _prefixed(env, name, "clientId")
    tenant_id = _prefixed(env, name, "tenantId")
    secret = _prefixed(env, name, "clientSecret")
    if kind == "managedidentity":
        return ManagedIdentityCredential(client_id=client_id)
    if tenant_id and client_id and secret:
        return ClientSecretCredential(tenant_id, client_id, secret)
    return DefaultAzureCredential(managed_identity_client_id=client_id)


@dataclass(frozen=True)
class StorageConnection:
    """Where a storage connection points and how to authenticate."""

    name: str
    connection_string: str | None = None
    blob_url: str | None = None
    queue_url: str | None = None
    table_url: str | None = None
    credential: Any = field(default=None, repr=False)

    @property
    def is_development_storage(self) -> bool:
        return self.connection_string == DEV_STORAGE_CONNECTION_STRING

    def blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string)
        url = self._require(self.blob_url, "blob")
        return BlobServiceClient(url, credential=self.credential)

    def queue_service(self) -> Any:
        from azure.storage.queue import QueueServiceClient

        if self.connection_string:
            return QueueServiceClient.from_connection_string(self.connection_string)
        return QueueServiceClient(
            self._require(self.queue_url, "queue"), credential=self.credential
        )

    def table_service(self) -> Any:
        from azure.data.tables import TableServiceClient

        if self.connection_string:
            return TableServiceClient.from_connection_string(self.connection_string)
        return TableServiceClient(
            self._require(self.table_url, "table"), credential=self.credential
        )

    def _require(self, url: str | None, service: str) -> str:
        if not url:
            raise ConnectionNotConfigured(
                f"connection '{self.name}' has no {service} endpoint: set "
                f"{self.name}__accountName or {self.name}__{service}ServiceUri"
            )
        return url


def resolve_storage(
    name: str | None = None, environ: Mapping[str, str] | None = None
) -> StorageConnection:
    env = os.environ if environ is None else environ
    name = name or DEFAULT_STORAGE
    value = _lookup(env, name)
    if value:
        if value.strip().lower() == "usedevelopmentstorage=true":
            value = DEV_STORAGE_CONNECTION_STRING
        return StorageConnection(name, connection_string=value)
    account = _prefixed(env, name, "accountName")
    blob = _prefixed(env, name, "blobServiceUri") or _prefixed(env, name, "serviceUri")
    queue = _prefixed(env, name, "queueServiceUri")
    table = _prefixed(env, name, "tableServiceUri")
    if account:
        blob = blob or f"https://{account}.blob.core.windows.net"
        queue = queue or f"https://{account}.queue.core.windows.net"
        table = table or f"https://{account}.table.core.windows.net"
    if not (blob or queue or table):
        raise ConnectionNotConfigured(
            f"storage connection '{name}' is not configured: set {name} to a connection "
            f"string, or {name}__accountName / {name}__blobServiceUri for an identity"
        )
    return StorageConnection(name, None, blob, queue, table, _credential(env, name))


@dataclass(frozen=True)
class ServiceBusConnection:
    """A Service Bus namespace, or None of it: the local stand-in is used instead."""

    name: str
    connection_string: str | None = None
    fully_qualified_namespace: str | None = None
    credential: Any = field(default=None, repr=False)


def is_development_emulator(connection_string: str) -> bool:
    """True for a connection string with `UseDevelopmentEmulator=true` (key and value in any case).

    The Service Bus SDKs read this key to talk to Microsoft's emulator without TLS; devhost
    sends such connections to its stand-in instead. Malformed pairs are skipped, not refused:
    deciding where to send is not the place to validate the rest of the string.
    """
    for pair in connection_string.split(";"):
        key, sep, value = pair.partition("=")
        if sep and key.strip().lower() == "usedevelopmentemulator":
            return value.strip().lower() == "true"
    return False


def resolve_service_bus(
    name: str | None = None, environ: Mapping[str, str] | None = None
) -> ServiceBusConnection | None:
    """The configured namespace, or None when devhost should use its Azurite stand-in.

    None when the setting is unset or is the Service Bus emulator's connection string.
    """
    env = os.environ if environ is None else environ
    name = name or DEFAULT_SERVICE_BUS
    value = _lookup(env, name)
    if value:
        if is_development_emulator(value):
            return None
        return ServiceBusConnection(name, connection_string=value)
    namespace = _prefixed(env, name, "fullyQualifiedNamespace")
    if namespace:
        return ServiceBusConnection(name, None, namespace, _credential(env, name))
    return None
