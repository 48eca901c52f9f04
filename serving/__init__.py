"""Buyer-facing HTTP API and dashboard, sharing agreements, auth and the audit log."""
