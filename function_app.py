"""The Functions entry point: creates the Durable app and registers every trigger blueprint."""

import azure.durable_functions as df
import azure.functions as func

from activities.job_results import bp as job_results
from activities.orders import bp as order_activities
from activities.webhooks import bp as webhook_activities
from orchestrators.order_workflow import bp as order_workflow
from triggers.health import bp as health_bp
from triggers.jobs_http import bp as jobs_http
from triggers.openapi_http import bp as openapi_http
from triggers.order_commands_http import bp as order_commands
from triggers.orders_http import bp as orders_http
from triggers.orders_servicebus import bp as orders_queue

# FUNCTION is the default for HTTP routes; the few public ones (the health probe) opt out
# explicitly in their own blueprint.
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

app.register_functions(health_bp)
app.register_functions(orders_http)
app.register_functions(order_commands)
app.register_functions(orders_queue)
app.register_functions(order_workflow)
app.register_functions(order_activities)
app.register_functions(job_results)
app.register_functions(jobs_http)
app.register_functions(openapi_http)
app.register_functions(webhook_activities)
