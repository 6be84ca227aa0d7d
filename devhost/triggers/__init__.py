"""Trigger sources: the parts of the host that turn schedules, blobs and messages into calls."""
