"""Kafka plumbing shared by the connectors: admin (topics), clients built from settings."""
