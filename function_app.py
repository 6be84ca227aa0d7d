"""The Functions entry point: creates the Durable app and registers every trigger blueprint."""

import azure.durable_functions as df
import azure.functions as func

from triggers.health import bp as health_bp

# FUNCTION is the default for HTTP routes; the few public ones (the health probe) opt out
# explicitly in their own blueprint.
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

app.register_functions(health_bp)
