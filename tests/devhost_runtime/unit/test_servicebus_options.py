"""The Service Bus trigger's settings: host.json defaults and the binding's own options."""

from __future__ import annotations

import os

import azure.functions as func
import pytest

from devhost.indexing import IndexedFunction, index_functions
from devhost.servicebus.names import QueuePath
from devhost.servicebus.options import (
    HostServiceBusOptions,
    OptionsError,
    Refused,
    parse_timespan,
    trigger_binding,
)


def one_function(**trigger: object) -> IndexedFunction:
    app = func.FunctionApp()

    @app.service_bus_queue_trigger(arg_name="msg", connection="SB", **trigger)
    def fn(msg: func.ServiceBusMessage) -> None:
        pass

    return index_functions(app)[0]


def test_the_extensions_defaults() -> None:
    options = HostServiceBusOptions.from_host_json({})
    assert options.max_concurrent_calls == 16 * (os.cpu_count() or 1)
    assert options.auto_complete_messages is True
    assert options.max_auto_lock_renewal == 300


def test_host_json_values() -> None:
    options = HostServiceBusOptions.from_host_json(
        {
            "extensions": {
                "serviceBus": {
                    "maxConcurrentCalls": 4,
                    "autoCompleteMessages": False,
                    "maxAutoLockRenewalDuration": "00:10:00",
                }
            }
        }
    )
    assert (options.max_concurrent_calls, options.auto_complete_messages) == (4, False)
    assert options.max_auto_lock_renewal == 600


def test_the_old_extension_shape_is_pointed_out() -> None:
    options = HostServiceBusOptions.from_host_json(
        {"extensions": {"serviceBus": {"messageHandlerOptions": {"maxConcurrentCalls": 1}}}}
    )
    assert "messageHandlerOptions is the 4.x extension's shape" in options.warnings[0]


@pytest.mark.parametrize(
    "section",
    [
        {"maxConcurrentCalls": 0},
        {"maxConcurrentCalls": "8"},
        {"autoCompleteMessages": "yes"},
        {"maxAutoLockRenewalDuration": "5 minutes"},
    ],
)
def test_bad_host_json_values_are_errors(section: dict) -> None:
    with pytest.raises(OptionsError, match=r"extensions\.serviceBus"):
        HostServiceBusOptions.from_host_json({"extensions": {"serviceBus": section}})


def test_timespans_as_dotnet_writes_them() -> None:
    assert parse_timespan("00:05:00") == 300
    assert parse_timespan("1.02:03:04.5") == 86400 + 7384.5
    assert parse_timespan("2") == 2 * 86400  # a bare number is days in .NET
    with pytest.raises(OptionsError):
        parse_timespan("00:61:00")


def test_queue_names_and_connections_resolve_app_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDERS_QUEUE", "orders")
    binding = trigger_binding(
        one_function(queue_name="%ORDERS_QUEUE%"), HostServiceBusOptions.from_host_json({})
    )
    assert binding.path == QueuePath("orders")
    assert binding.connection == "SB" and binding.auto_complete and not binding.binary


def test_binding_options_override_host_json() -> None:
    host = HostServiceBusOptions.from_host_json(
        {"extensions": {"serviceBus": {"autoCompleteMessages": True}}}
    )
    fn = one_function(
        queue_name="orders/$deadletterqueue",
        auto_complete_messages=False,
        data_type=func.DataType.BINARY,
    )
    binding = trigger_binding(fn, host)
    assert binding.path == QueuePath("orders", dead_letter=True)
    assert binding.auto_complete is False and binding.binary is True


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ({"queue_name": "q", "cardinality": func.Cardinality.MANY}, "cardinality 'many'"),
        ({"queue_name": "q", "is_sessions_enabled": True}, "session-enabled"),
        ({"queue_name": "%NOT_SET_ANYWHERE%"}, "NOT_SET_ANYWHERE"),
        ({"queue_name": "bad name"}, "not a valid Service Bus queue name"),
    ],
)
def test_what_devhost_cannot_run_is_refused(trigger: dict, message: str) -> None:
    with pytest.raises(Refused, match=message):
        trigger_binding(one_function(**trigger), HostServiceBusOptions())


def test_settlement_from_code_is_refused() -> None:
    fn = one_function(queue_name="q", auto_complete_messages=False)
    fn.trigger["properties"] = {"SupportsDeferredBinding": True}  # what the worker adds
    with pytest.raises(Refused, match="azurefunctions-extensions-bindings-servicebus"):
        trigger_binding(fn, HostServiceBusOptions())
