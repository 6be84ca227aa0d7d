"""Service Bus for devhost: the queue trigger, a local stand-in on Azurite, and the send API."""
