//! Strategic merge, JSON merge and JSON patches through the real `kube` client, shaped like the
//! beacon's label reconcile (beacon-contract §3.10).

mod kubeclient;
use kubeclient::{api_err, client};

use charm_sim::kube::{ApiServer, ApiServerConfig};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::json;

/// A model namespace with the beacon's StatefulSet and Service, created by "Juju".
fn server() -> ApiServer {
    ApiServer::start(ApiServerConfig {
        crds: ApiServer::default_crds(),
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": "istio-beacon-k8s", "namespace": "prod"},
                "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "istio-beacon-k8s"}},
                    "serviceName": "istio-beacon-k8s-endpoints",
                    "template": {"metadata": {"labels": {"app.kubernetes.io/name": "istio-beacon-k8s",
                            "istio.io/use-waypoint": "old"}},
                        "spec": {"containers": [
                            {"name": "charm", "image": "c", "env": [{"name": "A", "value": "1"}]},
                            {"name": "metrics-proxy", "image": "m"}]}}}}),
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "istio-beacon-k8s", "namespace": "prod",
                    "labels": {"app.kubernetes.io/name": "istio-beacon-k8s"}},
                "spec": {"ports": [{"name": "p", "port": 65535, "protocol": "TCP"}]}}),
        ],
        faults: vec![],
    })
    .expect("server starts")
}

#[tokio::test]
async fn strategic_merge_on_statefulset_template_labels() {
    let server = server();
    let sts: Api<StatefulSet> = Api::namespaced(client(&server).await, "prod");
    let before = sts.get("istio-beacon-k8s").await.expect("sts");
    let patch = json!({"spec": {"template": {"metadata": {"labels": {
        "istio.io/dataplane-mode": "ambient",
        "istio.io/use-waypoint": null}}}}});
    let after = sts
        .patch(
            "istio-beacon-k8s",
            &PatchParams {
                field_manager: Some("istio-beacon-k8s".into()),
                ..PatchParams::default()
            },
            &Patch::Strategic(patch),
        )
        .await
        .expect("strategic patch");
    let reqs = server.take_requests();
    assert_eq!(
        reqs[1].content_type.as_deref(),
        Some("application/strategic-merge-patch+json")
    );
    let labels = after
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    assert_eq!(
        labels.keys().collect::<Vec<_>>(),
        ["app.kubernetes.io/name", "istio.io/dataplane-mode"],
        "null deleted one label, the other was added, the rest kept"
    );
    assert_eq!(
        after
            .metadata
            .generation
            .map(|g| g - before.metadata.generation.unwrap_or(0)),
        Some(1),
        "a template change is a spec change"
    );

    // Containers merge by name; env by name; `$patch: delete` removes one container.
    let after = sts
        .patch(
            "istio-beacon-k8s",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "charm", "env": [{"name": "B", "value": "2"}]},
                {"name": "metrics-proxy", "$patch": "delete"}]}}}})),
        )
        .await
        .expect("container patch");
    let containers = after
        .spec
        .and_then(|s| s.template.spec)
        .map(|s| s.containers)
        .unwrap_or_default();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0].image.as_deref(), Some("c"));
    let env: Vec<String> = containers[0]
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(env, ["A", "B"]);
}

#[tokio::test]
async fn strategic_merge_on_service_and_namespace_labels() {
    let server = server();
    let client = client(&server).await;
    let svcs: Api<Service> = Api::namespaced(client.clone(), "prod");
    let svc = svcs
        .patch(
            "istio-beacon-k8s",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"istio.io/use-waypoint": "w"}}})),
        )
        .await
        .expect("service patch");
    let labels = svc.metadata.labels.unwrap_or_default();
    assert_eq!(
        labels.get("istio.io/use-waypoint").map(String::as_str),
        Some("w")
    );
    assert_eq!(labels.len(), 2);
    assert_eq!(
        svc.spec.and_then(|s| s.ports).map(|p| p.len()),
        Some(1),
        "ports untouched"
    );

    // Nulling every label leaves no empty map behind (ObjectMeta maps are omitempty).
    let svc = svcs
        .patch(
            "istio-beacon-k8s",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {
                "istio.io/use-waypoint": null, "app.kubernetes.io/name": null}}})),
        )
        .await
        .expect("service patch");
    assert_eq!(svc.metadata.labels, None);

    // The whole namespace as read, with new labels: accepted while current.
    let nss: Api<Namespace> = Api::all(client);
    let mut ns = nss.get("prod").await.expect("namespace");
    ns.metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert("istio.io/dataplane-mode".into(), "ambient".into());
    let patched = nss
        .patch("prod", &PatchParams::default(), &Patch::Strategic(&ns))
        .await
        .expect("namespace patch");
    assert_eq!(
        patched
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("istio.io/dataplane-mode"))
            .map(String::as_str),
        Some("ambient")
    );
    // The same body again carries a stale resourceVersion now: 409.
    let e = api_err(
        nss.patch("prod", &PatchParams::default(), &Patch::Strategic(&ns))
            .await
            .expect_err("stale"),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
}

