"""Each command loads only the settings it uses: no placeholder connection values."""

from __future__ import annotations

import pytest

from service.errors import ConfigError
from service.settings import CommonSettings, DatabaseSettings, KafkaSettings, Settings, load_settings


@pytest.fixture(autouse=True)
def _no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTGUARD_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("POSTGUARD_DATABASE_URL", raising=False)


def test_serve_needs_both_connections_and_names_them() -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "POSTGUARD_KAFKA_BOOTSTRAP: is required" in str(raised.value)
    assert "POSTGUARD_DATABASE_URL: is required" in str(raised.value)


def test_a_command_asks_only_for_its_own_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="POSTGUARD_DATABASE_URL") as raised:
        load_settings(DatabaseSettings)
    assert "KAFKA" not in str(raised.value)
    monkeypatch.setenv("POSTGUARD_DATABASE_URL", "postgresql://u@db/x")
    database = load_settings(DatabaseSettings)
    assert not hasattr(database, "kafka_bootstrap")
    kafka = load_settings(KafkaSettings, kafka_bootstrap="broker:9092")
    assert kafka.kafka_bootstrap == "broker:9092" and not hasattr(kafka, "database_url")
    common = load_settings(CommonSettings)
    assert type(common) is CommonSettings and common.input_topic == "posts"


def test_full_settings_are_every_partial_kind() -> None:
    settings = load_settings(kafka_bootstrap="broker:9092", database_url="postgresql://u@db/x")
    assert isinstance(settings, DatabaseSettings) and isinstance(settings, KafkaSettings)
    assert type(settings) is Settings
