"""deploy/kubernetes: rendered by kubectl's kustomize, every object valid against Kubernetes' schemas."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.tools import DEPLOY, run, tool

KUSTOMIZATIONS = ["base", "overlays/example"]
KUBERNETES_VERSION = "1.33.0"


def render(kustomization: str) -> list[dict[str, Any]]:
    result = run([tool("kubectl"), "kustomize", str(DEPLOY / "kubernetes" / kustomization)], timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name)]
    assert len(matches) == 1, f"expected one {kind} {name}, found {[o['metadata']['name'] for o in matches]}"
    return matches[0]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_object_is_valid(kustomization: str) -> None:
    objects = render(kustomization)
    assert len(objects) >= 10
    for obj in objects:
        # strict: a misspelt field is an error, not silently ignored as the API server would.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_a_broken_object() -> None:
    node = copy.deepcopy(find(render("base"), "Deployment", "udn-node"))
    node["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/ready"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(node, KUBERNETES_VERSION, strict=True)
    node = copy.deepcopy(find(render("base"), "Deployment", "udn-node"))
    node["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(node, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_nodes_probe_drain_and_keep_their_model_store(kustomization: str) -> None:
    objects = render(kustomization)
    node = find(objects, "Deployment", "udn-node")
    pod = node["spec"]["template"]["spec"]
    main = container(node)
    assert main["args"] == ["serve"]
    assert main["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert main["livenessProbe"]["httpGet"]["path"] == "/health"
    assert main["resources"]["requests"]["cpu"] and main["resources"]["limits"]["memory"]
    mounts = {m["name"]: m["mountPath"] for m in main["volumeMounts"]}
    assert mounts["models"] == "/models/adapters"
    assert "models" in {v["name"] for v in pod["volumes"]}
    config = find(objects, "ConfigMap", "udn-config")
    longest_request = float(config["data"]["UDN_SERVING__REQUEST_TIMEOUT"])
    assert pod["terminationGracePeriodSeconds"] > longest_request
    assert pod["securityContext"]["runAsNonRoot"] is True
    # The configuration and the tokens reach the container under the generated names.
    refs = {next(iter(ref.values()))["name"] for ref in main["envFrom"]}
    assert refs == {config["metadata"]["name"], find(objects, "Secret", "udn-tokens")["metadata"]["name"]}


def test_the_example_overlay_shares_one_model_store_and_scales_on_queue_depth() -> None:
    objects = render("overlays/example")
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"} == {"translation"}
    pod = find(objects, "Deployment", "udn-node")["spec"]["template"]["spec"]
    models = next(v for v in pod["volumes"] if v["name"] == "models")
    assert models == {"name": "models", "persistentVolumeClaim": {"claimName": "udn-models"}}
    assert find(objects, "PersistentVolumeClaim", "udn-models")["spec"]["accessModes"] == ["ReadWriteMany"]
    hpa = find(objects, "HorizontalPodAutoscaler", "udn-node")
    kinds = {m["type"] for m in hpa["spec"]["metrics"]}
    assert kinds == {"Resource", "Pods"}
    tokens = find(objects, "Secret", "udn-tokens")
    assert set(tokens["data"]) == {"UDN_ADMIN_TOKEN", "UDN_NODE_TOKEN"}


def test_coordinators_redis_autoscaling_and_disruption_budgets() -> None:
    objects = render("base")
    coordinator = find(objects, "Deployment", "udn-coordinator")
    main = container(coordinator)
    assert main["args"] == ["coordinator"]
    assert main["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert main["livenessProbe"]["httpGet"]["path"] == "/health"
    labels = coordinator["spec"]["template"]["metadata"]["labels"]
    service = find(objects, "Service", "udn-coordinator")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["port"] == 5100

    redis = find(objects, "StatefulSet", "udn-redis")
    assert "--appendonly" in container(redis)["args"]
    assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    config = find(objects, "ConfigMap", "udn-config")["data"]
    assert config["REDIS_URL"] == "redis://udn-redis:6379/0"
    assert config["UDN_REGISTRATION__COORDINATOR_URLS"] == "http://udn-coordinator:5100"

    hpa = find(objects, "HorizontalPodAutoscaler", "udn-node")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "udn-node",
    }
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    for name in ("udn-node", "udn-coordinator"):
        budget = find(objects, "PodDisruptionBudget", name)
        pods = find(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= pods.items()
