"""The shared plumbing under both sides: settings, Kafka, PostgreSQL, HTTP, messages, i18n, logs, the event protocol."""
