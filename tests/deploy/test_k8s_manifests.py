"""deploy/k8s, checked structurally without a cluster: kinds and apiVersions, the security
context, probes, resources, Secret references (and no Secret values), the migration Job, the
PodDisruptionBudget and the KEDA ScaledObject, and that they agree with each other and with
the service's settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.kafka.clients import DEFAULT_PARTITIONS
from service.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"

API_VERSIONS = {
    "ServiceAccount": "v1",
    "ConfigMap": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "Job": "batch/v1",
    "PodDisruptionBudget": "policy/v1",
    "ScaledObject": "keda.sh/v1alpha1",
    "HorizontalPodAutoscaler": "autoscaling/v2",
}
#: The API's manifests (api.yaml) are keyed "<kind>/api" beside the consumer's.
API_KINDS = {"Deployment/api": "apps/v1", "Service/api": "v1"}
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G)?$")


def _documents() -> dict[str, dict[str, Any]]:
    """Every manifest of deploy/k8s (but the kustomization), by kind ("<kind>/api" for the API's
    Deployment and Service)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            if document is None:
                continue
            kind = document["kind"]
            if document["metadata"]["labels"].get("app.kubernetes.io/component") == "api" and kind != (
                "HorizontalPodAutoscaler"
            ):
                kind = f"{kind}/api"
            assert kind not in found, f"two {kind}s"
            found[kind] = document
    return found


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    return _documents()


