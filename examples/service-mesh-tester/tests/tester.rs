//! The Rust tester charm under charm-sim: its policies, cmr_data, echo servers and mesh
//! labels, through the real hook tools, Kubernetes API and Pebble protocols.

mod common;

use charm_sim::Output;
use common::{app_data, object, packed_charm, run, run_file, run_unchecked, tester};
use serde_json::{Value, json};

const MESH_LABELS: &str = r#"{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint", "istio.io/use-waypoint-namespace": "prod"}"#;

/// What the Python tester (charmlibs 1.0.1) writes for these relations: AppPolicy on
/// inbound (sender1), UnitPolicy on inbound-unit (sender2), UnitPolicy on peers (itself).
const POLICIES_WITH_PEERS: &str = r#"[{"source_namespace": "prod", "source_app_name": "sender1", "target_namespace": "prod", "target_app_name": "receiver1", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [8080, 8081], "methods": ["GET", "POST"], "paths": ["/foo", "/bar/"]}]}, {"source_namespace": "prod", "source_app_name": "sender2", "target_namespace": "prod", "target_app_name": "receiver1", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [8080, 8081], "methods": null, "paths": null}]}, {"source_namespace": "prod", "source_app_name": "receiver1", "target_namespace": "prod", "target_app_name": "receiver1", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [8080, 8081], "methods": null, "paths": null}]}]"#;

