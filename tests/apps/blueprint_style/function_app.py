"""A FunctionApp whose functions all come from blueprints in sub-packages."""

import azure.functions as func
from endpoints.ping import bp as ping_bp
from jobs.greetings import bp as greetings_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

app.register_functions(greetings_bp)
app.register_blueprint(ping_bp)
