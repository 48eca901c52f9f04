"""Event contracts (Avro `.avsc`), the Confluent-compatible schema registry, and the serde."""
