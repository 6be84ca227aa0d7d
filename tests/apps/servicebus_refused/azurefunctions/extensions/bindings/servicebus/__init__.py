"""Test double of azurefunctions-extensions-bindings-servicebus: just its type's module path."""


class ServiceBusReceivedMessage:
    """Stands in for the preview package's message type (not installed in this project)."""


class ServiceBusMessageActions:
    """Stands in for the preview package's settlement client type."""
