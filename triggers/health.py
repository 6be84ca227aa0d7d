"""GET /api/health: the Health Endpoint Monitoring probe for load balancers and uptime tests."""

from __future__ import annotations

import json

import azure.functions as func

import app_config
from adapters.storage_probe import storage_probe
from domain.health import HealthCheck, compose_report, run_check

bp = func.Blueprint()


def _check_storage() -> tuple[str, HealthCheck]:
    def probe() -> None:
        # Settings are read inside the probe so that a bad value shows up as a failed check.
        timeout = app_config.health_timeout_seconds()
        storage_probe(app_config.storage_connection(), timeout)()

    return run_check("storage", probe)


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Anonymous on purpose: probes carry no keys. The body (domain.health.HealthReport) holds no
    secrets or stack traces."""
    report = compose_report(app_config.app_version(), [_check_storage()])
    return func.HttpResponse(
        body=json.dumps(report.dump()),
        status_code=report.http_status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )
