"""The storage queue trigger, queue output bindings and the `enqueue` command."""
