"""The Azurite names and settings the batch_jobs recording app runs on, and its report and
claim-check stores, so the nightly report and retention suites seed exactly what they record."""

from __future__ import annotations

from pathlib import Path

from adapters.claim_check import ClaimCheckStore
from adapters.factory import ReportAdapters, build_order_adapters, build_report_adapters
from adapters.payments import SIMULATED
from app_config import StorageConnection, order_storage_names
from devhost.azurite import Azurite

APP = Path(__file__).resolve().parent / "apps" / "batch_jobs"
# Fixed names: every recording starts on a fresh Azurite, and the names travel in the
# histories (write_report's blob names), so a re-recording must use the same ones.
SETTINGS = {
    "ORDERS_TABLE": "histories",
    "REPORTS_CONTAINER": "reports",
    "CLAIM_CHECK_CONTAINER": "private",
}


def env(folder: Path, azurite: Azurite | None) -> dict[str, str]:
    if azurite is None:
        raise ValueError("the batch_jobs app needs Azurite")
    return {"AzureWebJobsStorage": azurite.connection_string, **SETTINGS}


def report_adapters(connection_string: str) -> ReportAdapters:
    names = order_storage_names(SETTINGS)
    connection = StorageConnection(connection_string=connection_string)
    return build_report_adapters(connection, names, SETTINGS["REPORTS_CONTAINER"])


def claim_checks(connection_string: str) -> ClaimCheckStore:
    connection = StorageConnection(connection_string=connection_string)
    names = order_storage_names(SETTINGS)
    return build_order_adapters(connection, names, payment_provider=SIMULATED).claims
