"""Monitor: failure detection from active checks and passive evidence."""
