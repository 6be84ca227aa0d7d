"""Durable jobs, each a df.Blueprint."""
