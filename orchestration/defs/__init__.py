"""Dagster definitions, one folder per domain (`ingest/`, later `quality/`, `views/`)."""
