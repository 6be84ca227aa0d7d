"""The Functions entry point: creates the Durable app and registers every trigger blueprint."""

import azure.durable_functions as df
import azure.functions as func

import app_config
from activities.job_results import bp as job_results
from activities.monitor_polls import bp as monitor_activities
from activities.orders import bp as order_activities
from activities.reports import bp as report_activities
from activities.retention import bp as retention_activities
from activities.supervision import bp as supervision_activities
from activities.thumbnails import bp as thumbnail_activities
from activities.webhooks import bp as webhook_activities
from adapters import telemetry
from orchestrators.monitor import bp as monitor_workflow
from orchestrators.nightly_report import bp as nightly_report
from orchestrators.order_workflow import bp as order_workflow
from orchestrators.retention import bp as retention_workflow
from orchestrators.supervisor import bp as supervisor_workflow
from orchestrators.thumbnails import bp as thumbnail_workflow
from triggers.approval_page import bp as approval_page
from triggers.health import bp as health_bp
from triggers.jobs_http import bp as jobs_http
from triggers.notifications import bp as notifications
from triggers.openapi_http import bp as openapi_http
from triggers.order_approval_http import bp as order_approval
from triggers.orders_http import bp as orders_http
from triggers.orders_servicebus import bp as orders_queue
from triggers.orders_servicebus import express_bp as express_orders_queue
from triggers.report_job import bp as report_job
from triggers.retention_timer import bp as retention_timer
from triggers.supervisor_timer import bp as supervisor_timer
from triggers.thumbnail_job import bp as thumbnail_job

# Once, before any function runs: export to Application Insights when it is configured.
telemetry.start(app_config.telemetry_settings(), role=app_config.app_role())
# A bad approver list or base URL stops the app here, with the setting named, rather than
# failing each order that waits for approval.
app_config.approval_settings()

# FUNCTION is the default for HTTP routes; the few public ones (the health probe) opt out
# explicitly in their own blueprint.
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

# What runs an order: both roles register these. The express role adds only the express queue's
# trigger, so a second app serves express orders from its own task hub; the main role adds
# everything else (docs/order-workflow.md, "Express orders").
ORDER_RUNNERS = [order_workflow, order_activities, job_results, webhook_activities]
EVERYTHING_ELSE = [
    health_bp,
    orders_http,
    order_approval,
    approval_page,
    orders_queue,
    jobs_http,
    openapi_http,
    thumbnail_job,
    thumbnail_workflow,
    thumbnail_activities,
    monitor_workflow,
    monitor_activities,
    report_job,
    nightly_report,
    report_activities,
    retention_timer,
    retention_workflow,
    retention_activities,
    supervisor_timer,
    supervisor_workflow,
    supervision_activities,
    notifications,
]
ROLES = {"main": ORDER_RUNNERS + EVERYTHING_ELSE, "express": [*ORDER_RUNNERS, express_orders_queue]}
for blueprint in ROLES[app_config.app_role()]:
    app.register_functions(blueprint)
