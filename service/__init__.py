"""postguard service: Kafka in, decisions in PostgreSQL and back on Kafka.

One package per stage: ``kafka`` (where posts enter and decisions leave), ``moderation`` (where
a post is scored and decided), ``storage`` (PostgreSQL), ``observability`` (metrics, health,
gauges) and ``review`` (the moderators' queue); ``app`` wires them, ``cli`` is the command.
"""
