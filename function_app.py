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
from triggers.report_job import bp as report_job
from triggers.retention_timer import bp as retention_timer
from triggers.supervisor_timer import bp as supervisor_timer
from triggers.thumbnail_job import bp as thumbnail_job

# Once, before any function runs: export to Application Insights when it is configured.
telemetry.start(app_config.telemetry_settings())
# A bad approver list or base URL stops the app here, with the setting named, rather than
# failing each order that waits for approval.
app_config.approval_settings()

# FUNCTION is the default for HTTP routes; the few public ones (the health probe) opt out
# explicitly in their own blueprint.
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

app.register_functions(health_bp)
app.register_functions(orders_http)
app.register_functions(order_approval)
app.register_functions(approval_page)
app.register_functions(orders_queue)
app.register_functions(order_workflow)
app.register_functions(order_activities)
app.register_functions(job_results)
app.register_functions(jobs_http)
app.register_functions(openapi_http)
app.register_functions(webhook_activities)
app.register_functions(thumbnail_job)
app.register_functions(thumbnail_workflow)
app.register_functions(thumbnail_activities)
app.register_functions(monitor_workflow)
app.register_functions(monitor_activities)
app.register_functions(report_job)
app.register_functions(nightly_report)
app.register_functions(report_activities)
app.register_functions(retention_timer)
app.register_functions(retention_workflow)
app.register_functions(retention_activities)
app.register_functions(supervisor_timer)
app.register_functions(supervisor_workflow)
app.register_functions(supervision_activities)
app.register_functions(notifications)
