"""Kafka: clients and publishers, the consumer's offsets, topic upkeep, the producer command."""
