"""The local stack: Apache Kafka (KRaft) from the official jars and a project-local PostgreSQL."""
