"""The platform's edges: supplier SDK, ingest gateway, file connector, simulator, Kafka plumbing."""
