"""Orders service: orders + outbox in PostgreSQL, outbox relay to Kafka, status by majority of results."""
