"""Adapters: the only code that talks to Azure services, each tested against Azurite."""
