"""Inventory replica: a deterministic state machine over the ordered log, with its own schema."""
