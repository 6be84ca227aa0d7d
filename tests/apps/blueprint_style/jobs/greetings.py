"""A durable blueprint: an HTTP starter, an orchestrator and an activity."""

import azure.durable_functions as df
import azure.functions as func

from .wording import greeting_for

bp = df.Blueprint()


@bp.route(route="greetings", methods=["POST"])
@bp.durable_client_input(client_name="client")
async def start_greetings(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    instance_id = await client.start_new("greet_everyone", None, req.get_json())
    return client.create_check_status_response(req, instance_id)


@bp.orchestration_trigger(context_name="context")
def greet_everyone(context: df.DurableOrchestrationContext):
    names = context.get_input()["names"]
    greetings = []
    for name in names:
        greetings.append((yield context.call_activity("greet", name)))
    context.set_custom_status({"greeted": len(greetings)})
    return {"greetings": greetings, "module": __name__}


@bp.activity_trigger(input_name="name")
def greet(name: str) -> str:
    return greeting_for(name)
