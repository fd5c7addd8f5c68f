"""Kafka SASL/SSL settings reach every client (consumer, producer, admin) and never leak the password."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faststream.security import SASLPlaintext, SASLScram512

from service.errors import ConfigError
from service.kafka.clients import broker_security, build_broker, client_security_kwargs
from service.settings import Settings, load_settings

PASSWORD = "sasl-Secret-93e1"


def _settings(**overrides: object) -> Settings:
    return load_settings(
        kafka_bootstrap="kafka-1:9093", database_url="postgresql://u:dbSecret-77@db/postguard", **overrides
    )


def test_sasl_ssl_with_scram_reaches_plain_clients_and_the_broker() -> None:
    settings = _settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="postguard",
        kafka_sasl_password=PASSWORD,
    )
    kwargs = client_security_kwargs(settings)
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert (kwargs["sasl_mechanism"], kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == (
        "SCRAM-SHA-512",
        "postguard",
        PASSWORD,
    )
    security = broker_security(settings)
    assert isinstance(security, SASLScram512) and security.use_ssl
    build_broker(settings)


def test_sasl_plaintext_and_ssl_only(tmp_path: Path) -> None:
    plain = broker_security(
        _settings(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="PLAIN",
            kafka_sasl_username="u",
            kafka_sasl_password=PASSWORD,
        )
    )
    assert isinstance(plain, SASLPlaintext) and not plain.use_ssl
    assert client_security_kwargs(_settings(kafka_security_protocol="SSL"))["ssl_context"] is not None
    with pytest.raises(ConfigError, match="POSTGUARD_KAFKA_SSL_CAFILE"):
        client_security_kwargs(
            _settings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "missing.pem")
        )


def test_missing_sasl_settings_are_named_and_the_password_never_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        client_security_kwargs(
            _settings(
                kafka_security_protocol="SASL_SSL", kafka_sasl_username="u", kafka_sasl_password=PASSWORD
            )
        )
    assert "POSTGUARD_KAFKA_SASL_MECHANISM" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    settings = _settings(kafka_sasl_password=PASSWORD)
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())
    assert "dbSecret-77" not in repr(settings)