#[tokio::test]
async fn merge_and_json_patches_and_missing_objects() {
    let server = server();
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "prod");
    server
        .apply_objects(vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "juju-service-mesh-istio-beacon-k8s-labels", "namespace": "prod"},
            "data": {"labels": "{}", "other": "x"}})])
        .expect("configmap");
    let name = "juju-service-mesh-istio-beacon-k8s-labels";
    let merged = cms
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"labels": "{\"a\": \"b\"}", "other": null}})),
        )
        .await
        .expect("merge patch");
    let data = merged.data.unwrap_or_default();
    assert_eq!(data.len(), 1);
    assert_eq!(
        data.get("labels").map(String::as_str),
        Some("{\"a\": \"b\"}")
    );

    // JSON patch (kube's typed form needs its `jsonpatch` feature; send it raw).
    let req = http::Request::builder()
        .method("PATCH")
        .uri(format!("/api/v1/namespaces/prod/configmaps/{name}"))
        .header("content-type", "application/json-patch+json")
        .body(
            json!([{"op": "add", "path": "/data/extra", "value": "1"},
                {"op": "remove", "path": "/data/labels"}])
            .to_string()
            .into_bytes(),
        )
        .expect("request");
    let jp: ConfigMap = client.request(req).await.expect("json patch applies");
    assert_eq!(
        jp.data.unwrap_or_default().keys().collect::<Vec<_>>(),
        ["extra"]
    );

    // A failing operation (here a `test`), or a body that is no list of operations, is a 422
    // Invalid; nothing of the patch is applied, not even the operations before the failing one.
    let json_patch = |body: serde_json::Value| {
        http::Request::builder()
            .method("PATCH")
            .uri(format!("/api/v1/namespaces/prod/configmaps/{name}"))
            .header("content-type", "application/json-patch+json")
            .body(body.to_string().into_bytes())
            .expect("request")
    };
    for body in [
        json!([{"op": "add", "path": "/data/more", "value": "2"},
            {"op": "test", "path": "/data/extra", "value": "other"}]),
        json!({"op": "add", "path": "/data/more", "value": "2"}),
        json!([{"op": "frobnicate", "path": "/data/more"}]),
    ] {
        let e = api_err(
            client
                .request::<ConfigMap>(json_patch(body.clone()))
                .await
                .expect_err("rejected"),
        );
        assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"), "{body}");
        assert!(
            e.message
                .starts_with("the server rejected our request due to an error in our request: "),
            "{}",
            e.message
        );
    }
    let unchanged = cms.get(name).await.expect("configmap");
    assert_eq!(
        unchanged
            .data
            .unwrap_or_default()
            .keys()
            .collect::<Vec<_>>(),
        ["extra"]
    );

    let e = api_err(
        cms.patch(
            "absent",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {}})),
        )
        .await
        .expect_err("absent"),
    );
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));

    // Custom resources do not take strategic merge patches.
    let ap = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("security.istio.io", "v1", "AuthorizationPolicy"),
        "authorizationpolicies",
    );
    let aps: Api<DynamicObject> = Api::namespaced_with(client, "prod", &ap);
    aps.patch(
        "p",
        &PatchParams::apply("m"),
        &Patch::Apply(
            json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "p"}, "spec": {}}),
        ),
    )
    .await
    .expect("apply");
    let e = api_err(
        aps.patch(
            "p",
            &PatchParams::default(),
            &Patch::Strategic(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .expect_err("415"),
    );
    assert_eq!((e.code, e.reason.as_str()), (415, "UnsupportedMediaType"));
    let merged = aps
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .expect("merge patch on a custom resource");
    assert_eq!(merged.metadata.generation, Some(1), "metadata only");
}
