"""The order workflow's settings: local defaults, and loud failures for bad values."""

from __future__ import annotations

import pytest

import app_config


def test_defaults() -> None:
    assert app_config.approval_threshold_cents({}) == 100_000
    assert app_config.approval_escalation_hours({}) == 24
    assert app_config.approval_timeout_hours({}) == 72
    assert app_config.rejected_messages_table({}) == "rejectedmessages"


def test_values_from_the_environment() -> None:
    env = {
        "ORDER_APPROVAL_THRESHOLD_CENTS": "0",
        "ORDER_APPROVAL_ESCALATION_HOURS": "0.5",
        "ORDER_APPROVAL_TIMEOUT_HOURS": "2",
        "REJECTED_MESSAGES_TABLE": "rejectedorders",
    }
    assert app_config.approval_threshold_cents(env) == 0
    assert app_config.approval_escalation_hours(env) == 0.5
    assert app_config.approval_timeout_hours(env) == 2
    assert app_config.rejected_messages_table(env) == "rejectedorders"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORDER_APPROVAL_THRESHOLD_CENTS", "-1"),
        ("ORDER_APPROVAL_THRESHOLD_CENTS", "lots"),
        ("ORDER_APPROVAL_ESCALATION_HOURS", "0"),
        ("ORDER_APPROVAL_TIMEOUT_HOURS", "never"),
    ],
)
def test_bad_values_fail_loudly(name: str, value: str) -> None:
    read = {
        "ORDER_APPROVAL_THRESHOLD_CENTS": app_config.approval_threshold_cents,
        "ORDER_APPROVAL_ESCALATION_HOURS": app_config.approval_escalation_hours,
        "ORDER_APPROVAL_TIMEOUT_HOURS": app_config.approval_timeout_hours,
    }[name]
    with pytest.raises(ValueError, match=name):
        read({name: value})


def test_table_endpoint() -> None:
    assert app_config.table_service_uri({}) is None  # Azurite: the connection string says
    assert (
        app_config.table_service_uri({"AzureWebJobsStorage__accountName": "acct"})
        == "https://acct.table.core.windows.net"
    )
    blob = {"AzureWebJobsStorage__blobServiceUri": "https://acct.blob.core.windows.net"}
    assert app_config.table_service_uri(blob) == "https://acct.table.core.windows.net"
    explicit = {**blob, "AzureWebJobsStorage__tableServiceUri": "https://t.example"}
    assert app_config.table_service_uri(explicit) == "https://t.example"


def test_the_approval_signing_key_is_required_and_long_enough() -> None:
    from app_config import approval_signing_key

    assert approval_signing_key({}) is None
    assert approval_signing_key({"APPROVAL_SIGNING_KEY": "too-short"}) is None
    assert approval_signing_key({"APPROVAL_SIGNING_KEY": "k" * 32}) == "k" * 32
    unresolved = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/approval/)"
    assert approval_signing_key({"APPROVAL_SIGNING_KEY": unresolved}) is None


def test_service_bus_settings_take_a_connection_string_or_an_identity() -> None:
    emulator = "Endpoint=sb://localhost;SharedAccessKeyName=k;SharedAccessKey=v;UseDevelopmentEmulator=true;"
    local = app_config.service_bus_settings({"ServiceBusConnection": emulator})
    assert local.connection_string == emulator and emulator not in repr(local)
    identity = app_config.service_bus_settings(
        {
            "ServiceBusConnection__fullyQualifiedNamespace": "ns.servicebus.windows.net",
            "ServiceBusConnection__clientId": "client-1",
        }
    )
    assert identity.connection_string is None
    assert identity.fully_qualified_namespace == "ns.servicebus.windows.net"
    assert identity.client_id == "client-1"
    with pytest.raises(ValueError, match="fullyQualifiedNamespace"):
        app_config.service_bus_settings({})


def test_result_channels_default_to_the_declared_entities_and_check_settings() -> None:
    channels = app_config.result_channels({})
    assert (channels.events_topic, channels.reply_queue) == ("order-events", "replies")
    assert channels.reply_queues == frozenset({"replies"})
    assert channels.status_table == "jobstatus"
    listed = app_config.result_channels({"REPLY_QUEUES": "replies, partner-replies"})
    assert listed.reply_queues == frozenset({"replies", "partner-replies"})
    with pytest.raises(ValueError, match="REPLY_QUEUE"):
        app_config.result_channels({"REPLY_QUEUE": "other", "REPLY_QUEUES": "replies"})
    with pytest.raises(ValueError, match="JOB_STATUS_TABLE"):
        app_config.result_channels({"JOB_STATUS_TABLE": "no-dashes"})
