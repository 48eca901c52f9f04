"""File connector: MES exports (CSV, JSON Lines) mapped to contract fields, sent via the SDK."""
