"""HTTP ingest gateway: suppliers POST events with an API key; spooled, never lost."""
