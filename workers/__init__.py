"""Background loops: photo processing (and, later, the outbox relay and alert fan-out)."""
