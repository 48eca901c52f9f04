"""Views: the shared supply-chain views as assets downstream of landing, refreshed
incrementally after each ingest run, with their totals, ratios and touched keys checked."""
