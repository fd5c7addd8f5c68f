"""``postguard api``: synchronous moderation over HTTP, OpenAI- and Perspective-compatible."""
