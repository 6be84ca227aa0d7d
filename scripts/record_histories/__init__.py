"""Records devhost histories of every orchestrator's representative paths for the replay check."""
