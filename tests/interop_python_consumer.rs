//! Interop with the real library: the contract's worked consumer (`mydb` in `prod`,
//! beacon-contract.md §2.2) written in Python on charmlibs-interfaces-service-mesh
//! (tests/python/consumer_charm) is played through charm-sim; the `policies` it commits are fed
//! to our beacon, which must apply §3.12's two AuthorizationPolicies for mydb; the beacon's
//! provider databag is fed back and must be parsed by the library without error.
//! Needs the oracle venv (`scripts/setup-python.sh`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    DEMO_POLICIES, PROVIDER_LABELS, PROVIDER_MESH_TYPE, assert_all_ok, charm_dir, object, objects,
    owned_policy, play_json,
};
use serde_json::{Value, json};

const REMOTE: &str = "remote-0123456789abcdef0123456789abcdef";
const WAYPOINT: &str = "prod-istio-beacon-k8s-waypoint";

/// The venv python, checked to import the real library.
fn venv_python() -> PathBuf {
    let python = common::repo().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: create the oracle venv with scripts/setup-python.sh",
        python.display()
    );
    let import = Command::new(&python)
        .args(["-c", "import ops, charmlibs.interfaces.service_mesh"])
        .output()
        .expect("cannot start the venv python");
    assert!(
        import.status.success(),
        "the venv lacks ops or charmlibs-interfaces-service-mesh (scripts/setup-python.sh): {}",
        String::from_utf8_lossy(&import.stderr)
    );
    python
}

/// A fresh copy of the Python charm (ops keeps its unit state in the charm dir), with a
/// `venv` link its dispatch runs the interpreter through.
fn consumer_charm() -> tempfile::TempDir {
    let python = venv_python();
    let venv = python.parent().and_then(Path::parent).expect("venv dir");
    let src = common::repo().join("tests/python/consumer_charm");
    let dir = tempfile::tempdir().expect("temp dir");
    for file in ["charm.py", "metadata.yaml", "dispatch"] {
        std::fs::copy(src.join(file), dir.path().join(file)).expect("copy charm file");
    }
    std::os::unix::fs::symlink(venv, dir.path().join("venv")).expect("link venv");
    dir
}

/// Our app databag of relation `id` after the last step.
fn app_data(out: &Value, id: u64) -> &Value {
    &out["relations"]
        .as_array()
        .expect("relations")
        .iter()
        .find(|r| r["id"] == id)
        .expect("relation in output")["local_app_data"]
}

