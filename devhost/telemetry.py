"""Writes the hosted app's OpenTelemetry spans to a JSON-lines file, so they can be inspected.

In Azure the worker exports spans to Application Insights once the app configures an exporter;
locally there is nowhere to look. With `DEVHOST_SPANS_FILE` set, devhost installs a tracer
provider before it imports the app, so every span the app starts through opentelemetry-api is
appended to that file, one JSON object per line (the SDK's own `to_json()` shape).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

SPANS_FILE_SETTING = "DEVHOST_SPANS_FILE"

log = logging.getLogger("devhost.telemetry")


class JsonLinesSpanExporter(SpanExporter):
    """Appends each finished span to a file as one line of JSON."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(span.to_json(indent=None) + "\n" for span in spans)
        with self._lock, self._path.open("a", encoding="utf-8") as handle:
            handle.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing is buffered: every export is written at once."""


def install_span_file(environ: Mapping[str, str]) -> Path | None:
    """Route the app's spans to the file named by DEVHOST_SPANS_FILE; None when it is unset."""
    setting = environ.get(SPANS_FILE_SETTING, "").strip()
    if not setting:
        return None
    path = Path(setting).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    provider = TracerProvider(resource=Resource.create({"service.name": "devhost-app"}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
    trace.set_tracer_provider(provider)
    log.info("Spans of the app are written to %s", path)
    return path
