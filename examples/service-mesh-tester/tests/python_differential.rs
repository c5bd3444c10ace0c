//! The Rust tester under charm-sim against a Python charm with the same declarations on the
//! real `charmlibs-interfaces-service-mesh` library under `ops.testing`
//! (`tests/python/consumer/python_tester.py`): for the same scenario file, both must commit
//! the same bytes in every relation's app databag (`policies`, `cmr_data`) and reconcile the
//! same labels onto the workload (Python's Kubernetes calls are recorded).
//!
//! The scenarios avoid the two places where the Rust library deliberately differs (it
//! re-sends `cmr_data` on leader-elected, and skips a non-JSON `cmr_data` instead of
//! failing); those are covered in `tester.rs`.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use charm_sim::Output;
use common::{object, run, tester};
use serde_json::{Value, json};

const REMOTE: &str = "remote-0123456789abcdef0123456789abcdef";

fn python(scenario: &Value) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = root.join(".venv/bin/python");
    assert!(
        py.exists(),
        "Python venv missing: run scripts/setup-python.sh"
    );
    let mut child = Command::new(py)
        .arg(root.join("tests/python/consumer/python_tester.py"))
        .arg(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python charm");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(scenario.to_string().as_bytes())
        .expect("send the scenario");
    let out = child.wait_with_output().expect("Python charm output");
    assert!(
        out.status.success(),
        "Python charm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("Python output is JSON")
}

fn workload(app: &str, ns: &str) -> Value {
    json!([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": app, "namespace": ns},
         "spec": {"serviceName": app, "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                  "template": {"metadata": {"labels": {"app.kubernetes.io/name": app}},
                               "spec": {"containers": [{"name": "charm", "image": "charm"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": ns},
         "spec": {"selector": {"app.kubernetes.io/name": app}, "ports": [{"port": 8080}]}},
    ])
}

fn scenario(unit: &str, model: &str, leader: bool, relations: Value, steps: Value) -> Value {
    let app = unit.split('/').next().unwrap_or(unit);
    json!({
        "model": {"name": model, "uuid": "7b0e1c9e-0000-4000-8000-000000000001"},
        "unit": unit,
        "leader": leader,
        "relations": relations,
        "kubernetes": workload(app, model),
        "steps": steps,
    })
}

/// Run both and compare every committed app databag and the label record.
fn same_as_python(sc: &Value) -> Output {
    let rust = run(tester(), sc);
    let py = python(sc);
    let py_rels = py["relations"].as_object().expect("relations");
    assert_eq!(py_rels.len(), rust.relations.len(), "same relations left");
    for rel in &rust.relations {
        let ours = serde_json::to_value(&rel.local_app_data).expect("bag JSON");
        assert_eq!(
            py_rels[&rel.id.to_string()],
            ours,
            "relation {} ({}) app databag differs",
            rel.id,
            rel.endpoint
        );
    }
    let app = sc["unit"]
        .as_str()
        .and_then(|u| u.split('/').next())
        .expect("unit");
    let record = object(
        &rust,
        "ConfigMap",
        &format!("juju-service-mesh-{app}-labels"),
    )
    .map(|cm| cm["data"]["labels"].clone());
    if py["configmap_deleted"] == json!(true) {
        assert_eq!(record, None, "the label record is deleted");
    } else {
        assert_eq!(record.unwrap_or(Value::Null), py["record"], "label record");
    }
    rust
}

#[test]
fn leader_lifecycle_matches_python() {
    let rels = json!([
        {"id": 1, "endpoint": "service-mesh", "remote_app": "istio-beacon-k8s", "remote_units": ["istio-beacon-k8s/0"],
         "remote_app_data": {"labels": "{\"istio.io/dataplane-mode\": \"ambient\", \"istio.io/use-waypoint\": \"prod-istio-beacon-k8s-waypoint\"}", "mesh_type": "\"istio\""}},
        {"id": 2, "endpoint": "inbound", "remote_app": "sender1", "remote_units": ["sender1/0"]},
        {"id": 3, "endpoint": "inbound-unit", "remote_app": "sender2", "remote_units": ["sender2/0"]},
        {"id": 4, "endpoint": "peers", "remote_units": ["receiver1/1"]},
        {"id": 5, "endpoint": "metrics-endpoint", "remote_app": "prometheus", "remote_units": ["prometheus/0"]},
    ]);
    let steps = json!([
        {"hook": "service-mesh-relation-created", "relation": 1},
        {"hook": "service-mesh-relation-changed", "relation": 1},
        {"update": {"add_relation": {"id": 9, "endpoint": "inbound", "remote_app": "sender9", "remote_units": ["sender9/0"]}}},
        {"hook": "inbound-relation-created", "relation": 9},
        {"hook": "inbound-unit-relation-broken", "relation": 3},
        {"update": {"config": {"peer-communication": false}}},
        "config-changed",
        {"hook": "service-mesh-relation-changed", "relation": 1},
        "upgrade-charm",
    ]);
    let out = same_as_python(&scenario("receiver1/0", "prod", true, rels.clone(), steps));
    assert!(
        out.relations
            .iter()
            .any(|r| r.local_app_data.contains_key("policies"))
    );

    // Leaving the mesh.
    let steps = json!([
        {"hook": "service-mesh-relation-created", "relation": 1},
        {"hook": "service-mesh-relation-changed", "relation": 1},
        {"hook": "service-mesh-relation-broken", "relation": 1},
    ]);
    same_as_python(&scenario("receiver1/0", "prod", true, rels, steps));
}

#[test]
fn non_leader_matches_python() {
    let rels = json!([
        {"id": 1, "endpoint": "service-mesh", "remote_app": "istio-beacon-k8s", "remote_units": ["istio-beacon-k8s/0"],
         "remote_app_data": {"labels": "{\"k\": \"v\"}", "mesh_type": "\"istio\""}},
        {"id": 2, "endpoint": "inbound", "remote_app": "sender1", "remote_units": ["sender1/0"]},
        {"id": 4, "endpoint": "peers", "remote_units": ["receiver1/0"]},
    ]);
    let steps = json!([
        {"hook": "service-mesh-relation-created", "relation": 1},
        {"hook": "inbound-relation-created", "relation": 2},
        "config-changed",
        {"hook": "service-mesh-relation-changed", "relation": 1},
    ]);
    same_as_python(&scenario("receiver1/1", "prod", false, rels, steps));
}

#[test]
fn cross_model_sources_match_python() {
    let rels = json!([
        {"id": 1, "endpoint": "service-mesh", "remote_app": "istio-beacon-k8s", "remote_units": ["istio-beacon-k8s/0"]},
        {"id": 2, "endpoint": "inbound", "remote_app": REMOTE, "remote_units": [format!("{REMOTE}/0")]},
        {"id": 3, "endpoint": "inbound-unit", "remote_app": "remote-fedcba9876543210fedcba9876543210",
         "remote_units": ["remote-fedcba9876543210fedcba9876543210/0"]},
        {"id": 5, "endpoint": "provide-cmr-mesh", "remote_app": REMOTE, "remote_units": [format!("{REMOTE}/0")],
         "remote_app_data": {"cmr_data": "{\"app_name\": \"sender\", \"juju_model_name\": \"cos\"}"}},
        // Schema-invalid: logged and skipped by both.
        {"id": 6, "endpoint": "provide-cmr-mesh", "remote_app": "remote-fedcba9876543210fedcba9876543210",
         "remote_units": ["remote-fedcba9876543210fedcba9876543210/0"],
         "remote_app_data": {"cmr_data": "{\"app_name\": \"only\"}"}},
    ]);
    let steps = json!([
        {"hook": "service-mesh-relation-created", "relation": 1},
        {"hook": "provide-cmr-mesh-relation-changed", "relation": 5},
    ]);
    let out = same_as_python(&scenario("receiver1/0", "prod", true, rels, steps));
    let policies = &common::app_data(&out, 1)["policies"];
    assert!(policies.contains(r#""source_namespace": "cos", "source_app_name": "sender""#));
}

#[test]
fn cmr_requirer_matches_python() {
    let rels = json!([
        {"id": 7, "endpoint": "outbound", "remote_app": "receiver1", "remote_units": ["receiver1/0"]},
        {"id": 8, "endpoint": "require-cmr-mesh", "remote_app": "receiver1", "remote_units": ["receiver1/0"]},
        {"id": 9, "endpoint": "require-cmr-mesh", "remote_app": "other", "remote_units": ["other/0"]},
    ]);
    let steps = json!([{"hook": "require-cmr-mesh-relation-created", "relation": 8}]);
    let out = same_as_python(&scenario("sender/0", "cos", true, rels, steps));
    assert!(
        out.relations
            .iter()
            .any(|r| r.local_app_data.contains_key("cmr_data"))
    );
}

#[test]
fn auto_join_off_matches_python() {
    let rels = json!([
        {"id": 1, "endpoint": "service-mesh", "remote_app": "istio-beacon-k8s", "remote_units": ["istio-beacon-k8s/0"],
         "remote_app_data": {"labels": "{\"k\": \"v\"}", "mesh_type": "\"istio\""}},
        {"id": 2, "endpoint": "inbound", "remote_app": "sender1", "remote_units": ["sender1/0"]},
    ]);
    let mut sc = scenario(
        "receiver1/0",
        "prod",
        true,
        rels,
        json!([
            {"hook": "service-mesh-relation-created", "relation": 1},
            {"hook": "service-mesh-relation-changed", "relation": 1},
            {"hook": "service-mesh-relation-broken", "relation": 1},
        ]),
    );
    sc["config"] = json!({"auto-join-mesh": false});
    same_as_python(&sc);
}
