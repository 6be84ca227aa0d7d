"""GET /api/health: the Health Endpoint Monitoring probe for load balancers and uptime tests."""

from __future__ import annotations

import json

import azure.functions as func

import app_config
from adapters.factory import check_payment_provider, root
from domain.health import compose_report, run_check

bp = func.Blueprint()


# Settings are read inside each probe, at every request, so a bad value shows as a failed check.
def _storage() -> None:
    root.storage_probe(app_config.storage_connection(), app_config.health_timeout_seconds())()


def _payments() -> None:
    # No payment provider: orders cannot be paid for, though every other job runs.
    check_payment_provider(app_config.payment_provider())


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Anonymous on purpose: probes carry no keys. The body (domain.health.HealthReport) holds no
    secrets or stack traces."""
    checks = [run_check("storage", _storage), run_check("payments", _payments)]
    report = compose_report(app_config.app_version(), checks)
    return func.HttpResponse(
        body=json.dumps(report.dump()),
        status_code=report.http_status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )
