"""What runs the lab: embedded database and broker, supervised processes."""
