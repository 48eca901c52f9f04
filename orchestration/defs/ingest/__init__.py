"""Ingest: Kafka supplier topics → validated landing tables, exactly once."""
