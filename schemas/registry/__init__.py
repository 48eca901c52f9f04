"""A Confluent-compatible schema registry (REST subset for Avro), stored in the platform DB."""

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