def _pod(manifests: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    return dict(manifests[kind]["spec"]["template"]["spec"])


def _container(manifests: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    (container,) = _pod(manifests, kind)["containers"]
    return dict(container)


def test_kinds_api_versions_and_names(manifests: dict[str, dict[str, Any]]) -> None:
    versions = API_VERSIONS | API_KINDS
    assert set(manifests) == set(versions)
    for kind, document in manifests.items():
        assert document["apiVersion"] == versions[kind], kind
        name = document["metadata"]["name"]
        assert _NAME.match(name) and len(name) <= 63, name
        assert document["metadata"]["labels"]["app.kubernetes.io/name"] == "postguard", kind
        assert "namespace" not in document["metadata"], "the namespace is chosen at apply time"


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_no_secret_values_are_committed(manifests: dict[str, dict[str, Any]]) -> None:
    assert "Secret" not in manifests
    for path in K8S.glob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text()):
            assert not document or document.get("kind") != "Secret", path.name
    for kind in ("Deployment", "Job", "Deployment/api"):
        for variable in _container(manifests, kind).get("env", []):
            assert "value" not in variable or "PASSWORD" not in variable["name"], variable
            reference = variable.get("valueFrom", {}).get("secretKeyRef")
            if reference:
                assert reference["name"] == "postguard-secrets"
    database = {v["name"]: v for v in _container(manifests, "Deployment")["env"]}["POSTGUARD_DATABASE_URL"]
    assert database["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert "optional" not in database["valueFrom"]["secretKeyRef"]
    # The migration runs as the tables' owner and grants the runtime role (the service's user).
    job = {v["name"]: v for v in _container(manifests, "Job")["env"]}
    assert job["POSTGUARD_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-owner-url"
    assert job["POSTGUARD_DATABASE_RUNTIME_ROLE"]["value"] == "postguard_app"


def test_configmap_sets_only_real_settings_and_no_secrets(manifests: dict[str, dict[str, Any]]) -> None:
    data = manifests["ConfigMap"]["data"]
    fields = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    assert set(data) <= fields, set(data) - fields
    assert "POSTGUARD_KAFKA_BOOTSTRAP" in data
    assert not {key for key in data if "PASSWORD" in key or "DATABASE_URL" in key}
    assert all(isinstance(value, str) for value in data.values()), "ConfigMap values must be strings"
    # Everything the service needs is set: the ConfigMap or the Secret provides each required setting.
    env = {v["name"] for v in _container(manifests, "Deployment")["env"]}
    required = {
        ENV_PREFIX + name.upper() for name, info in Settings.model_fields.items() if info.is_required()
    }
    assert required <= set(data) | env


def test_deployment_pod_security(manifests: dict[str, dict[str, Any]]) -> None:
    pod = _pod(manifests, "Deployment")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == manifests["ServiceAccount"]["metadata"]["name"]
    container = _container(manifests, "Deployment")
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    # The read-only root needs a writable /tmp.
    volumes = {v["name"]: v for v in pod["volumes"]}
    (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
    assert "emptyDir" in volumes[tmp["name"]]
    # The UID the image runs as.
    assert f"USER {pod['securityContext']['runAsUser']}:" in DOCKERFILE.read_text()


def test_deployment_resources_and_probes(manifests: dict[str, dict[str, Any]]) -> None:
    deployment = manifests["Deployment"]
    assert "replicas" not in deployment["spec"], "the ScaledObject owns the replica count"
    container = _container(manifests, "Deployment")
    resources = container["resources"]
    for key in ("cpu", "memory"):
        assert _QUANTITY.match(str(resources["requests"][key])), key
    assert _QUANTITY.match(str(resources["limits"]["memory"]))
    # torch uses as many threads as the CPU request.
    assert manifests["ConfigMap"]["data"]["POSTGUARD_TORCH_THREADS"] == str(resources["requests"]["cpu"])

    (port,) = container["ports"]
    assert port["name"] == "metrics"
    assert str(port["containerPort"]) == manifests["ConfigMap"]["data"]["POSTGUARD_METRICS_PORT"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "model loading needs time"
    assert container["args"] == ["serve"]
    # The graceful stop (at most ~10 s) fits in the grace period.
    assert _pod(manifests, "Deployment")["terminationGracePeriodSeconds"] >= 15

    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= labels.items()


def test_service_exposes_the_metrics_port(manifests: dict[str, dict[str, Any]]) -> None:
    service = manifests["Service"]["spec"]
    labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= labels.items()
    (port,) = service["ports"]
    assert port["name"] == "metrics" and port["targetPort"] == "metrics" and port["port"] == 9108
    # A pod is not ready during a broker outage (/readyz): its metrics must stay scrapeable then.
    assert service["publishNotReadyAddresses"] is True


def test_pod_disruption_budget(manifests: dict[str, dict[str, Any]]) -> None:
    spec = manifests["PodDisruptionBudget"]["spec"]
    labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    # minAvailable would block every drain while KEDA runs a single replica.
    assert spec == {"maxUnavailable": 1, "selector": spec["selector"]}


def test_migration_job(manifests: dict[str, dict[str, Any]]) -> None:
    job = manifests["Job"]
    pod = _pod(manifests, "Job")
    container = _container(manifests, "Job")
    assert container["args"] == ["migrate"]
    assert container["image"] == _container(manifests, "Deployment")["image"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    assert job["spec"]["backoffLimit"] >= 1
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    names = {v["name"] for v in container["env"]}
    assert "POSTGUARD_DATABASE_URL" in names
    # The Job's pods must not count as consumers (Service, PDB and ScaledObject select those).
    consumer = manifests["Deployment"]["spec"]["selector"]["matchLabels"]
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert not consumer.items() <= job_labels.items()


def test_scaled_object_scales_on_group_lag_within_the_partition_count(
    manifests: dict[str, dict[str, Any]],
) -> None:
    spec = manifests["ScaledObject"]["spec"]
    config = manifests["ConfigMap"]["data"]
    assert spec["scaleTargetRef"]["name"] == manifests["Deployment"]["metadata"]["name"]
    assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    # A consumer group gives each partition to one member: more replicas than partitions idle.
    assert spec["maxReplicaCount"] <= DEFAULT_PARTITIONS
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert metadata["consumerGroup"] == config["POSTGUARD_GROUP_ID"]
    assert metadata["topic"] == config["POSTGUARD_INPUT_TOPIC"]
    assert metadata["bootstrapServers"] == config["POSTGUARD_KAFKA_BOOTSTRAP"]
    assert int(metadata["lagThreshold"]) > 0
    assert metadata["offsetResetPolicy"] == "earliest"
    assert metadata["allowIdleConsumers"] == "false"
    assert all(isinstance(value, str) for value in metadata.values()), "KEDA metadata values are strings"


def test_all_manifests_pin_the_same_image(manifests: dict[str, dict[str, Any]]) -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    (image,) = kustomization["images"]
    for kind in ("Deployment", "Job"):
        assert _container(manifests, kind)["image"].split(":")[0] == image["name"]


def test_the_api_deployment_service_and_autoscaler(manifests: dict[str, dict[str, Any]]) -> None:
    """``postguard api``: its own port for requests and /metrics, probes on it, the same image and
    Secret as the consumer, scaled on CPU by the HPA, and never selected as a consumer."""
    deployment = manifests["Deployment/api"]
    container = _container(manifests, "Deployment/api")
    assert container["args"] == ["api"]
    assert container["image"] == _container(manifests, "Deployment")["image"]
    env = {v["name"]: v for v in container["env"]}
    assert set(env) <= {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    assert env["POSTGUARD_API_HOST"]["value"] == "0.0.0.0"
    (port,) = container["ports"]
    assert port["name"] == "http" and str(port["containerPort"]) == env["POSTGUARD_API_PORT"]["value"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert env["POSTGUARD_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert container["resources"]["requests"]["cpu"], "the HPA computes utilisation from the request"
    assert _pod(manifests, "Deployment/api")["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True

    labels = deployment["spec"]["template"]["metadata"]["labels"]
    consumer = manifests["Deployment"]["spec"]["selector"]["matchLabels"]
    assert not consumer.items() <= labels.items(), "API pods must not count as consumers"
    service = manifests["Service/api"]
    assert service["spec"]["selector"].items() <= labels.items()
    (service_port,) = service["spec"]["ports"]
    assert (
        service_port["targetPort"] == "http"
        and service["metadata"]["annotations"]["prometheus.io/port"] == "8000"
    )

    hpa = manifests["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "postguard-api"}
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu" and 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
