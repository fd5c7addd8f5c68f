"""deploy/compose.yaml, checked structurally (no container engine runs here): the services,
their health checks, the start order, and that every variable it reads is in .env.example."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from service.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"

LONG_RUNNING = ("kafka", "postgres", "postguard", "api", "prometheus", "grafana")
# ${VAR}, ${VAR:-default}, ${VAR:?message}; $$ is an escaped dollar.
_INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _services() -> dict[str, Any]:
    return dict(_compose()["services"])


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_services() -> None:
    services = _services()
    assert set(services) == {"kafka", "postgres", "migrate", "postguard", "api", "prometheus", "grafana"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")


def test_kafka_runs_in_kraft_mode() -> None:
    environment = _services()["kafka"]["environment"]
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert environment["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    assert environment["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{environment['KAFKA_NODE_ID']}@kafka:")
    assert "CLUSTER_ID" in environment
    assert not any("ZOOKEEPER" in key for key in environment)
    # postguard reaches the broker on the listener advertised under the service's name.
    bootstrap = _services()["postguard"]["environment"]["POSTGUARD_KAFKA_BOOTSTRAP"]
    assert f"INTERNAL://{bootstrap}" in environment["KAFKA_ADVERTISED_LISTENERS"].split(",")


def test_every_long_running_service_has_a_healthcheck() -> None:
    services = _services()
    for name in LONG_RUNNING:
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"
    ready = " ".join(services["postguard"]["healthcheck"]["test"])
    assert "/readyz" in ready and "9108" in ready


def test_start_order() -> None:
    services = _services()
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    assert services["postguard"]["command"] == ["serve"]
    assert services["postguard"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert services["grafana"]["depends_on"]["prometheus"] == {"condition": "service_healthy"}
    # Every dependency is a service of this file, with a condition.
    for name, service in services.items():
        for dependency, spec in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert spec["condition"] in (
                "service_healthy",
                "service_started",
                "service_completed_successfully",
            )


def test_migrate_and_postguard_share_the_image_and_the_database() -> None:
    services = _services()
    migrate, postguard = services["migrate"], services["postguard"]
    assert migrate["image"] == postguard["image"]
    assert migrate["build"] == postguard["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert (COMPOSE.parent / ".." / "deploy" / "Dockerfile").is_file()
    url = postguard["environment"]["POSTGUARD_DATABASE_URL"]
    owner_url = migrate["environment"]["POSTGUARD_DATABASE_URL"]
    for each in (url, owner_url):
        assert each.startswith("postgresql://") and "@postgres:5432/${POSTGRES_DB}" in each
    # The service connects as the runtime role the migration grants, never as the tables' owner.
    assert url.startswith("postgresql://${POSTGRES_APP_USER}:${POSTGRES_APP_PASSWORD}@")
    assert owner_url.startswith("postgresql://${POSTGRES_USER}:${POSTGRES_PASSWORD}@")
    assert migrate["environment"]["POSTGUARD_DATABASE_RUNTIME_ROLE"] == "${POSTGRES_APP_USER}"
    init = services["postgres"]["volumes"]
    assert "./postgres/10-runtime-role.sh:/docker-entrypoint-initdb.d/10-runtime-role.sh:ro" in init


def test_postguard_environment_names_real_settings() -> None:
    fields = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    for name in ("migrate", "postguard"):
        unknown = set(_services()[name]["environment"]) - fields
        assert not unknown, f"{name} sets variables postguard does not read: {unknown}"


def test_every_variable_comes_from_env_example() -> None:
    text = COMPOSE.read_text()
    defined = _env_example()
    used = {match.group(1) for match in _INTERPOLATION.finditer(text)}
    assert used, "compose.yaml reads no variables?"
    missing = used - set(defined)
    assert not missing, f"compose.yaml reads variables .env.example does not define: {missing}"
    for match in _INTERPOLATION.finditer(text):
        if match.group(2) == ":?":
            assert defined[match.group(1)], f"{match.group(1)} is required but empty in .env.example"
    unused = set(defined) - used
    assert not unused, f".env.example defines variables compose.yaml never reads: {unused}"


def test_env_example_holds_no_real_secrets() -> None:
    values = _env_example()
    for key, value in values.items():
        if "PASSWORD" in key:
            assert "CHANGE" in value, f"{key} must be an obvious placeholder"
    assert (ROOT / ".gitignore").read_text().count("/deploy/.env") == 1


def test_mounted_files_exist() -> None:
    for name, service in _services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name} mounts missing {source}"
    declared = set(_compose().get("volumes", {}))
    named = {
        volume.split(":", 1)[0]
        for service in _services().values()
        for volume in service.get("volumes", [])
        if not volume.startswith(".")
    }
    assert named == declared


def test_published_ports_are_loopback_only() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_the_api_service_needs_only_the_database_and_is_scraped() -> None:
    api = _services()["api"]
    assert api["command"] == ["api"] and api["image"] == _services()["postguard"]["image"]
    assert "kafka" not in api["depends_on"], "a request never waits on Kafka"
    assert api["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    environment = api["environment"]
    assert (
        environment["POSTGUARD_DATABASE_URL"]
        == _services()["postguard"]["environment"]["POSTGUARD_DATABASE_URL"]
    )
    assert set(environment) <= {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in scrape}
    assert targets["postguard-api"] == [f"api:{environment['POSTGUARD_API_PORT']}"]
