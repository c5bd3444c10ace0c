//! Server-side apply against the simulated API server, driven by the real `kube` client.

mod kubeclient;
use kubeclient::{api_err, client};

use charm_sim::kube::{ApiServer, ApiServerConfig};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

fn server() -> ApiServer {
    ApiServer::start(ApiServerConfig {
        crds: ApiServer::default_crds(),
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        ],
        faults: vec![],
    })
    .expect("server starts")
}

fn gateway_api() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.networking.k8s.io", "v1", "Gateway"),
        "gateways",
    )
}

fn waypoint(port: u16, labels: Value) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "prod-istio-beacon-k8s-waypoint", "labels": labels},
        "spec": {"gatewayClassName": "istio-waypoint",
            "listeners": [{"name": "mesh", "port": port, "protocol": "HBONE",
                "allowedRoutes": {"namespaces": {"from": "All"}}}]}
    })
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["manager"].as_str().unwrap_or_default().to_string(),
                        e["operation"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn apply_creates_updates_and_records_managed_fields() {
    let server = server();
    let gws: Api<DynamicObject> =
        Api::namespaced_with(client(&server).await, "prod", &gateway_api());
    let pp = PatchParams::apply("istio-beacon-k8s").force();
    let name = "prod-istio-beacon-k8s-waypoint";

    let created = gws
        .patch(name, &pp, &Patch::Apply(waypoint(15008, json!({"a": "1"}))))
        .await
        .expect("apply creates");
    let reqs = server.take_requests();
    assert_eq!(reqs[0].status, 201);
    assert_eq!(
        reqs[0].content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert_eq!(reqs[0].query, "&force=true&fieldManager=istio-beacon-k8s");
    assert_eq!(created.metadata.generation, Some(1));
    let created = serde_json::to_value(&created).expect("json");
    assert_eq!(
        managers(&created),
        [("istio-beacon-k8s".to_string(), "Apply".to_string())]
    );
    let fields = &created["metadata"]["managedFields"][0]["fieldsV1"];
    assert_eq!(fields["f:metadata"]["f:labels"], json!({"f:a": {}}));
    assert_eq!(
        fields["f:spec"]["f:listeners"]["k:{\"name\":\"mesh\"}"]["f:port"],
        json!({})
    );
    // Schema defaults are filled in, as the apiserver does.
    assert_eq!(
        created["spec"]["listeners"][0]["allowedRoutes"]["kinds"],
        Value::Null,
        "no default for kinds in v1.2.0"
    );

    // Same apply again: a no-op keeps resourceVersion and generation.
    let again = gws
        .patch(name, &pp, &Patch::Apply(waypoint(15008, json!({"a": "1"}))))
        .await
        .expect("re-apply");
    assert_eq!(server.take_requests()[0].status, 200);
    assert_eq!(
        again.metadata.resource_version.as_deref(),
        created["metadata"]["resourceVersion"].as_str()
    );

    // A spec change bumps generation; a label-only change does not.
    let moved = gws
        .patch(name, &pp, &Patch::Apply(waypoint(15009, json!({"a": "1"}))))
        .await
        .expect("port change");
    assert_eq!(moved.metadata.generation, Some(2));
    let relabelled = gws
        .patch(name, &pp, &Patch::Apply(waypoint(15009, json!({"b": "2"}))))
        .await
        .expect("label change");
    assert_eq!(relabelled.metadata.generation, Some(2));
    // Label a was applied before and is omitted now: removed.
    let labels = relabelled.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.keys().collect::<Vec<_>>(), ["b"]);
}

#[tokio::test]
async fn apply_conflicts_without_force_and_takes_over_with_force() {
    let server = server();
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "prod");
    let cfg = |v: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"shared": v}})
    };
    cms.patch(
        "c",
        &PatchParams::apply("other-actor"),
        &Patch::Apply(cfg("1")),
    )
    .await
    .expect("first manager");

    // Same value: no conflict, shared ownership.
    let shared = cms
        .patch("c", &PatchParams::apply("beacon"), &Patch::Apply(cfg("1")))
        .await
        .expect("same value applies");
    assert_eq!(shared.metadata.managed_fields.map(|m| m.len()), Some(2));

    let e = api_err(
        cms.patch("c", &PatchParams::apply("beacon"), &Patch::Apply(cfg("2")))
            .await
            .expect_err("conflict"),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        e.message,
        "Apply failed with 1 conflict: conflict with \"other-actor\" using v1: .data.shared"
    );
    let causes = e
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].field, ".data.shared");

    let forced = cms
        .patch(
            "c",
            &PatchParams::apply("beacon").force(),
            &Patch::Apply(cfg("2")),
        )
        .await
        .expect("forced");
    assert_eq!(
        forced
            .data
            .as_ref()
            .and_then(|d| d.get("shared"))
            .map(String::as_str),
        Some("2")
    );
    let forced = serde_json::to_value(&forced).expect("json");
    assert_eq!(
        managers(&forced),
        [("beacon".to_string(), "Apply".to_string())],
        "the other manager lost its only field"
    );

    // The old owner now conflicts in turn.
    let e = api_err(
        cms.patch(
            "c",
            &PatchParams::apply("other-actor"),
            &Patch::Apply(cfg("1")),
        )
        .await
        .expect_err("conflict back"),
    );
    assert!(e.message.contains("\"beacon\""));
}

