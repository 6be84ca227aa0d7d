"""The blob trigger: polling (receipts) and Event Grid (webhook and local watcher) sources."""
