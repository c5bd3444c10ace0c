//! examples/demo-model/scenario.yaml must reproduce the contract's worked example (§3.12).

mod common;

use std::path::Path;

use common::{exit_code, owned_policy, run_file, status, writes};
use serde_json::{Value, json};

fn policy(name: &str, spec: Value) -> Value {
    owned_policy(name, "prod-istio-beacon-k8s", spec)
}

#[test]
fn demo_model_yields_exactly_the_worked_example_policies() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-model/scenario.yaml");
    let out = run_file(&scenario);
    let steps = out["steps"].as_array().expect("steps").len();
    for i in 0..steps {
        assert_eq!(exit_code(&out, i), 0, "step {i}");
    }
    assert_eq!(
        status(&out, steps - 1),
        Some(("active".into(), String::new()))
    );
    // The last reconcile found everything in place: reads only.
    assert!(writes(&out, steps - 1).is_empty());

    let mut policies: Vec<Value> = out["kubernetes"]
        .as_array()
        .expect("kubernetes")
        .iter()
        .filter(|o| o["kind"] == "AuthorizationPolicy")
        .map(|o| {
            // Compare what the charm wrote, not server bookkeeping.
            json!({"apiVersion": o["apiVersion"], "kind": o["kind"], "spec": o["spec"], "metadata": {
                "name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"], "labels": o["metadata"]["labels"]}})
        })
        .collect();
    policies.sort_by_key(|p| {
        p["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    });
    let rule = |principal: &str, operation: Value| json!([{"from": [{"source": {"principals": [principal]}}], "to": [{"operation": operation}]}]);
    assert_eq!(
        policies,
        vec![
            policy(
                "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3",
                json!({
                    "targetRefs": [{"group": "", "kind": "Service", "name": "mydb"}],
                    "rules": rule(
                        "cluster.local/ns/prod/sa/myapp",
                        json!({"ports": ["5432", "8080"], "methods": ["GET", "POST"], "paths": ["/api", "/health"]})
                    ),
                })
            ),
            policy(
                "istio-beacon-k8s-prod-policy-otel-collector-prod-istio-beacon-k8s-7d3e1c59",
                json!({
                    "selector": {"matchLabels": {"app.kubernetes.io/name": "istio-beacon-k8s"}},
                    "rules": rule("cluster.local/ns/prod/sa/otel-collector", json!({"ports": ["15090"]})),
                })
            ),
            policy(
                "istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a",
                json!({
                    "selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
                    "rules": rule("cluster.local/ns/cos/sa/prometheus", json!({"ports": ["9090"]})),
                })
            ),
        ]
    );
}
