//! End to end through charm-sim: the Rust tester's committed databag, fed to the Rust beacon,
//! yields the AuthorizationPolicies the contract's integration tests expect; the beacon's
//! labels fed back make the tester label its StatefulSet and Service; and a cross-model
//! client's `cmr_data` makes the policy's source principal its real identity.

mod common;

use charm_sim::Output;
use common::{app_data, beacon, object, objects, run, tester};
use serde_json::{Value, json};

const REMOTE: &str = "remote-0123456789abcdef0123456789abcdef";

fn workload(app: &str, ns: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": app, "namespace": ns},
         "spec": {"serviceName": app, "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                  "template": {"metadata": {"labels": {"app.kubernetes.io/name": app}},
                               "spec": {"containers": [{"name": "charm", "image": "charm"}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": ns},
         "spec": {"selector": {"app.kubernetes.io/name": app}, "ports": [{"port": 8080}]}}),
    ]
}

fn tester_in(unit: &str, model: &str, relations: Value, steps: Value) -> Value {
    let app = unit.split('/').next().unwrap_or(unit);
    json!({
        "model": {"name": model, "uuid": "7b0e1c9e-0000-4000-8000-00000000000a"},
        "unit": unit,
        "leader": true,
        "relations": relations,
        "kubernetes": workload(app, model),
        "steps": steps,
    })
}

/// The beacon in prod with one consumer (`consumer`, relation 3) that sent `policies`.
fn beacon_with(consumer: &str, policies: &str) -> Value {
    let mut kubernetes = workload("istio-beacon-k8s", "prod");
    // The waypoint Deployment Istio would create for the beacon's Gateway, ready.
    kubernetes.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "prod-istio-beacon-k8s-waypoint", "namespace": "prod"},
        "spec": {"replicas": 1,
                 "selector": {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "prod-istio-beacon-k8s-waypoint"}},
                 "template": {"metadata": {"labels": {"gateway.networking.k8s.io/gateway-name": "prod-istio-beacon-k8s-waypoint"}},
                              "spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2"}]}}},
        "status": {"replicas": 1, "readyReplicas": 1},
    }));
    json!({
        "model": {"name": "prod", "uuid": "7b0e1c9e-0000-4000-8000-000000000001"},
        "unit": "istio-beacon-k8s/0",
        "leader": true,
        "planned_units": 1,
        "relations": [
            {"id": 1, "endpoint": "peers", "remote_units": []},
            {"id": 3, "endpoint": "service-mesh", "remote_app": consumer,
             "remote_units": [format!("{consumer}/0")], "remote_app_data": {"policies": policies}},
        ],
        "kubernetes": kubernetes,
        "steps": [
            {"hook": "service-mesh-relation-created", "relation": 3},
            {"hook": "service-mesh-relation-changed", "relation": 3},
        ],
    })
}

/// The AuthorizationPolicy whose only source principal is `principal`.
fn policy_from<'a>(out: &'a Output, principal: &str) -> &'a Value {
    let found: Vec<&Value> = objects(out, "AuthorizationPolicy")
        .into_iter()
        .filter(|p| p["spec"]["rules"][0]["from"][0]["source"]["principals"] == json!([principal]))
        .collect();
    assert_eq!(found.len(), 1, "one policy from {principal}: {found:?}");
    found[0]
}

