"""The Event Grid subscription that feeds the blob trigger, against what the blob extension's
webhook accepts: a wrong URL shape or event filter deploys fine and then delivers nothing. And
what it cannot deliver: dead-lettered with the system topic's identity, alerted on, replayable."""

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


# --- Dead-lettering: an event that exhausts its retries is kept, alerted on and replayable ---

TOPIC_MODULE = "modules/eventgrid-topic.bicep"


def _system_topic(templates, h) -> dict:
    (file, _, body), *more = h.resources(templates, "Microsoft.EventGrid/systemTopics")
    assert file == TOPIC_MODULE and not more
    return body


def _dead_letter_container(templates, h) -> str:
    name = _subscription(templates, h)["deadLetterWithResourceIdentity"]["deadLetterDestination"][
        "properties"
    ]["blobContainerName"]
    return h.resolve(name, templates["eventgrid.bicep"]["variables"])


def test_undeliverable_events_are_dead_lettered_with_the_system_topics_identity(templates, h):
    """Without a dead-letter destination Event Grid drops an event once its retries (here 30
    attempts, 24 hours) run out: that upload never gets thumbnails. With one, it keeps those
    events, and at once any the webhook refuses with 400 or 413. With shared keys off the
    destination needs `deadLetterWithResourceIdentity` (the topic's managed
    identity), not `deadLetterDestination` (which writes without one); it is a blob container of
    the app's account, declared in main.bicep's container list.
    Source: delivery-and-retry.md, 'Dead-letter events'; manage-event-delivery.md, 'Set
    dead-letter location'; Learn, 'Enable and use managed service identity for an event grid
    topic' (managed-service-identity.md), dead-lettering with the system-assigned identity;
    Azure/bicep-types-az, Microsoft.EventGrid 2022-06-15, DeadLetterWithResourceIdentity."""
    properties = _subscription(templates, h)
    assert properties["retryPolicy"] == {
        "maxDeliveryAttempts": 30,
        "eventTimeToLiveInMinutes": 1440,
    }
    assert "deadLetterDestination" not in properties
    dead_letter = properties["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"] == {"type": "SystemAssigned"}
    destination = dead_letter["deadLetterDestination"]
    assert destination["endpointType"] == "StorageBlob"
    assert h.accessor(destination["properties"]["resourceId"]) == ("storage", "id")
    storage = templates["eventgrid.bicep"]["resources"]["storage"]
    assert storage["existing"] and storage["config"]["name"] == "storageAccountName"
    main = templates["main.bicep"]["variables"]
    container = _dead_letter_container(templates, h)
    assert container == h.resolve("deadLetterContainer", main)
    assert container in h.resolve("containers", main)


def test_the_system_topic_is_provisioned_with_a_system_assigned_identity(templates, h):
    """Dead-lettering with the resource identity uses the system topic's own identity, so the
    topic has one. System-assigned, not the app's user-assigned identity: it belongs to Event
    Grid alone, and once the account's firewall admits only trusted Azure services, Event Grid
    can still reach it with a system-assigned identity but not with a user-assigned one. The
    topic is provisioned (main.bicep), not post-deploy, and eventgrid.bicep only refers to it:
    one system topic per account, found by the same name.
    Source: Learn, 'Enable managed identity for system topics' (enable-identity-system-topics.md);
    'Deliver events securely using managed identities' (deliver-events-using-managed-identity.md),
    'Firewall and virtual network rules'; Learn, 'System topics in Azure Event Grid'."""
    topic = _system_topic(templates, h)
    assert topic["identity"] == {"type": "SystemAssigned"}
    assert h.accessor(topic["properties"]["source"]) == ("storage", "id")
    assert topic["properties"]["topicType"] == "Microsoft.Storage.StorageAccounts"
    referenced = templates["eventgrid.bicep"]["resources"]["systemTopic"]
    assert referenced["existing"] and referenced["config"]["name"] == topic["name"]
    module = templates["main.bicep"]["modules"]["eventGridTopic"]
    assert module["detail"]["path"] == TOPIC_MODULE
    assert h.accessor(module["config"]["params"]["storageAccountName"]) == (
        "storage",
        "outputs",
        "name",
    )


