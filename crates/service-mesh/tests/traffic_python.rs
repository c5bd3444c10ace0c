//! `traffic` is invisible to the real Python library: its provider
//! (`charmlibs-interfaces-service-mesh` 1.0.1 in `.venv`, `ServiceMeshProvider.mesh_info`, what
//! the Python beacon reads) gives exactly the same policies from a consumer app databag with
//! a `traffic` key (valid, invalid, a future version, not even JSON) as without it.
//! Oracle: `tests/python/consumer/consumer_oracle.py`, request kind `provider_parse_bag`.

#[allow(dead_code)] // env_num is for the seeded differential tests
mod oracle;
use oracle::run_oracle;

use serde_json::{Value, json};
use service_mesh::TrafficIntent;
use service_mesh::traffic::TRAFFIC_KEY;

/// The contract's worked example (§2.2).
const POLICIES: &str = r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [5432, 8080], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}]}, {"source_namespace": "cos", "source_app_name": "prometheus", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9090], "methods": null, "paths": null}]}]"#;

const FULL: &str = r#"{"version": 1, "load_balancer": {"consistent_hash": {"http_cookie": {"name": "session", "path": "/", "ttl": "1h"}, "minimum_ring_size": 1024}}, "connection_pool": {"tcp": {"max_connections": 100, "connect_timeout": "5s"}}, "outlier_detection": {"consecutive_5xx_errors": 5}, "tls": {"mode": "ISTIO_MUTUAL"}, "ports": [{"port": 8080, "load_balancer": {"simple": "LEAST_REQUEST"}}], "mtls": "STRICT"}"#;

#[test]
fn the_python_provider_reads_the_same_policies_with_or_without_traffic() {
    // The value a Rust consumer writes, plus values a Rust beacon refuses.
    let written = TrafficIntent::from_json(FULL).expect("valid").to_json();
    let traffic_values = [
        written.as_str(),
        r#"{"version": 1}"#,
        r#"{"version": 2, "something_new": true}"#,
        r#"{"version": 1, "load_balancer": {"simple": "BOGUS"}}"#,
        "not json at all",
    ];
    let mut requests =
        vec![json!({"id": 0, "kind": "provider_parse_bag", "databag": {"policies": POLICIES}})];
    for (i, t) in traffic_values.iter().enumerate() {
        // Before and after `policies` in the bag: order does not matter either.
        requests.push(json!({"id": 2 * i + 1, "kind": "provider_parse_bag",
            "databag": {"policies": POLICIES, TRAFFIC_KEY: t}}));
        requests.push(json!({"id": 2 * i + 2, "kind": "provider_parse_bag",
            "databag": {TRAFFIC_KEY: t, "policies": POLICIES}}));
    }
    // A bag with only `traffic` (no policies yet): no policies, no error.
    requests
        .push(json!({"id": 99, "kind": "provider_parse_bag", "databag": {TRAFFIC_KEY: written}}));
    let answers = run_oracle("tests/python/consumer/consumer_oracle.py", &requests);
    assert_eq!(answers.len(), requests.len());
    let baseline = &answers[0];
    assert_eq!(
        baseline["policies"],
        Value::String(POLICIES.to_owned()),
        "{baseline}"
    );
    for a in &answers[1..answers.len() - 1] {
        assert_eq!(a["policies"], baseline["policies"], "{a}");
        assert!(a.get("error").is_none(), "{a}");
    }
    assert_eq!(answers[answers.len() - 1]["policies"], "[]");
}
