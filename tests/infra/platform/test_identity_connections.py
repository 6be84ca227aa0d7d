"""Identity-based connections as the Functions host reads them: every connection a binding of
the app names (and the host's own storage) is configured in Azure by the setting names the host
documents for a user-assigned managed identity, and never by a connection string."""

from __future__ import annotations

from typing import Any

import pytest

IDENTITY_CONNECTIONS = (
    "Learn, 'Azure Functions developer guide' (functions-reference.md), 'Configure an "
    "identity-based connection' and 'Connecting to host storage with an identity'"
)

# The setting that locates the service, by binding type (the `<connection>__...` suffix).
SERVICE_LOCATORS = {
    "blobTrigger": ("accountName", "blobServiceUri"),
    "serviceBusTrigger": ("fullyQualifiedNamespace",),
}
# The host itself, timers' schedule monitor and the Durable extension use AzureWebJobsStorage.
HOST_STORAGE = "AzureWebJobsStorage"


def _settings(templates, h, app: str = "main") -> dict[str, Any]:
    return h.app_settings(templates, app)


def _connections(app_functions: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Each connection name the app's bindings use, with the binding types that use it."""
    used: dict[str, set[str]] = {HOST_STORAGE: {"blobTrigger"}}
    for function in app_functions:
        for binding in function["bindings"]:
            if "connection" in binding:
                used.setdefault(binding["connection"], set()).add(binding["type"])
    return used


def identity_problems(connection: str, types: set[str], settings: dict[str, Any], h) -> list[str]:
    """What is missing or wrong for one connection to use the user-assigned identity."""
    problems = []
    if connection in settings:
        problems.append(f"{connection} is set: a connection string, not an identity")
    if settings.get(f"{connection}__credential") != "managedidentity":
        problems.append(f"{connection}__credential must be 'managedidentity'")
    client_id = settings.get(f"{connection}__clientId")
    if client_id is None or h.accessor(client_id)[-1:] != ("clientId",):
        problems.append(f"{connection}__clientId must be the user-assigned identity's client id")
    for binding_type in types:
        locators = SERVICE_LOCATORS.get(binding_type, ())
        if locators and not any(f"{connection}__{name}" in settings for name in locators):
            options = " or ".join(f"{connection}__{name}" for name in locators)
            problems.append(f"{binding_type} needs {options}")
    return problems


@pytest.mark.parametrize("app", ["main", "express"])
def test_every_connection_the_app_uses_is_identity_based_in_azure(
    templates, h, functions_by_app, app
):
    """Every `connection` of each app's bindings (the main app's and the express app's), and
    host storage, has `__credential`, `__clientId` and its service's locator setting
    (`__accountName` / `__blobServiceUri` for storage, `__fullyQualifiedNamespace` for Service
    Bus), and no plain connection string.
    Source: Learn, functions-reference.md, 'Configure an identity-based connection' and
    'Connecting to host storage with an identity'; Service Bus bindings, 'Identity-based
    connections' (functions-bindings-service-bus.md)."""
    settings = _settings(templates, h, app)
    connections = _connections(functions_by_app[app])
    assert "ServiceBusConnection" in connections
    problems = [
        f"{name}: {problem}"
        for name, types in sorted(connections.items())
        for problem in identity_problems(name, types, settings, h)
    ]
    assert not problems, "\n".join(problems)


def test_the_identity_check_names_what_is_missing(h):
    """The check above reports a connection string, a missing credential and a missing locator,
    so its passing means the settings are there.
    Source: Learn, functions-reference.md, 'Configure an identity-based connection'."""
    settings = {
        "ServiceBusConnection": "Endpoint=sb://x/;SharedAccessKeyName=a",
        "ServiceBusConnection__clientId": {
            "operator": {
                "type": "property_accessor",
                "operands": {"operand_1": "identity", "operand_2": "clientId"},
            }
        },
    }
    problems = identity_problems("ServiceBusConnection", {"serviceBusTrigger"}, settings, h)
    assert len(problems) == 3
    assert any("connection string" in p for p in problems)
    assert any("__credential" in p for p in problems)
    assert any("__fullyQualifiedNamespace" in p for p in problems)


@pytest.mark.parametrize(
    ("app", "identity"), [("main", "identity"), ("express", "expressIdentity")]
)
def test_application_insights_authenticates_with_the_user_assigned_identity(
    templates, h, app, identity
):
    """With local auth off, Application Insights ingestion uses Entra ID:
    `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` is `Authorization=AAD;ClientId=<client id>` for
    a user-assigned identity (each app's own), and no instrumentation key setting is used.
    Source: Learn, functions-app-settings.md, 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'."""
    settings = _settings(templates, h, app)
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "Authorization=AAD;ClientId=${" + identity + ".properties.clientId}"
    )
    assert "APPINSIGHTS_INSTRUMENTATIONKEY" not in settings
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in settings
