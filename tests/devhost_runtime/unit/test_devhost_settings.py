"""Unit tests for devhost.settings: local.settings.json and host.json read as Core Tools does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devhost.settings import (
    HostOptions,
    SettingsError,
    apply_local_settings,
    load_host_options,
    load_local_settings,
    resolve_app_setting_expression,
    strip_json_comments,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def host_json(app_dir: Path, durable: dict[str, Any] | None = None, **extensions: Any) -> Path:
    if durable is not None:
        extensions["durableTask"] = durable
    return write_json(app_dir / "host.json", {"version": "2.0", "extensions": extensions})


# -- local.settings.json ---------------------------------------------------------------------


def test_missing_local_settings_gives_no_values(tmp_path: Path) -> None:
    assert load_local_settings(tmp_path) == {}


def test_values_are_read_as_strings(tmp_path: Path) -> None:
    write_json(
        tmp_path / "local.settings.json",
        {
            "IsEncrypted": False,
            "Values": {"FUNCTIONS_WORKER_RUNTIME": "python", "RETRIES": 3, "EMPTY": None},
            "ConnectionStrings": {"Db": "ignored"},
        },
    )
    assert load_local_settings(tmp_path) == {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "RETRIES": "3",
        "EMPTY": "",
    }


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_bytes(b'\xef\xbb\xbf{"Values": {"A": "1"}}')
    assert load_local_settings(tmp_path) == {"A": "1"}


def test_local_settings_without_values_section(tmp_path: Path) -> None:
    write_json(tmp_path / "local.settings.json", {"IsEncrypted": False})
    assert load_local_settings(tmp_path) == {}


def test_invalid_local_settings_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text('{"Values": {"A": "1"', encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid JSON") as caught:
        load_local_settings(tmp_path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("content", ["[]", '"text"', "42"])
def test_local_settings_must_be_an_object(tmp_path: Path, content: str) -> None:
    (tmp_path / "local.settings.json").write_text(content, encoding="utf-8")
    with pytest.raises(SettingsError, match="JSON object"):
        load_local_settings(tmp_path)


@pytest.mark.parametrize("values", [["A=1"], "A=1", None])
def test_values_must_be_an_object(tmp_path: Path, values: Any) -> None:
    write_json(tmp_path / "local.settings.json", {"Values": values})
    with pytest.raises(SettingsError, match="'Values' must be an object"):
        load_local_settings(tmp_path)


def test_a_file_that_is_not_utf8_is_a_settings_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_bytes(b'{"Values": {"A": "\xff\xfe"}}')
    with pytest.raises(SettingsError) as caught:
        load_local_settings(tmp_path)
    assert str(path) in str(caught.value)


def test_apply_sets_values_that_are_not_in_the_environment() -> None:
    environ = {"PATH": "/bin"}
    skipped = apply_local_settings({"A": "1", "B": "2"}, environ)
    assert environ == {"PATH": "/bin", "A": "1", "B": "2"}
    assert skipped == []


def test_a_variable_already_set_wins() -> None:
    environ = {"A": "from-shell"}
    skipped = apply_local_settings({"A": "from-file", "C": "3"}, environ)
    assert environ == {"A": "from-shell", "C": "3"}
    assert skipped == ["A"]


def test_a_variable_set_to_the_empty_string_does_not_block_the_file() -> None:
    # Core Tools checks string.IsNullOrEmpty, so an empty variable counts as unset.
    environ = {"B": ""}
    assert apply_local_settings({"B": "from-file"}, environ) == []
    assert environ == {"B": "from-file"}


def test_apply_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVHOST_SETTINGS_TEST_NEW", raising=False)
    monkeypatch.setenv("DEVHOST_SETTINGS_TEST_SET", "shell")
    skipped = apply_local_settings(
        {"DEVHOST_SETTINGS_TEST_NEW": "file", "DEVHOST_SETTINGS_TEST_SET": "file"}
    )
    try:
        assert os.environ["DEVHOST_SETTINGS_TEST_NEW"] == "file"
        assert os.environ["DEVHOST_SETTINGS_TEST_SET"] == "shell"
        assert skipped == ["DEVHOST_SETTINGS_TEST_SET"]
    finally:
        os.environ.pop("DEVHOST_SETTINGS_TEST_NEW", None)


# -- host.json -------------------------------------------------------------------------------


def test_missing_host_json_gives_the_host_defaults(tmp_path: Path) -> None:
    options = load_host_options(tmp_path)
    assert options == HostOptions()
    assert options.route_prefix == "api"
    assert options.durable.hub_name == "TestHubName"
    cpus = os.cpu_count() or 1
    assert options.durable.max_concurrent_activities == 10 * cpus
    assert options.durable.max_concurrent_orchestrators == 10 * cpus


@pytest.mark.parametrize(
    ("prefix", "expected"), [("v1", "v1"), ("/v1/", "v1"), ("", ""), ("a/b", "a/b")]
)
def test_route_prefix(tmp_path: Path, prefix: str, expected: str) -> None:
    host_json(tmp_path, http={"routePrefix": prefix})
    assert load_host_options(tmp_path).route_prefix == expected


@pytest.mark.parametrize("prefix", [5, None, ["v1"]])
def test_route_prefix_must_be_a_string(tmp_path: Path, prefix: Any) -> None:
    host_json(tmp_path, http={"routePrefix": prefix})
    with pytest.raises(SettingsError, match="routePrefix"):
        load_host_options(tmp_path)


def test_durable_task_settings(tmp_path: Path) -> None:
    host_json(
        tmp_path,
        durable={
            "hubName": "OrdersHub",
            "maxConcurrentActivityFunctions": 3,
            "maxConcurrentOrchestratorFunctions": 4,
        },
    )
    options = load_host_options(tmp_path)
    assert options.durable.hub_name == "OrdersHub"
    assert options.durable.max_concurrent_activities == 3
    assert options.durable.max_concurrent_orchestrators == 4
    assert options.raw["extensions"]["durableTask"]["hubName"] == "OrdersHub"


def test_hub_name_from_an_app_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MyTaskHub", "FromSetting")
    host_json(tmp_path, durable={"hubName": "%MyTaskHub%"})
    assert load_host_options(tmp_path).durable.hub_name == "FromSetting"


def test_hub_name_from_a_missing_app_setting_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NoSuchHubSetting", raising=False)
    host_json(tmp_path, durable={"hubName": "%NoSuchHubSetting%"})
    with pytest.raises(SettingsError, match="NoSuchHubSetting"):
        load_host_options(tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"), [("plain", "plain"), ("%", "%"), ("%%", "%%"), ("50%", "50%")]
)
def test_values_without_a_whole_setting_reference_are_kept(value: str, expected: str) -> None:
    assert resolve_app_setting_expression(value) == expected


@pytest.mark.parametrize(
    "key", ["maxConcurrentActivityFunctions", "maxConcurrentOrchestratorFunctions"]
)
@pytest.mark.parametrize("value", [0, -1, "5", 2.5, True, None])
def test_max_concurrency_must_be_a_positive_integer(tmp_path: Path, key: str, value: Any) -> None:
    host_json(tmp_path, durable={key: value})
    with pytest.raises(SettingsError, match=key):
        load_host_options(tmp_path)


def test_invalid_host_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "host.json"
    path.write_text('{"version": "2.0"}{"version": "2.0"}', encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid JSON") as caught:
        load_host_options(tmp_path)
    assert str(path) in str(caught.value)


def test_comments_in_host_json_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(
        '{\n  // local only\n  "version": "2.0",\n'
        '  "extensions": {"http": {"routePrefix": /* no api */ "v1"}}\n}\n',
        encoding="utf-8",
    )
    assert load_host_options(tmp_path).route_prefix == "v1"


def test_host_json_must_be_an_object(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text("[]", encoding="utf-8")
    with pytest.raises(SettingsError, match="JSON object"):
        load_host_options(tmp_path)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"version": "2.0", "extensions": []}, id="extensions-list"),
        pytest.param({"version": "2.0", "extensions": {"http": "v1"}}, id="http-string"),
        pytest.param({"version": "2.0", "extensions": {"durableTask": 1}}, id="durable-int"),
    ],
)
def test_host_json_sections_must_be_objects(tmp_path: Path, raw: dict[str, Any]) -> None:
    write_json(tmp_path / "host.json", raw)
    with pytest.raises(SettingsError):
        load_host_options(tmp_path)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"extensions": {}}, id="no-version"),
        pytest.param({"version": "3.0"}, id="version-3"),
    ],
)
def test_host_json_version_must_be_2_0(tmp_path: Path, raw: dict[str, Any]) -> None:
    write_json(tmp_path / "host.json", raw)
    with pytest.raises(SettingsError, match="version"):
        load_host_options(tmp_path)


@pytest.mark.parametrize(
    "hub",
    ["my-hub", "ab", "1hub", "h" * 51, "hub_name"],
    ids=["hyphen", "too-short", "leading-digit", "too-long", "underscore"],
)
def test_invalid_task_hub_names_are_rejected(tmp_path: Path, hub: str) -> None:
    host_json(tmp_path, durable={"hubName": hub})
    with pytest.raises(SettingsError, match="hubName"):
        load_host_options(tmp_path)


def test_valid_task_hub_names_are_accepted(tmp_path: Path) -> None:
    for hub in ("abc", "OrdersHub2", "h" * 45):
        host_json(tmp_path, durable={"hubName": hub})
        assert load_host_options(tmp_path).durable.hub_name == hub


def test_an_empty_host_json_is_the_default_one(tmp_path: Path) -> None:
    # The host rewrites an empty host.json as {"version": "2.0"} instead of refusing it.
    (tmp_path / "host.json").write_text("{}", encoding="utf-8")
    assert load_host_options(tmp_path) == HostOptions()


@pytest.mark.parametrize(
    ("version", "needle"),
    [
        (None, "missing the required 'version'"),
        ("", "missing the required 'version'"),
        (2.0, "'2.0' is an invalid value"),
        ("3.0", "not the Functions runtime version"),
        (" 2.0", "' 2.0' is an invalid value"),
    ],
)
def test_host_json_version_errors_say_what_is_wrong(
    tmp_path: Path, version: Any, needle: str
) -> None:
    write_json(tmp_path / "host.json", {"version": version, "logging": {}})
    with pytest.raises(SettingsError, match=re.escape(needle)) as caught:
        load_host_options(tmp_path)
    assert str(tmp_path / "host.json") in str(caught.value)


def test_a_section_error_names_the_section(tmp_path: Path) -> None:
    write_json(tmp_path / "host.json", {"version": "2.0", "extensions": {"http": ["v1"]}})
    with pytest.raises(SettingsError, match=r"extensions\.http must be a JSON object"):
        load_host_options(tmp_path)


def test_null_sections_are_absent_sections(tmp_path: Path) -> None:
    write_json(tmp_path / "host.json", {"version": "2.0", "extensions": {"http": None}})
    assert load_host_options(tmp_path).route_prefix == "api"


def test_a_file_that_is_not_utf8_is_an_error_for_host_json_too(tmp_path: Path) -> None:
    path = tmp_path / "host.json"
    path.write_bytes(b'{"version": "2.0", "x": "\xe9"}')
    with pytest.raises(SettingsError, match="not valid UTF-8 text") as caught:
        load_host_options(tmp_path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_a_byte_order_mark_selects_the_encoding(tmp_path: Path, encoding: str) -> None:
    # File.ReadAllText honours UTF-8, UTF-16 and UTF-32 byte order marks.
    text = '{"Values": {"GREETING": "gr\u00fc\u00df dich"}}'
    bom = b"\xfe\xff" if encoding == "utf-16-be" else b""
    (tmp_path / "local.settings.json").write_bytes(bom + text.encode(encoding))
    assert load_local_settings(tmp_path) == {"GREETING": "gr\u00fc\u00df dich"}


def test_comments_in_local_settings_json_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text(
        '{\n  "Values": {\n    // the worker\n    "FUNCTIONS_WORKER_RUNTIME": "python", /* x */\n'
        '    "URL": "http://localhost:10000/devstoreaccount1" // a // inside a string stays\n'
        "  }\n}\n",
        encoding="utf-8",
    )
    assert load_local_settings(tmp_path) == {
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "URL": "http://localhost:10000/devstoreaccount1",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": "// not a comment"}', '{"a": "// not a comment"}'),
        ('{"a": "/* not */ a comment"}', '{"a": "/* not */ a comment"}'),
        ('{"a": "quote \\" // still a string"}', '{"a": "quote \\" // still a string"}'),
        ('{"a": "ends with backslash \\\\"} // c', '{"a": "ends with backslash \\\\"}     '),
        ('{/* multi\nline */"a": 1}', '{        \n       "a": 1}'),
        ('{"a": 1} /* * / ** */', '{"a": 1}' + " " * len(" /* * / ** */")),
        ('{"a": 1}\r\n// last', '{"a": 1}\r\n       '),
    ],
)
def test_strip_json_comments_respects_strings_and_escapes(text: str, expected: str) -> None:
    assert strip_json_comments(text) == expected
    assert json.loads(strip_json_comments(text)) == json.loads(expected)


def test_an_unterminated_comment_is_invalid_json(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"version": "2.0"}\n/* open', encoding="utf-8")
    with pytest.raises(SettingsError, match="unterminated /\\* comment starting on line 2"):
        load_host_options(tmp_path)


def test_hub_names_are_not_checked_for_other_storage_providers(tmp_path: Path) -> None:
    host_json(tmp_path, durable={"hubName": "my-hub", "storageProvider": {"type": "mssql"}})
    assert load_host_options(tmp_path).durable.hub_name == "my-hub"
    host_json(tmp_path, durable={"hubName": "my-hub", "storageProvider": {"type": "azureStorage"}})
    with pytest.raises(SettingsError, match="hubName"):
        load_host_options(tmp_path)


def test_a_hub_name_from_an_app_setting_is_checked_after_resolving(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MyTaskHub", "bad-name")
    host_json(tmp_path, durable={"hubName": "%MyTaskHub%"})
    with pytest.raises(SettingsError, match="'bad-name'"):
        load_host_options(tmp_path)


@pytest.mark.parametrize("hub", [5, ["Hub"], ""])
def test_hub_name_must_be_a_non_empty_string(tmp_path: Path, hub: Any) -> None:
    host_json(tmp_path, durable={"hubName": hub})
    with pytest.raises(SettingsError, match="hubName"):
        load_host_options(tmp_path)


@pytest.mark.parametrize("value", ["true", 1, 0, "false"])
def test_store_inputs_in_history_must_be_a_json_boolean(tmp_path: Path, value: Any) -> None:
    host_json(tmp_path, durable={"storeInputsInOrchestrationHistory": value})
    with pytest.raises(SettingsError, match="storeInputsInOrchestrationHistory"):
        load_host_options(tmp_path)


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), (None, False)])
def test_store_inputs_in_history(tmp_path: Path, value: Any, expected: bool) -> None:
    host_json(tmp_path, durable={"storeInputsInOrchestrationHistory": value})
    assert load_host_options(tmp_path).durable.store_inputs_in_history is expected


# -- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_name", "content", "needle"),
    [
        pytest.param("host.json", '{"extensions": {}}', "'version'", id="host-json-version"),
        pytest.param("host.json", "{", "not valid JSON", id="host-json-syntax"),
        pytest.param("local.settings.json", b"\xff", "not valid UTF-8", id="local-not-utf8"),
    ],
)
def test_cli_reports_a_settings_error_and_exits_1(
    tmp_path: Path, file_name: str, content: str | bytes, needle: str
) -> None:
    app = tmp_path / "app"
    app.mkdir()
    path = app / file_name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    state = tmp_path / "state"
    command = ["-m", "devhost", "start", str(app), "--no-azurite", "--state-dir", str(state)]
    result = subprocess.run(
        [sys.executable, *command],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "devhost could not start: " in result.stdout
    assert str(path) in result.stdout
    assert needle in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