def test_the_topics_role_exists_before_the_subscriptions_are_created(templates, h):
    """Event Grid checks, when a subscription with a managed-identity dead-letter destination is
    created or updated, that the identity may write there; a role assigned in the same
    deployment may not have propagated yet. So the topic's identity and its role are provisioned
    with main.bicep, and the post-deploy template that creates the subscriptions (after the
    code is published, minutes later) declares neither a topic nor a role assignment.
    Source: MicrosoftDocs/azure-docs#98216 (enabling dead-lettering on a system topic failed
    until the identity had Storage Blob Data Contributor); Azure/bicep-registry-modules#5205
    ('Managed Identity Authorization Error', aka.ms/egmsivalidation, at subscription creation)."""
    eventgrid = templates["eventgrid.bicep"]["resources"]
    assert all(
        resource["existing"]
        for resource in eventgrid.values()
        if resource["type"] == "Microsoft.EventGrid/systemTopics"
    )
    assert not [r for r in eventgrid.values() if r["type"].startswith("Microsoft.Authorization/")]
    params = templates["main.bicep"]["modules"]["roles"]["config"]["params"]
    assert h.accessor(params["eventGridPrincipalId"]) == (
        "eventGridTopic",
        "outputs",
        "principalId",
    )
    output = templates[TOPIC_MODULE]["outputs"]["principalId"]["value"]
    assert h.accessor(output) == ("systemTopic", "identity", "principalId")


def test_dead_letter_blobs_cannot_start_the_blob_trigger(templates, h, app_functions):
    """The dead-letter container is in the account the topic watches, so each dead letter is
    itself a BlobCreated event: no Event Grid blob trigger may watch that container (the
    subscription's subject filter then keeps it out), or a dead letter would start a job.
    Source: Learn, 'Azure Blob Storage as an Event Grid source' (event-schema-blob-storage.md),
    subject `/blobServices/default/containers/<container>/blobs/<name>`; manage-event-delivery.md,
    'Set dead-letter location'."""
    watched = {
        binding["path"].split("/", 1)[0]
        for function in app_functions
        for binding in function["bindings"]
        if binding["type"] == "blobTrigger" and binding.get("source") == "EventGrid"
    }
    assert watched and _dead_letter_container(templates, h) not in watched


def test_dead_lettered_and_dropped_events_alert_the_action_group(templates, h):
    """A dead letter waits for someone to replay it, so Event Grid's `DeadLetteredCount` of the
    system topic alerts (> 0, Total, per `EventSubscriptionName`); `DroppedEventCount` alerts
    too: a dropped event is one even dead-lettering could not keep. Both notify the action group
    of alerts.bicep.
    Source: Learn, 'Supported metrics for Microsoft.EventGrid/systemTopics' (Azure Monitor
    reference): DeadLetteredCount, DroppedEventCount, Count, Total, dimensions
    EventSubscriptionName, DeadLetterReason / DropReason."""
    alerts = {
        criterion["metricName"]: (body, criterion)
        for file, _, body in h.resources(templates, "Microsoft.Insights/metricAlerts")
        if file == TOPIC_MODULE
        for criterion in body["properties"]["criteria"]["allOf"]
    }
    assert set(alerts) == {"DeadLetteredCount", "DroppedEventCount"}
    for body, criterion in alerts.values():
        properties = body["properties"]
        assert [h.accessor(scope) for scope in properties["scopes"]] == [("systemTopic", "id")]
        assert properties["actions"] == [{"actionGroupId": "actionGroupId"}]
        assert criterion["metricNamespace"] == "Microsoft.EventGrid/systemTopics"
        assert criterion["timeAggregation"] == "Total"
        assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", 0)
        assert criterion["dimensions"] == [
            {"name": "EventSubscriptionName", "operator": "Include", "values": ["*"]}
        ]
    group = templates["main.bicep"]["modules"]["eventGridTopic"]["config"]["params"]
    assert h.accessor(group["actionGroupId"]) == ("alerts", "outputs", "actionGroupId")
    assert "actionGroupId" in templates["modules/alerts.bicep"]["outputs"]


def test_the_runbook_replays_through_the_same_webhook(templates, h):
    """A dead-lettered upload is replayed by posting its event, as Event Grid would, to the
    webhook the subscription delivers to: the same path and function, with
    `aeg-event-type: Notification`, from the container the subscription dead-letters to.
    Source: functions-event-grid-blob-trigger.md, 'Build the endpoint URL'; Learn, 'Receive
    events from Azure Event Grid to an HTTP endpoint' (the aeg-event-type header);
    delivery-and-retry.md, 'Delivery event formats' (dead-letter events are the original event
    plus deadLetterReason, deliveryAttempts, lastDeliveryOutcome, ...)."""
    runbook = (h.REPO / "docs" / "operations.md").read_text()
    section = runbook.split("## Replaying a dead-lettered upload", 1)[1].split("\n## ", 1)[0]
    assert _dead_letter_container(templates, h) in section
    assert "/runtime/webhooks/blobs?functionName=Host.Functions.thumbnails_from_upload" in section
    assert "aeg-event-type: Notification" in section
    assert "blobs_extension" in section
