"""The shared supply-chain views: tables computed in the database from the landing
tables, refreshed for the (supplier, day) keys ingest touched (README, "Views")."""
