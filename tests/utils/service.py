"""Settings for tests that run the real service: unique topics and group, fast group joins."""

from __future__ import annotations

import uuid
from typing import Any

from service.settings import Settings, load_settings


def isolated_settings(bootstrap: str, database_url: str, **overrides: Any) -> Settings:
    """Settings with topics and a consumer group of their own (tests share one broker), the
    short session timeouts Tansu needs for quick group joins, and an ephemeral metrics port."""
    suffix = uuid.uuid4().hex[:8]
    values: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "database_url": database_url,
        "input_topic": f"posts-{suffix}",
        "output_topic": f"decisions-{suffix}",
        "dlq_topic": f"dlq-{suffix}",
        "group_id": f"postguard-{suffix}",
        "session_timeout_ms": 2000,
        "heartbeat_interval_ms": 500,
        "metrics_host": "127.0.0.1",
        "metrics_port": 0,
    }
    values.update(overrides)
    return load_settings(**values)
