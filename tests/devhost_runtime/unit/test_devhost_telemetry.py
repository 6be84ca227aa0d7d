"""devhost's span file: the app's spans land in it as JSON lines; no setting, no file."""

from __future__ import annotations

import json
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from devhost.telemetry import JsonLinesSpanExporter, install_span_file


def test_each_finished_span_is_one_json_line(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    tracer = provider.get_tracer("test")
    with (
        tracer.start_as_current_span("outer", attributes={"order.id": "o-1"}),
        tracer.start_as_current_span("inner"),
    ):
        pass
    spans = [json.loads(line) for line in path.read_text().splitlines()]
    assert [s["name"] for s in spans] == ["inner", "outer"]
    assert spans[1]["attributes"] == {"order.id": "o-1"}
    assert spans[0]["parent_id"] == spans[1]["context"]["span_id"]


def test_without_the_setting_nothing_is_installed(tmp_path: Path) -> None:
    assert install_span_file({}) is None
    assert install_span_file({"DEVHOST_SPANS_FILE": "  "}) is None
