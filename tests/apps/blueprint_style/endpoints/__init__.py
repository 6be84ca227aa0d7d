"""Plain HTTP endpoints, each a func.Blueprint."""
