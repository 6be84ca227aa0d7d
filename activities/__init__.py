"""Durable activities: small, idempotent units of side-effecting work called by orchestrators."""