#[test]
fn tester_databag_through_the_beacon_and_back() {
    // 1. The tester publishes its policies.
    let rels = json!([
        {"id": 1, "endpoint": "service-mesh", "remote_app": "istio-beacon-k8s", "remote_units": ["istio-beacon-k8s/0"]},
        {"id": 2, "endpoint": "inbound", "remote_app": "sender1", "remote_units": ["sender1/0"]},
        {"id": 3, "endpoint": "inbound-unit", "remote_app": "sender2", "remote_units": ["sender2/0"]},
        {"id": 4, "endpoint": "peers", "remote_units": ["receiver1/1"]},
    ]);
    let out = run(
        tester(),
        &tester_in(
            "receiver1/0",
            "prod",
            rels.clone(),
            json!([{"hook": "service-mesh-relation-created", "relation": 1}]),
        ),
    );
    let policies = app_data(&out, 1)["policies"].clone();

    // 2. The beacon turns them into AuthorizationPolicies and publishes its labels.
    let out = run(beacon(), &beacon_with("receiver1", &policies));
    assert_eq!(objects(&out, "AuthorizationPolicy").len(), 3);

    // sender1 on inbound → L7 policy on the tester's Service.
    let app = policy_from(&out, "cluster.local/ns/prod/sa/sender1");
    assert_eq!(app["metadata"]["namespace"], "prod");
    assert_eq!(
        app["spec"]["targetRefs"],
        json!([{"group": "", "kind": "Service", "name": "receiver1"}])
    );
    assert!(app["spec"].get("selector").is_none());
    assert_eq!(
        app["spec"]["rules"][0]["to"],
        json!([{"operation": {"ports": ["8080", "8081"], "methods": ["GET", "POST"], "paths": ["/foo", "/bar/"]}}])
    );
    // sender2 on inbound-unit → L4 policy selecting the tester's pods.
    let unit = policy_from(&out, "cluster.local/ns/prod/sa/sender2");
    assert_eq!(
        unit["spec"]["selector"],
        json!({"matchLabels": {"app.kubernetes.io/name": "receiver1"}})
    );
    assert!(unit["spec"].get("targetRefs").is_none());
    assert_eq!(
        unit["spec"]["rules"][0]["to"],
        json!([{"operation": {"ports": ["8080", "8081"]}}])
    );
    // peers → the tester itself, L4.
    let peers = policy_from(&out, "cluster.local/ns/prod/sa/receiver1");
    assert_eq!(
        peers["spec"]["selector"],
        json!({"matchLabels": {"app.kubernetes.io/name": "receiver1"}})
    );

    let provider = app_data(&out, 3).clone();
    assert!(provider.contains_key("labels") && provider.contains_key("mesh_type"));

    // 3. The beacon's labels, fed back, put the tester on the mesh.
    let mut rels = rels;
    rels[0]["remote_app_data"] = serde_json::to_value(&provider).expect("bag JSON");
    let out = run(
        tester(),
        &tester_in(
            "receiver1/0",
            "prod",
            rels,
            json!([{"hook": "service-mesh-relation-changed", "relation": 1}]),
        ),
    );
    let labels: Value = serde_json::from_str(&provider["labels"]).expect("labels JSON");
    assert_eq!(
        labels,
        json!({
            "istio.io/dataplane-mode": "ambient",
            "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint",
            "istio.io/use-waypoint-namespace": "prod",
        })
    );
    let mut expected = labels;
    expected["app.kubernetes.io/name"] = json!("receiver1");
    let sts = object(&out, "StatefulSet", "receiver1").expect("StatefulSet");
    assert_eq!(sts["spec"]["template"]["metadata"]["labels"], expected);
    let svc = object(&out, "Service", "receiver1").expect("Service");
    for (k, v) in expected
        .as_object()
        .expect("labels")
        .iter()
        .filter(|(k, _)| k.starts_with("istio.io/"))
    {
        assert_eq!(&svc["metadata"]["labels"][k], v, "Service label {k}");
    }
}

#[test]
fn cross_model_source_is_the_real_client() {
    // The client: `sender` in model cos, related to the receiver's offer (seen as receiver1).
    let out = run(
        tester(),
        &tester_in(
            "sender/0",
            "cos",
            json!([
                {"id": 7, "endpoint": "outbound", "remote_app": "receiver1", "remote_units": ["receiver1/0"]},
                {"id": 8, "endpoint": "require-cmr-mesh", "remote_app": "receiver1", "remote_units": ["receiver1/0"]},
            ]),
            json!([{"hook": "require-cmr-mesh-relation-created", "relation": 8}]),
        ),
    );
    let cmr_data = app_data(&out, 8)["cmr_data"].clone();

    // The receiver in prod sees the client as remote-<hex> on both relations.
    let out = run(
        tester(),
        &tester_in(
            "receiver1/0",
            "prod",
            json!([
                {"id": 1, "endpoint": "service-mesh", "remote_app": "istio-beacon-k8s", "remote_units": ["istio-beacon-k8s/0"]},
                {"id": 2, "endpoint": "inbound", "remote_app": REMOTE, "remote_units": [format!("{REMOTE}/0")]},
                {"id": 5, "endpoint": "provide-cmr-mesh", "remote_app": REMOTE,
                 "remote_units": [format!("{REMOTE}/0")], "remote_app_data": {"cmr_data": cmr_data}},
            ]),
            json!([
                {"hook": "service-mesh-relation-created", "relation": 1},
                {"hook": "provide-cmr-mesh-relation-changed", "relation": 5},
            ]),
        ),
    );
    let policies = app_data(&out, 1)["policies"].clone();

    let out = run(beacon(), &beacon_with("receiver1", &policies));
    let p = policy_from(&out, "cluster.local/ns/cos/sa/sender");
    assert_eq!(p["metadata"]["namespace"], "prod");
    assert_eq!(
        p["spec"]["targetRefs"],
        json!([{"group": "", "kind": "Service", "name": "receiver1"}])
    );
    assert!(
        !serde_json::to_string(&out.kubernetes)
            .expect("JSON")
            .contains(REMOTE),
        "the local alias never becomes a principal"
    );
}
