"""Builds the trigger data and metadata the Functions host sends the Python worker for a message."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from azure.functions import meta

from devhost.servicebus.models import ReceivedMessage

# DateTimeOffset.MaxValue: what ExpiresAt is when the time to live never ends.
_MAX_MOMENT = datetime.max.replace(tzinfo=UTC)
_MAX_TEXT = "9999-12-31T23:59:59.9999999"


def dotnet_datetime(moment: datetime, *, offset: bool) -> str:
    """A UTC moment as Newtonsoft writes a DateTime (no offset) or a DateTimeOffset (+00:00)."""
    if moment >= _MAX_MOMENT:
        text = _MAX_TEXT
    else:
        utc = moment.astimezone(UTC)
        text = utc.strftime("%Y-%m-%dT%H:%M:%S")
        fraction = f"{utc.microsecond:06d}".rstrip("0")
        if fraction:
            text += "." + fraction
    return text + ("+00:00" if offset else "")


def _json_datum(value: Any) -> meta.Datum:
    return meta.Datum(json.dumps(value, default=str), "json")


# The body: without `dataType` the host binds the message to a string (UTF-8, invalid bytes
# replaced by U+FFFD) that the worker re-encodes, so get_body() gives the original bytes only
# for UTF-8 bodies; with `data_type=func.DataType.BINARY` the bytes arrive unchanged.
def trigger_data(message: ReceivedMessage, *, binary: bool) -> meta.Datum:
    """The trigger value: bytes with dataType binary, otherwise the body decoded as UTF-8."""
    if binary:
        return meta.Datum(message.body, "bytes")
    return meta.Datum(message.body.decode("utf-8", errors="replace"), "string")


# What the host sends is fixed by the Service Bus extension 5.x (extension bundle 4.x):
# ServiceBusTriggerBindingStrategy.GetBindingData adds DeliveryCount, DeadLetterSource,
# LockToken, ExpiresAtUtc, ExpiresAt, EnqueuedTimeUtc, EnqueuedTime, MessageId, ContentType,
# ReplyTo, SequenceNumber, To, Subject, Label (= Subject), CorrelationId, ApplicationProperties,
# UserProperties (= ApplicationProperties), SessionId, ReplyToSessionId, PartitionKey and
# TransactionPartitionKey; the WebJobs SDK adds `sys`; null values are not sent. Newtonsoft
# writes the dates; the `...Utc` ones come from DateTimeOffset.DateTime (kind Unspecified), so
# they have no offset and func.ServiceBusMessage makes them naive datetimes in UTC, as in Azure.
# Hence time_to_live, scheduled_enqueue_time_utc, locked_until, dead_letter_reason,
# dead_letter_error_description, enqueued_sequence_number and state are None in Azure and here;
# a dead letter's reason and description are in application_properties ("DeadLetterReason",
# "DeadLetterErrorDescription"), where Service Bus keeps them.
def trigger_metadata(message: ReceivedMessage, function_name: str) -> dict[str, meta.Datum]:
    """The binding data the host sends with each Service Bus invocation."""
    properties = _json_datum(message.application_properties)
    strings = {
        "DeadLetterSource": message.dead_letter_source,
        "LockToken": message.lock_token,
        "MessageId": message.message_id,
        "ContentType": message.content_type,
        "ReplyTo": message.reply_to,
        "To": message.to,
        "Subject": message.subject,
        "Label": message.subject,
        "CorrelationId": message.correlation_id,
        "SessionId": message.session_id,
        "ReplyToSessionId": message.reply_to_session_id,
        "PartitionKey": message.partition_key,
        "TransactionPartitionKey": message.transaction_partition_key,
    }
    metadata: dict[str, meta.Datum] = {
        name: meta.Datum(value, "string") for name, value in strings.items() if value is not None
    }
    metadata.update(
        {
            "DeliveryCount": meta.Datum(message.delivery_count, "int"),
            "SequenceNumber": meta.Datum(message.sequence_number, "int"),
            "ExpiresAtUtc": _json_datum(dotnet_datetime(message.expires_at, offset=False)),
            "ExpiresAt": _json_datum(dotnet_datetime(message.expires_at, offset=True)),
            "EnqueuedTimeUtc": _json_datum(dotnet_datetime(message.enqueued_time, offset=False)),
            "EnqueuedTime": _json_datum(dotnet_datetime(message.enqueued_time, offset=True)),
            "ApplicationProperties": properties,
            "UserProperties": properties,
            "sys": _json_datum(
                {
                    "MethodName": function_name,
                    "UtcNow": dotnet_datetime(datetime.now(UTC), offset=False) + "Z",
                    "RandomGuid": str(uuid.uuid4()),
                }
            ),
        }
    )
    return metadata


def is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
