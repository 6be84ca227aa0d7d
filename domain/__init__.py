"""Business rules as plain Python: no Azure SDK, no I/O, unit-tested without any emulator."""
