"""Apache Kafka in KRaft mode from the official jars (pom.xml) and its launcher."""
