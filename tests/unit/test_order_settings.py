"""The order workflow's settings: local defaults, and loud failures for bad values."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import app_config


def test_defaults() -> None:
    approval = app_config.approval_policy({})
    assert approval.threshold_cents == 100_000
    assert approval.escalate_after == timedelta(hours=24)
    assert approval.timeout == timedelta(hours=72)
    assert app_config.order_storage_names({}).rejected_messages_table == "rejectedmessages"
    assert app_config.payment_provider({}) is None  # no default: nothing simulates unasked


def test_values_from_the_environment() -> None:
    env = {
        "ORDER_APPROVAL_THRESHOLD_CENTS": "0",
        "ORDER_APPROVAL_ESCALATION_HOURS": "0.5",
        "ORDER_APPROVAL_TIMEOUT_HOURS": "2",
        "REJECTED_MESSAGES_TABLE": "rejectedorders",
        "PAYMENT_PROVIDER": " Simulated ",
    }
    approval = app_config.approval_policy(env)
    assert approval.threshold_cents == 0
    assert approval.escalate_after == timedelta(minutes=30)
    assert approval.timeout == timedelta(hours=2)
    assert app_config.order_storage_names(env).rejected_messages_table == "rejectedorders"
    assert app_config.payment_provider(env) == "simulated"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORDER_APPROVAL_THRESHOLD_CENTS", "-1"),
        ("ORDER_APPROVAL_THRESHOLD_CENTS", "lots"),
        ("ORDER_APPROVAL_THRESHOLD_CENTS", "2.5"),
        ("ORDER_APPROVAL_ESCALATION_HOURS", "0"),
        ("ORDER_APPROVAL_TIMEOUT_HOURS", "never"),
        ("REJECTED_MESSAGES_TABLE", "rejected-messages"),
    ],
)
def test_bad_values_fail_loudly(name: str, value: str) -> None:
    read = app_config.order_storage_names if name.endswith("_TABLE") else app_config.approval_policy
    with pytest.raises(ValueError, match=name):
        read({name: value})


def test_table_endpoint() -> None:
    def table_uri(env: dict[str, str]) -> str | None:
        return app_config.storage_connection(env).table_service_uri

    assert table_uri({}) is None  # Azurite: the connection string says
    assert table_uri({"AzureWebJobsStorage__accountName": "acct"}) == (
        "https://acct.table.core.windows.net"
    )
    blob = {"AzureWebJobsStorage__blobServiceUri": "https://acct.blob.core.windows.net"}
    assert table_uri(blob) == "https://acct.table.core.windows.net"
    explicit = {**blob, "AzureWebJobsStorage__tableServiceUri": "https://t.example"}
    assert table_uri(explicit) == "https://t.example"


@pytest.mark.parametrize("read", [app_config.approval_signing_key, app_config.webhook_signing_key])
def test_signing_keys_are_required_long_enough_and_resolved(read: Any) -> None:
    """Both keys fail the same way: a ValueError naming the setting, never quoting the value."""
    setting = read.__name__.upper()
    assert read({setting: "k" * 32}) == b"k" * 32
    unresolved = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/approval/)"
    for value, problem in (
        (None, "is not set"),
        ("too-short", "at least 32 bytes"),
        (unresolved, "unresolved Key Vault reference"),
    ):
        env = {} if value is None else {setting: value}
        with pytest.raises(ValueError, match=f"{setting} .*{problem}") as raised:
            read(env)
        assert "too-short" not in str(raised.value)


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
