"""The platform conformance suite: each test checks one rule of a place the app runs (Azure's
remote build, Flex Consumption, Resource Manager's types, Core Tools, the Service Bus emulator,
Event Grid) and its docstring names the rule and its public source on a `Source:` line, so CI
fails the way the platform would. The fixtures of tests/infra (parsed templates, `h`) apply."""
