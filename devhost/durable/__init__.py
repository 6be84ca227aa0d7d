"""devhost's stand-in for the Durable Functions extension: state, replay episodes and HTTP API."""
