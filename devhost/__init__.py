"""devhost: a local runtime that hosts an unmodified Python v2-model Functions app and Durable."""
