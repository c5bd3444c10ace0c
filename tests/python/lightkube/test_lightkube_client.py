"""Python lightkube against charm-sim's simulated Kubernetes API server.

Run by crates/charm-sim/tests/kube_lightkube.rs, which starts the server (namespace `prod`,
the default CRDs installed) and sets KUBECONFIG. Each test works in its own namespace.
"""

import os
import uuid

import httpx
import pytest
from lightkube import ApiError, Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace
from lightkube.types import PatchType

AuthorizationPolicy = create_namespaced_resource(
    "security.istio.io", "v1", "AuthorizationPolicy", "authorizationpolicies"
)

pytestmark = pytest.mark.skipif(
    "KUBECONFIG" not in os.environ, reason="needs charm-sim's API server (KUBECONFIG)"
)


@pytest.fixture
def ns():
    client = Client(field_manager="test-setup")
    name = f"t-{uuid.uuid4().hex[:8]}"
    client.create(Namespace(metadata=ObjectMeta(name=name)))
    return name


@pytest.fixture
def client(ns):
    return Client(namespace=ns, field_manager="istio-beacon-k8s")


def policy(name, scope, ports=("9090",)):
    return AuthorizationPolicy(
        metadata=ObjectMeta(
            name=name,
            labels={
                "app.kubernetes.io/instance": "prod-istio-beacon-k8s",
                "kubernetes-resource-handler-scope": scope,
            },
        ),
        spec={
            "selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
            "rules": [{"to": [{"operation": {"ports": list(ports)}}]}],
        },
    )


def test_namespace_is_labelled(client, ns):
    got = client.get(Namespace, ns)
    assert got.metadata.labels["kubernetes.io/metadata.name"] == ns


def test_configmap_create_get_conflict_delete(client, ns):
    cm = ConfigMap(metadata=ObjectMeta(name="labels"), data={"labels": "{}"})
    created = client.create(cm)
    assert created.metadata.uid
    assert created.metadata.namespace == ns
    with pytest.raises(ApiError) as err:
        client.create(cm)
    assert err.value.status.code == 409
    assert err.value.status.reason == "AlreadyExists"
    assert client.get(ConfigMap, "labels").data == {"labels": "{}"}
    client.delete(ConfigMap, "labels")
    with pytest.raises(ApiError) as err:
        client.get(ConfigMap, "labels")
    assert err.value.status.code == 404
    assert err.value.status.reason == "NotFound"
    with pytest.raises(ApiError) as err:
        client.delete(ConfigMap, "labels")
    assert err.value.status.code == 404


def test_configmap_strategic_and_merge_patch(client):
    client.create(ConfigMap(metadata=ObjectMeta(name="c"), data={"a": "1", "b": "2"}))
    patched = client.patch(ConfigMap, "c", {"data": {"a": None, "c": "3"}})
    assert patched.data == {"b": "2", "c": "3"}
    patched = client.patch(
        ConfigMap, "c", {"metadata": {"labels": {"x": "y"}}}, patch_type=PatchType.MERGE
    )
    assert patched.metadata.labels == {"x": "y"}
    assert patched.data == {"b": "2", "c": "3"}


def test_apply_list_by_selector_and_delete_policies(client, ns):
    applied = client.apply(policy("p1", "istio-authorization-policy"), force=True)
    assert applied.metadata.generation == 1
    assert [m.manager for m in applied.metadata.managedFields] == ["istio-beacon-k8s"]
    client.apply(policy("p2", "modeloperator-authorization-policy"), force=True)
    # Re-applying a changed spec updates in place.
    updated = client.apply(policy("p1", "istio-authorization-policy", ports=("80",)), force=True)
    assert updated.spec["rules"][0]["to"][0]["operation"]["ports"] == ["80"]
    assert updated.metadata.generation == 2

    found = list(
        client.list(
            AuthorizationPolicy,
            namespace="*",
            labels={
                "app.kubernetes.io/instance": "prod-istio-beacon-k8s",
                "kubernetes-resource-handler-scope": "istio-authorization-policy",
            },
        )
    )
    assert [(p.metadata.namespace, p.metadata.name) for p in found] == [(ns, "p1")]
    both = list(
        client.list(
            AuthorizationPolicy,
            labels={
                "kubernetes-resource-handler-scope": (
                    "istio-authorization-policy",
                    "modeloperator-authorization-policy",
                )
            },
        )
    )
    assert sorted(p.metadata.name for p in both) == ["p1", "p2"]

    client.delete(AuthorizationPolicy, "p1")
    with pytest.raises(ApiError) as err:
        client.delete(AuthorizationPolicy, "p1")
    assert err.value.status.code == 404


def test_apply_conflict_without_force(client, ns):
    other = Client(namespace=ns, field_manager="someone-else")
    other.apply(policy("p", "istio-authorization-policy"))
    with pytest.raises(ApiError) as err:
        client.apply(policy("p", "istio-authorization-policy", ports=("1",)))
    assert err.value.status.code == 409
    assert err.value.status.reason == "Conflict"
    assert "someone-else" in err.value.status.message
    taken = client.apply(policy("p", "istio-authorization-policy", ports=("1",)), force=True)
    assert taken.spec["rules"][0]["to"][0]["operation"]["ports"] == ["1"]


def test_custom_resources_reject_strategic_merge_and_invalid_specs(client):
    client.apply(policy("p", "istio-authorization-policy"), force=True)
    with pytest.raises(ApiError) as err:
        client.patch(AuthorizationPolicy, "p", {"metadata": {"labels": {"a": "b"}}})
    assert err.value.status.code == 415
    merged = client.patch(
        AuthorizationPolicy, "p", {"metadata": {"labels": {"a": "b"}}}, patch_type=PatchType.MERGE
    )
    assert merged.metadata.labels["a"] == "b"
    bad = policy("q", "istio-authorization-policy")
    bad.spec["rules"][0]["to"][0]["operation"]["ports"] = [5432]
    with pytest.raises(ApiError) as err:
        client.apply(bad, force=True)
    assert err.value.status.code == 422
    assert err.value.status.reason == "Invalid"
    assert err.value.status.details.causes[0].field == "spec.rules[0].to[0].operation.ports[0]"


def test_missing_namespace(client):
    with pytest.raises(ApiError) as err:
        client.create(ConfigMap(metadata=ObjectMeta(name="c")), namespace="nowhere")
    assert err.value.status.code == 404
    assert err.value.status.message == 'namespaces "nowhere" not found'


def test_missing_crd_is_a_plain_404(client):
    # A real apiserver answers an unknown group with a text/plain "404 page not found";
    # lightkube only wraps application/json errors in ApiError.
    Foo = create_namespaced_resource("example.com", "v1", "Foo", "foos")
    with pytest.raises(httpx.HTTPStatusError) as err:
        list(client.list(Foo))
    assert not isinstance(err.value, ApiError)
    assert err.value.response.status_code == 404
    assert err.value.response.text == "404 page not found\n"