#[tokio::test]
async fn omitted_fields_stay_when_another_manager_owns_them() {
    let server = server();
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "prod");
    let pp = |m: &str| PatchParams::apply(m);
    let body = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
    cms.patch(
        "c",
        &pp("a"),
        &Patch::Apply(body(json!({"x": "1", "y": "1"}))),
    )
    .await
    .expect("a");
    cms.patch(
        "c",
        &pp("b"),
        &Patch::Apply(body(json!({"y": "1", "z": "1"}))),
    )
    .await
    .expect("b");
    let after = cms
        .patch("c", &pp("a"), &Patch::Apply(body(json!({}))))
        .await
        .expect("a drops x and y");
    let data = after.data.unwrap_or_default();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["y", "z"]);

    // An ordinary update takes ownership of the fields it changes.
    let merged = cms
        .patch(
            "c",
            &PatchParams {
                field_manager: Some("editor".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"data": {"z": "2"}})),
        )
        .await
        .expect("merge patch");
    let merged = serde_json::to_value(&merged).expect("json");
    assert!(managers(&merged).contains(&("editor".to_string(), "Update".to_string())));
    let e = api_err(
        cms.patch(
            "c",
            &pp("b"),
            &Patch::Apply(body(json!({"y": "1", "z": "1"}))),
        )
        .await
        .expect_err("editor owns z now"),
    );
    assert!(
        e.message.contains("conflict with \"editor\""),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn apply_requires_field_manager_and_matching_identity() {
    let server = server();
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "prod");
    let e = api_err(
        cms.patch(
            "c",
            &PatchParams::default(),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            ),
        )
        .await
        .expect_err("no field manager"),
    );
    assert_eq!(e.code, 422);
    assert!(e.message.contains("fieldManager"), "{}", e.message);

    let e = api_err(
        cms.patch(
            "c",
            &PatchParams::apply("m"),
            &Patch::Apply(
                json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            ),
        )
        .await
        .expect_err("wrong apiVersion"),
    );
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
}

#[tokio::test]
async fn map_lists_merge_by_key_and_atomic_lists_replace() {
    let server = server();
    let client = client(&server).await;
    let gws: Api<DynamicObject> = Api::namespaced_with(client.clone(), "prod", &gateway_api());
    let gw = |listeners: Value| {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "g"},
            "spec": {"gatewayClassName": "istio-waypoint", "listeners": listeners}})
    };
    let mesh = json!({"name": "mesh", "port": 15008, "protocol": "HBONE"});
    let other = json!({"name": "other", "port": 80, "protocol": "HTTP"});
    gws.patch(
        "g",
        &PatchParams::apply("a"),
        &Patch::Apply(gw(json!([mesh]))),
    )
    .await
    .expect("a applies mesh");
    let both = gws
        .patch(
            "g",
            &PatchParams::apply("b"),
            &Patch::Apply(gw(json!([other]))),
        )
        .await
        .expect("b adds its own listener");
    let names = |o: &DynamicObject| -> Vec<String> {
        o.data["spec"]["listeners"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| l["name"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(&both), ["mesh", "other"]);
    // a stops applying its listener: only that item goes.
    let after = gws
        .patch("g", &PatchParams::apply("a"), &Patch::Apply(gw(json!([]))))
        .await
        .expect("a drops mesh");
    assert_eq!(names(&after), ["other"]);

    // AuthorizationPolicy rules are an atomic list: one manager's apply replaces it whole,
    // and a second manager with a different list conflicts.
    let ap = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("security.istio.io", "v1", "AuthorizationPolicy"),
        "authorizationpolicies",
    );
    let aps: Api<DynamicObject> = Api::namespaced_with(client, "prod", &ap);
    let policy = |ports: Value| {
        json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "p"},
            "spec": {"rules": [{"to": [{"operation": {"ports": ports}}]}]}})
    };
    aps.patch(
        "p",
        &PatchParams::apply("a"),
        &Patch::Apply(policy(json!(["1", "2"]))),
    )
    .await
    .expect("apply");
    let replaced = aps
        .patch(
            "p",
            &PatchParams::apply("a"),
            &Patch::Apply(policy(json!(["3"]))),
        )
        .await
        .expect("re-apply");
    assert_eq!(
        replaced.data["spec"]["rules"],
        json!([{"to": [{"operation": {"ports": ["3"]}}]}])
    );
    let e = api_err(
        aps.patch(
            "p",
            &PatchParams::apply("b"),
            &Patch::Apply(policy(json!(["4"]))),
        )
        .await
        .expect_err("atomic list owned by a"),
    );
    let causes = e.details.map(|d| d.causes).unwrap_or_default();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field, ".spec.rules");
}