/// The StatefulSet and Service Juju creates for the tester app, plus the namespace.
fn workload(app: &str, ns: &str) -> Value {
    json!([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": app, "namespace": ns},
         "spec": {"serviceName": app, "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                  "template": {"metadata": {"labels": {"app.kubernetes.io/name": app}},
                               "spec": {"containers": [{"name": "charm", "image": "charm"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": ns,
         "labels": {"app.kubernetes.io/name": app}},
         "spec": {"selector": {"app.kubernetes.io/name": app}, "ports": [{"port": 8080}]}},
    ])
}

/// receiver1/0 in prod, related to a beacon (id 1), sender1 on inbound (2), sender2 on
/// inbound-unit (3) and a peer (4).
fn receiver(leader: bool, beacon_data: Value, steps: Value) -> Value {
    json!({
        "model": {"name": "prod", "uuid": "7b0e1c9e-0000-4000-8000-000000000001"},
        "unit": "receiver1/0",
        "leader": leader,
        "relations": [
            {"id": 1, "endpoint": "service-mesh", "remote_app": "istio-beacon-k8s",
             "remote_units": ["istio-beacon-k8s/0"], "remote_app_data": beacon_data},
            {"id": 2, "endpoint": "inbound", "remote_app": "sender1", "remote_units": ["sender1/0"]},
            {"id": 3, "endpoint": "inbound-unit", "remote_app": "sender2", "remote_units": ["sender2/0"]},
            {"id": 4, "endpoint": "peers", "remote_units": ["receiver1/1"]},
        ],
        "kubernetes": workload("receiver1", "prod"),
        "steps": steps,
    })
}

fn beacon_labels() -> Value {
    json!({"labels": MESH_LABELS, "mesh_type": "\"istio\""})
}

fn pod_labels(out: &Output, app: &str) -> Value {
    object(out, "StatefulSet", app).expect("StatefulSet")["spec"]["template"]["metadata"]["labels"]
        .clone()
}

fn service_labels(out: &Output, app: &str) -> Value {
    object(out, "Service", app).expect("Service")["metadata"]["labels"].clone()
}

#[test]
fn leader_writes_the_python_testers_policies_on_relation_created() {
    let out = run(
        tester(),
        &receiver(
            true,
            json!({}),
            json!([{"hook": "service-mesh-relation-created", "relation": 1}]),
        ),
    );
    assert_eq!(
        app_data(&out, 1).get("policies").map(String::as_str),
        Some(POLICIES_WITH_PEERS)
    );
    // Nothing else is written on the mesh relation.
    assert_eq!(app_data(&out, 1).len(), 1);
}

#[test]
fn config_changed_resends_without_the_peer_policy() {
    let out = run(
        tester(),
        &receiver(
            true,
            json!({}),
            json!([
                {"hook": "service-mesh-relation-created", "relation": 1},
                {"update": {"config": {"peer-communication": false}}},
                "config-changed",
            ]),
        ),
    );
    let first = &out.steps[0].relations;
    let policies = |rels: &[charm_sim::output::RelationOutput]| {
        rels.iter()
            .find(|r| r.id == 1)
            .and_then(|r| r.local_app_data.get("policies").cloned())
    };
    assert_eq!(policies(first).as_deref(), Some(POLICIES_WITH_PEERS));
    let without_peers = POLICIES_WITH_PEERS.replace(
        r#", {"source_namespace": "prod", "source_app_name": "receiver1", "target_namespace": "prod", "target_app_name": "receiver1", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [8080, 8081], "methods": null, "paths": null}]}"#,
        "",
    );
    assert_ne!(without_peers, POLICIES_WITH_PEERS);
    assert_eq!(
        app_data(&out, 1).get("policies"),
        Some(&without_peers),
        "config-changed re-sends the policies"
    );
}

#[test]
fn relation_lifecycle_of_a_policy_endpoint_rewrites_policies() {
    let out = run(
        tester(),
        &receiver(
            true,
            json!({}),
            json!([
                {"hook": "service-mesh-relation-created", "relation": 1},
                {"update": {"add_relation": {"id": 9, "endpoint": "inbound", "remote_app": "sender9", "remote_units": ["sender9/0"]}}},
                {"hook": "inbound-relation-created", "relation": 9},
                {"hook": "inbound-relation-broken", "relation": 2},
            ]),
        ),
    );
    let policies = app_data(&out, 1)["policies"].clone();
    assert!(
        policies.contains(r#""source_app_name": "sender9""#),
        "{policies}"
    );
    assert!(
        !policies.contains(r#""source_app_name": "sender1""#),
        "{policies}"
    );
}

#[test]
fn non_leader_writes_nothing_but_joins_the_mesh() {
    let out = run(
        tester(),
        &receiver(
            false,
            beacon_labels(),
            json!([
                {"hook": "service-mesh-relation-created", "relation": 1},
                "config-changed",
                {"hook": "service-mesh-relation-changed", "relation": 1},
            ]),
        ),
    );
    assert!(app_data(&out, 1).is_empty());
    // Every unit labels the workload, as the Python library does.
    assert_eq!(
        service_labels(&out, "receiver1")["istio.io/use-waypoint"],
        "prod-istio-beacon-k8s-waypoint"
    );
}

#[test]
fn auto_join_labels_the_workload_and_leaving_removes_them() {
    let out = run(
        tester(),
        &receiver(
            true,
            beacon_labels(),
            json!([{"hook": "service-mesh-relation-changed", "relation": 1}]),
        ),
    );
    let expected = json!({
        "app.kubernetes.io/name": "receiver1",
        "istio.io/dataplane-mode": "ambient",
        "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint",
        "istio.io/use-waypoint-namespace": "prod",
    });
    assert_eq!(pod_labels(&out, "receiver1"), expected);
    assert_eq!(service_labels(&out, "receiver1"), expected);
    let record = object(&out, "ConfigMap", "juju-service-mesh-receiver1-labels").expect("record");
    assert_eq!(record["data"]["labels"], MESH_LABELS);

    let out = run(
        tester(),
        &receiver(
            true,
            beacon_labels(),
            json!([
                {"hook": "service-mesh-relation-changed", "relation": 1},
                {"hook": "service-mesh-relation-broken", "relation": 1},
            ]),
        ),
    );
    let bare = json!({"app.kubernetes.io/name": "receiver1"});
    assert_eq!(pod_labels(&out, "receiver1"), bare);
    assert_eq!(service_labels(&out, "receiver1"), bare);
    assert!(object(&out, "ConfigMap", "juju-service-mesh-receiver1-labels").is_none());
}

#[test]
fn auto_join_off_never_touches_kubernetes() {
    let mut scenario = receiver(
        true,
        beacon_labels(),
        json!([
            {"hook": "service-mesh-relation-created", "relation": 1},
            {"hook": "service-mesh-relation-changed", "relation": 1},
            {"hook": "service-mesh-relation-broken", "relation": 1},
        ]),
    );
    scenario["config"] = json!({"auto-join-mesh": false});
    let out = run(tester(), &scenario);
    for step in &out.steps {
        assert!(
            step.api_requests.is_empty(),
            "{}: {:?}",
            step.step,
            step.api_requests
        );
    }
    assert_eq!(
        pod_labels(&out, "receiver1"),
        json!({"app.kubernetes.io/name": "receiver1"})
    );
}

#[test]
fn old_provider_with_labels_only_is_joined() {
    let out = run(
        tester(),
        &receiver(
            true,
            json!({"labels": MESH_LABELS}),
            json!([{"hook": "service-mesh-relation-changed", "relation": 1}]),
        ),
    );
    assert_eq!(
        service_labels(&out, "receiver1")["istio.io/dataplane-mode"],
        "ambient"
    );
}

#[test]
fn pebble_ready_starts_one_echo_server_per_port() {
    let out = run(
        tester(),
        &receiver(true, json!({}), json!(["echo-server-pebble-ready"])),
    );
    let status = out.steps[0].unit_status.as_ref().expect("status set");
    assert_eq!(
        serde_json::to_value(status).expect("status JSON"),
        json!({"status": "active", "message": "Echo server running"})
    );
    let plan = &out.pebble["echo-server"].plan;
    for (i, port) in ["8080", "8081"].iter().enumerate() {
        let svc = &plan["services"][format!("echo-server-{i}")];
        assert_eq!(svc["command"], "/bin/echo-server");
        assert_eq!(svc["startup"], "enabled");
        assert_eq!(svc["override"], "replace");
        assert_eq!(svc["environment"], json!({"PORT": port}));
    }
}

/// A sender in model cos with a require-cmr-mesh relation to the receiver's offer.
fn cos_sender(leader: bool, steps: Value) -> Value {
    json!({
        "model": {"name": "cos", "uuid": "7b0e1c9e-0000-4000-8000-000000000002"},
        "unit": "sender/0",
        "leader": leader,
        "relations": [
            {"id": 7, "endpoint": "outbound", "remote_app": "receiver1", "remote_units": ["receiver1/0"]},
            {"id": 8, "endpoint": "require-cmr-mesh", "remote_app": "receiver1", "remote_units": ["receiver1/0"]},
        ],
        "kubernetes": workload("sender", "cos"),
        "steps": steps,
    })
}

#[test]
fn cmr_data_on_relation_created_and_again_on_leader_elected() {
    let expected = r#"{"app_name": "sender", "juju_model_name": "cos"}"#;
    let out = run(
        tester(),
        &cos_sender(
            true,
            json!([{"hook": "require-cmr-mesh-relation-created", "relation": 8}]),
        ),
    );
    assert_eq!(
        app_data(&out, 8).get("cmr_data").map(String::as_str),
        Some(expected)
    );

    // Not leader at relation-created (Python would never send it): the new leader does.
    let out = run(
        tester(),
        &cos_sender(
            false,
            json!([
                {"hook": "require-cmr-mesh-relation-created", "relation": 8},
                {"update": {"leader": true}},
                "leader-elected",
            ]),
        ),
    );
    assert!(
        out.steps[0]
            .relations
            .iter()
            .all(|r| r.local_app_data.is_empty())
    );
    assert_eq!(
        app_data(&out, 8).get("cmr_data").map(String::as_str),
        Some(expected)
    );
}

#[test]
fn bad_cmr_data_is_skipped_not_fatal() {
    let remote = "remote-0123456789abcdef0123456789abcdef";
    let mut scenario = receiver(
        true,
        json!({}),
        json!([{"hook": "provide-cmr-mesh-relation-changed", "relation": 5}]),
    );
    scenario["relations"] = json!([
        {"id": 1, "endpoint": "service-mesh", "remote_app": "istio-beacon-k8s", "remote_units": ["istio-beacon-k8s/0"]},
        {"id": 2, "endpoint": "inbound", "remote_app": remote, "remote_units": [format!("{remote}/0")]},
        {"id": 5, "endpoint": "provide-cmr-mesh", "remote_app": remote, "remote_units": [format!("{remote}/0")],
         "remote_app_data": {"cmr_data": "not json"}},
    ]);
    let out = run(tester(), &scenario);
    let policies = &app_data(&out, 1)["policies"];
    // Without usable cmr_data the source is the local alias, as in Python.
    assert!(
        policies.contains(&format!(r#""source_app_name": "{remote}""#)),
        "{policies}"
    );
    assert!(
        out.steps[0]
            .logs
            .iter()
            .any(|l| l.message.contains("Invalid CMR data")),
        "the bad value is logged"
    );
}

/// The committed scenario, played against the packed `.charm` (as `charm-sim run` would).
#[test]
fn packed_charm_plays_the_committed_scenario() {
    let dir = tempfile::tempdir().expect("temp dir");
    let charm = packed_charm(dir.path());
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/tester_joins.yaml");
    let out = run_file(&charm, &scenario);
    let status = out.steps[1].unit_status.as_ref().expect("status");
    assert_eq!(status.message, "Echo server running");
    let policies = &app_data(&out, 1)["policies"];
    // peer-communication was turned off before the last config-changed.
    assert!(
        !policies.contains(r#""source_app_name": "receiver1""#),
        "{policies}"
    );
    assert!(
        policies.contains(r#""source_app_name": "sender2""#),
        "{policies}"
    );
    assert_eq!(
        service_labels(&out, "receiver1")["istio.io/dataplane-mode"],
        "ambient"
    );
}

/// A traffic intent in the `traffic` config option, as an operator would type it (extra
/// spaces, a non-canonical duration).
const TRAFFIC_CONFIG: &str = r#"{ "version": 1, "load_balancer": {"consistent_hash": {"http_cookie": {"name": "session", "ttl": "1m30s"}}},
  "ports": [{"port": 8081, "connection_pool": {"http": {"http2_max_requests": 100}}}], "mtls": "STRICT" }"#;

/// What the tester writes for it: `json.dumps` spacing, key order fixed, `90s`.
const TRAFFIC_WIRE: &str = r#"{"version": 1, "load_balancer": {"consistent_hash": {"http_cookie": {"name": "session", "ttl": "90s"}}}, "ports": [{"port": 8081, "connection_pool": {"http": {"http2_max_requests": 100}}}], "mtls": "STRICT"}"#;

fn with_config(mut scenario: Value, config: Value) -> Value {
    scenario["config"] = config;
    scenario
}

#[test]
fn traffic_config_is_sent_with_the_policies_and_removed_when_cleared() {
    let out = run(
        tester(),
        &with_config(
            receiver(
                true,
                json!({}),
                json!([
                    {"hook": "service-mesh-relation-created", "relation": 1},
                    {"update": {"config": {"traffic": null}}},
                    "config-changed",
                ]),
            ),
            json!({"traffic": TRAFFIC_CONFIG}),
        ),
    );
    let bag = |i: usize| {
        out.steps[i]
            .relations
            .iter()
            .find(|r| r.id == 1)
            .expect("mesh relation")
            .local_app_data
            .clone()
    };
    let first = bag(0);
    assert_eq!(first.get("traffic").map(String::as_str), Some(TRAFFIC_WIRE));
    // The policies are unchanged by the intent.
    assert_eq!(
        first.get("policies").map(String::as_str),
        Some(POLICIES_WITH_PEERS)
    );
    // Back to the default (empty): the key is removed, the policies stay.
    let last = app_data(&out, 1);
    assert_eq!(last.get("traffic"), None, "{last:?}");
    assert_eq!(
        last.get("policies").map(String::as_str),
        Some(POLICIES_WITH_PEERS)
    );
}

#[test]
fn traffic_set_by_config_changed_reaches_the_beacon() {
    let out = run(
        tester(),
        &receiver(
            true,
            json!({}),
            json!([
                {"hook": "service-mesh-relation-created", "relation": 1},
                {"update": {"config": {"traffic": TRAFFIC_CONFIG}}},
                "config-changed",
            ]),
        ),
    );
    let first = &out.steps[0].relations;
    let mesh = first.iter().find(|r| r.id == 1).expect("mesh relation");
    assert!(!mesh.local_app_data.contains_key("traffic"));
    assert!(mesh.local_app_data.contains_key("policies"));
    assert_eq!(
        app_data(&out, 1).get("traffic").map(String::as_str),
        Some(TRAFFIC_WIRE)
    );
}

#[test]
fn an_invalid_traffic_config_fails_the_hook_naming_the_field_and_writes_nothing() {
    let out = run_unchecked(
        tester(),
        &with_config(
            receiver(
                true,
                json!({}),
                json!([{"hook": "service-mesh-relation-created", "relation": 1}]),
            ),
            json!({"traffic": r#"{"version": 1, "load_balancer": {"simple": "BOGUS"}}"#}),
        ),
    );
    let step = &out.steps[0];
    assert_ne!(step.exit_code, 0);
    let logged = format!("{}{}{:?}", step.stdout, step.stderr, step.logs);
    assert!(
        logged.contains("traffic.load_balancer.simple: must be one of"),
        "{logged}"
    );
    assert!(app_data(&out, 1).is_empty());
}

#[test]
fn a_non_leader_never_writes_traffic() {
    let out = run(
        tester(),
        &with_config(
            receiver(
                false,
                json!({}),
                json!([{"hook": "service-mesh-relation-created", "relation": 1}, "config-changed"]),
            ),
            json!({"traffic": TRAFFIC_CONFIG}),
        ),
    );
    assert!(app_data(&out, 1).is_empty());
}
