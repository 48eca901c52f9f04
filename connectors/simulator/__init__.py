"""MES simulator: a deterministic programme of suppliers streaming realistic events."""
