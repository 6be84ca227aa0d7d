"""The Event Grid subscription that feeds the blob trigger, against what the blob extension's
webhook accepts: a wrong URL shape or event filter deploys fine and then delivers nothing."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

EVENT_GRID_BLOB_TRIGGER = (
    "Learn, 'Tutorial: Trigger Azure Functions on blob containers using an event subscription' "
    "(functions-event-grid-blob-trigger.md), 'Build the endpoint URL' and 'Create the event "
    "subscription'"
)


def _subscription(templates, h) -> dict:
    (file, _, body), *more = h.resources(
        templates, "Microsoft.EventGrid/systemTopics/eventSubscriptions"
    )
    assert file == "eventgrid.bicep" and not more
    return body["properties"]


def test_the_endpoint_is_the_blob_extension_webhook_with_its_key(templates, h):
    """The webhook URL is `https://<app host>/runtime/webhooks/blobs` with
    `functionName=Host.Functions.<function name>` and `code=<blobs_extension system key>`.
    Source: functions-event-grid-blob-trigger.md, 'Build the endpoint URL'."""
    destination = _subscription(templates, h)["destination"]
    assert destination["endpointType"] == "WebHook"
    url = urlsplit(destination["properties"]["endpointUrl"])
    assert url.scheme == "https"
    assert url.netloc == "${app.properties.defaultHostName}"
    assert url.path == "/runtime/webhooks/blobs"
    query = parse_qs(url.query)
    assert query["functionName"] == ["Host.Functions.${trigger.functionName}"]
    assert query["code"] == ["${blobExtensionKey}"]


def test_only_blob_created_events_of_the_trigger_container_are_delivered(templates, h):
    """The extension acts on `Microsoft.Storage.BlobCreated` in the Event Grid schema; the
    subject filter `/blobServices/default/containers/<container>/` keeps other containers' blobs
    from starting the function.
    Source: functions-event-grid-blob-trigger.md, 'Create the event subscription'; Learn, 'Azure
    Blob Storage as an Event Grid source' (event-schema-blob-storage.md), subject format."""
    properties = _subscription(templates, h)
    assert properties["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert re.fullmatch(
        r"/blobServices/default/containers/\$\{trigger\.container\}/",
        properties["filter"]["subjectBeginsWith"],
    )
    assert properties["eventDeliverySchema"] == "EventGridSchema"


def test_a_subscription_exists_for_every_event_grid_blob_trigger(h, app_functions):
    """Each Event Grid-source blob trigger gets a subscription: the post-deploy step takes the
    list from the app's own index (scripts/blob_triggers.py), so the two cannot drift.
    Source: functions-event-grid-blob-trigger.md, 'Create the event subscription'."""
    hook = (h.REPO / "scripts/hooks/postdeploy.sh").read_text()
    assert "scripts/blob_triggers.py" in hook
    assert any(
        binding.get("source") == "EventGrid"
        for function in app_functions
        for binding in function["bindings"]
        if binding["type"] == "blobTrigger"
    )
