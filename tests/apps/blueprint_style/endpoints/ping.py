"""A plain func.Blueprint HTTP function, registered beside the durable blueprint."""

import json

import azure.functions as func

bp = func.Blueprint()


@bp.route(route="ping", methods=["GET"])
def ping(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps({"pong": True, "module": __name__}), mimetype="application/json"
    )
