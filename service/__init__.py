"""postguard service: Kafka in, decisions in PostgreSQL and back on Kafka."""
