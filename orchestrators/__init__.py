"""Durable orchestrators: thin, deterministic sequencing of activities, one module per job."""
