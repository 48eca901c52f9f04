"""Supplier SDK: validate against the shipped contracts, spool durably, forward to Kafka."""

from connectors.sdk.client import EventRejected, SpoolFull, SupplierClient

__all__ = ["EventRejected", "SpoolFull", "SupplierClient"]
