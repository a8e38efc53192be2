"""The Dockerfile, docker-compose.yml and infra/deploy/ describe one deployment: the same image
names and build targets, the same API and worker commands, the same pools (and KEDA queues), the
same ports, and the same configuration variable names — every one of them a variable the
settings (or boto3) actually read. Docker is not run here; this test is what keeps them honest."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from infra.queues import POOLS
from infra.settings import Settings

REPO = Path(__file__).resolve().parents[2]
API_PORT = 8000
TEMPORAL_PORT = 7233
IMAGES = {"runtime": "directordeck:latest", "gpu": "directordeck-gpu:latest"}
IMAGE_OF_POOL = {"cpu": "runtime", "tts": "runtime", "gpu-image": "gpu", "gpu-video": "gpu"}
# compose runs its own object store and its own Temporal UI; on Kubernetes both are the cluster's
COMPOSE_ONLY = {"AWS_ENDPOINT_URL_S3", "DIRECTORDECK_TEMPORAL_UI_URL"}
BOTO3_READS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_S3"}


def known_variables() -> set[str]:
    """Every environment variable the settings read (their aliases, else DIRECTORDECK_<FIELD>)."""
    names: set[str] = set()
    prefix = Settings.model_config.get("env_prefix", "")
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice) for choice in alias.choices}
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names | BOTO3_READS


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def k8s() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((REPO / "infra/deploy/kubernetes.yaml").read_text()) if d]


@pytest.fixture(scope="module")
def keda() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((REPO / "infra/deploy/keda.yaml").read_text()) if d]


def _containers(k8s: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for doc in k8s:
        if doc["kind"] in ("Deployment", "Job"):
            [container] = doc["spec"]["template"]["spec"]["containers"]
            out[doc["metadata"]["name"]] = container
    return out


def _k8s_worker(k8s: list[dict[str, Any]], pool: str) -> dict[str, Any]:
    return _containers(k8s)[f"directordeck-worker-{pool}"]


def _ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The compose services that run the DirectorDeck image."""
    return {
        n: s for n, s in compose["services"].items() if str(s.get("image", "")).startswith("directordeck")
    }


def _packaged() -> list[str]:
    """The top-level packages `pip install .` installs (pyproject's setuptools `include`)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return [pattern.rstrip("*") for pattern in include]


def _pool(args: list[str]) -> str | None:
    return args[args.index("--pool") + 1] if "--pool" in args else None


def test_dockerfile_builds_both_images_and_serves_the_api(dockerfile: str, k8s: list[dict[str, Any]]) -> None:
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.M))
    assert targets == set(IMAGES)
    assert f"EXPOSE {API_PORT}" in dockerfile
    [cmd] = re.findall(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert yaml.safe_load(cmd) == _containers(k8s)["directordeck-api"]["args"]
    for package in _packaged():
        assert f"COPY {package} ./{package}" in dockerfile  # everything `pip install .` packages
    assert "pip install '.[gpu]'" in dockerfile


def test_same_pools_commands_and_images_everywhere(
    compose: dict[str, Any], k8s: list[dict[str, Any]], keda: list[dict[str, Any]]
) -> None:
    ours = _ours(compose)
    compose_pools = {_pool(s["command"]): s for s in ours.values() if _pool(s["command"])}
    assert set(compose_pools) == set(POOLS)
    keda_queues = {t["metadata"]["taskQueue"] for d in keda for t in d["spec"]["triggers"]}
    assert keda_queues <= set(POOLS)
    for d in keda:  # KEDA scales Deployments that exist
        assert d["spec"]["scaleTargetRef"]["name"] in _containers(k8s)
    for pool, service in compose_pools.items():
        worker = _k8s_worker(k8s, pool)
        assert service["command"] == worker["args"], pool
        assert service["image"] == worker["image"] == IMAGES[IMAGE_OF_POOL[pool]], pool
        assert service["build"]["target"] == IMAGE_OF_POOL[pool], pool
    api = ours["api"]
    k8s_api = _containers(k8s)["directordeck-api"]
    assert api["command"] == k8s_api["args"] and api["image"] == k8s_api["image"] == IMAGES["runtime"]
    for job in ("migrate", "search-attributes"):  # the one-off steps run before the services
        assert ours[job]["command"] == _containers(k8s)[f"directordeck-{job}"]["args"]
        assert ours[job]["image"] == _containers(k8s)[f"directordeck-{job}"]["image"]
        assert api["depends_on"][job]["condition"] == "service_completed_successfully"
    for name, service in ours.items():
        assert service["image"] in IMAGES.values(), name
        assert service["build"]["target"] == {v: k for k, v in IMAGES.items()}[service["image"]], name


def test_same_ports(compose: dict[str, Any], k8s: list[dict[str, Any]], keda: list[dict[str, Any]]) -> None:
    api = _ours(compose)["api"]
    assert [p.split(":")[-1] for p in api["ports"]] == [str(API_PORT)]
    assert _containers(k8s)["directordeck-api"]["ports"] == [{"containerPort": API_PORT}]
    assert _containers(k8s)["directordeck-api"]["readinessProbe"]["httpGet"]["port"] == API_PORT
    assert f"--port {API_PORT}" in shlex.join(api["command"])
    temporal = compose["services"]["temporal"]
    assert f"{TEMPORAL_PORT}:{TEMPORAL_PORT}" in temporal["ports"]
    [configmap] = [d for d in k8s if d["kind"] == "ConfigMap"]
    env = _ours(compose)["api"]["environment"]
    for address in (env["TEMPORAL_ADDRESS"], configmap["data"]["TEMPORAL_ADDRESS"]):
        assert address.endswith(f":{TEMPORAL_PORT}")
    for d in keda:
        assert d["spec"]["triggers"][0]["metadata"]["endpoint"] == configmap["data"]["TEMPORAL_ADDRESS"]
        assert d["spec"]["triggers"][0]["metadata"]["namespace"] == configmap["data"]["TEMPORAL_NAMESPACE"]


def test_same_configuration_variables(compose: dict[str, Any], k8s: list[dict[str, Any]]) -> None:
    known = known_variables()
    [configmap] = [d for d in k8s if d["kind"] == "ConfigMap"]
    [secret] = [d for d in k8s if d["kind"] == "Secret"]
    k8s_names = set(configmap["data"]) | set(secret["stringData"])
    for container in _containers(k8s).values():
        k8s_names |= {e["name"] for e in container.get("env", [])}
        refs = [next(iter(r.values()))["name"] for r in container["envFrom"]]
        assert refs == ["directordeck", "directordeck"]
    ours = _ours(compose)
    compose_names = set(ours["api"]["environment"])
    for name, service in ours.items():
        assert set(service["environment"]) == compose_names, name  # one environment for every role
    assert compose_names - known == set(), "compose sets variables nothing reads"
    assert k8s_names - known == set(), "kubernetes sets variables nothing reads"
    gpu_only = {"DIRECTORDECK_MODEL_DIR"}  # the GPU Deployments mount their model volume
    assert compose_names - COMPOSE_ONLY == k8s_names - gpu_only
    assert configmap["data"]["DIRECTORDECK_ENV"] == ours["api"]["environment"]["DIRECTORDECK_ENV"] == "prod"
    assert ours["api"]["environment"]["DIRECTORDECK_STORAGE_BACKEND"] == "s3"
    assert configmap["data"]["DIRECTORDECK_STORAGE_BACKEND"] == "s3"