/// `mydb/0`, leader, in `prod`, with the worked example's relations: the beacon sent
/// `provider_bag`; `kubernetes` lists the objects that exist before the first step.
fn consumer_scenario(provider_bag: Value, kubernetes: Value, steps: Value) -> Value {
    json!({
        "model": {"name": "prod", "uuid": "7b0e1c9e-0000-4000-8000-000000000002"},
        "unit": "mydb/0",
        "leader": true,
        "relations": [
            {"id": 1, "endpoint": "service-mesh", "remote_app": "istio-beacon-k8s",
             "remote_units": ["istio-beacon-k8s/0"], "remote_app_data": provider_bag},
            {"id": 2, "endpoint": "database", "remote_app": "myapp", "remote_units": ["myapp/0"]},
            {"id": 3, "endpoint": "metrics-endpoint", "remote_app": REMOTE,
             "remote_units": [format!("{REMOTE}/0")]},
            {"id": 4, "endpoint": "provide-cmr-mesh", "remote_app": REMOTE,
             "remote_units": [format!("{REMOTE}/0")],
             "remote_app_data": {"cmr_data": r#"{"app_name": "prometheus", "juju_model_name": "cos"}"#}},
        ],
        "kubernetes": kubernetes,
        "steps": steps,
    })
}

/// The beacon in `prod` (1 unit, default config) serving `mydb`, which sent `policies`.
fn beacon_scenario(policies: &str) -> Value {
    json!({
        "model": {"name": "prod", "uuid": "7b0e1c9e-0000-4000-8000-000000000001"},
        "unit": "istio-beacon-k8s/0",
        "leader": true,
        "planned_units": 1,
        "relations": [
            {"id": 1, "endpoint": "peers", "remote_units": []},
            {"id": 3, "endpoint": "service-mesh", "remote_app": "mydb",
             "remote_units": ["mydb/0"], "remote_app_data": {"policies": policies}},
        ],
        "containers": {"metrics-proxy": {"can_connect": true}},
        "kubernetes": common::beacon_cluster(WAYPOINT),
        "crds": "default",
        "steps": [
            {"hook": "service-mesh-relation-created", "relation": 3},
            {"hook": "service-mesh-relation-joined", "relation": 3, "remote_unit": "mydb/0"},
            {"hook": "service-mesh-relation-changed", "relation": 3},
        ],
    })
}

/// The consumer mydb's StatefulSet and Service, as Juju creates them.
fn mydb_workload() -> Value {
    json!([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "mydb", "namespace": "prod"},
         "spec": {"serviceName": "mydb", "selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
                  "template": {"metadata": {"labels": {"app.kubernetes.io/name": "mydb"}},
                               "spec": {"containers": [{"name": "charm", "image": "charm"}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "mydb", "namespace": "prod"},
         "spec": {"selector": {"app.kubernetes.io/name": "mydb"}, "ports": [{"port": 5432}]}},
    ])
}

#[test]
fn python_consumer_through_our_beacon_and_back() {
    // 1. The Python consumer on the real library commits its policies.
    let charm = consumer_charm();
    let out = play_json(
        charm.path(),
        &consumer_scenario(
            json!({}),
            json!([]),
            json!([
                {"hook": "service-mesh-relation-created", "relation": 1},
                {"hook": "database-relation-created", "relation": 2},
                {"hook": "metrics-endpoint-relation-created", "relation": 3},
                {"hook": "provide-cmr-mesh-relation-created", "relation": 4},
                {"hook": "provide-cmr-mesh-relation-changed", "relation": 4},
            ]),
        ),
    );
    assert_all_ok(&out, "consumer");
    let bag = app_data(&out, 1);
    assert_eq!(
        bag.as_object().map(|b| b.keys().collect::<Vec<_>>()),
        Some(vec![&"policies".to_owned()]),
        "the consumer's databag holds only `policies`"
    );
    let policies = bag["policies"].as_str().expect("policies is a string");
    assert_eq!(
        policies, DEMO_POLICIES,
        "the library's `policies` is §2.2's"
    );

    // 2. Our beacon turns exactly that value into §3.12's policies for mydb.
    let out = play_json(charm_dir(), &beacon_scenario(policies));
    assert_all_ok(&out, "beacon");
    let mut names = objects(&out, "AuthorizationPolicy");
    names.sort();
    assert_eq!(
        names,
        vec![
            "prod/istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3",
            "prod/istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a",
        ]
    );
    let app_policy = "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3";
    assert_eq!(
        object(&out, "AuthorizationPolicy", "prod", app_policy),
        Some(&owned_policy(
            app_policy,
            "prod-istio-beacon-k8s",
            json!({
                "rules": [{
                    "from": [{"source": {"principals": ["cluster.local/ns/prod/sa/myapp"]}}],
                    "to": [{"operation": {
                        "methods": ["GET", "POST"],
                        "paths": ["/api", "/health"],
                        "ports": ["5432", "8080"],
                    }}],
                }],
                "targetRefs": [{"group": "", "kind": "Service", "name": "mydb"}],
            })
        ))
    );
    let unit_policy = "istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a";
    assert_eq!(
        object(&out, "AuthorizationPolicy", "prod", unit_policy),
        Some(&owned_policy(
            unit_policy,
            "prod-istio-beacon-k8s",
            json!({
                "rules": [{
                    "from": [{"source": {"principals": ["cluster.local/ns/cos/sa/prometheus"]}}],
                    "to": [{"operation": {"ports": ["9090"]}}],
                }],
                "selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
            })
        ))
    );
    let provider = app_data(&out, 3).clone();
    assert_eq!(
        provider,
        json!({"labels": PROVIDER_LABELS, "mesh_type": PROVIDER_MESH_TYPE}),
        "the beacon's provider databag is §2.1's"
    );

    // 3. The beacon's databag, fed back, parses in the library: the consumer reports it and
    //    labels its StatefulSet and Service.
    let workload = mydb_workload();
    let charm = consumer_charm();
    let out = play_json(
        charm.path(),
        &consumer_scenario(
            provider,
            workload,
            json!([{"hook": "service-mesh-relation-changed", "relation": 1}]),
        ),
    );
    assert_all_ok(&out, "consumer with the beacon's data");
    assert_eq!(
        out["steps"][0]["unit_status"],
        json!({
            "status": "active",
            "message": format!("mesh_type=istio labels={PROVIDER_LABELS}"),
        })
    );
    let mut expected: Value = serde_json::from_str(PROVIDER_LABELS).expect("labels JSON");
    expected["app.kubernetes.io/name"] = json!("mydb");
    let sts = object(&out, "StatefulSet", "prod", "mydb").expect("StatefulSet mydb");
    assert_eq!(sts["spec"]["template"]["metadata"]["labels"], expected);
    let svc = object(&out, "Service", "prod", "mydb").expect("Service mydb");
    assert_eq!(
        svc["metadata"]["labels"],
        serde_json::from_str::<Value>(PROVIDER_LABELS).expect("JSON")
    );
}

/// Under a non-Istio `mesh-backend` the beacon publishes no `labels` or `mesh_type` (it
/// deletes the keys it wrote under Istio); the real library reads that bag as "no data":
/// the consumer's hook succeeds and it puts no Istio label on its workload.
#[test]
fn python_consumer_reads_a_non_istio_beacon_as_no_data() {
    let mut scenario = beacon_scenario(DEMO_POLICIES);
    scenario["steps"].as_array_mut().expect("steps").extend([
        json!({"update": {"config": {"mesh-backend": "linkerd"}}}),
        json!("config-changed"),
    ]);
    let out = play_json(charm_dir(), &scenario);
    assert_all_ok(&out, "beacon");
    let provider = app_data(&out, 3).clone();
    assert_eq!(provider, json!({}), "no labels, no mesh_type");

    let workload = mydb_workload();
    let charm = consumer_charm();
    let out = play_json(
        charm.path(),
        &consumer_scenario(
            provider,
            workload,
            json!([{"hook": "service-mesh-relation-changed", "relation": 1}]),
        ),
    );
    assert_all_ok(&out, "consumer with a non-Istio beacon's data");
    assert_eq!(
        out["steps"][0]["unit_status"],
        json!({"status": "active", "message": "mesh_type=None labels={}"})
    );
    let sts = object(&out, "StatefulSet", "prod", "mydb").expect("StatefulSet mydb");
    assert_eq!(
        sts["spec"]["template"]["metadata"]["labels"],
        json!({"app.kubernetes.io/name": "mydb"})
    );
    let svc = object(&out, "Service", "prod", "mydb").expect("Service mydb");
    assert_eq!(svc["metadata"]["labels"], Value::Null);
}
