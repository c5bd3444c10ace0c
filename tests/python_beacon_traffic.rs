//! The real Python beacon ignores a consumer's `traffic` key. Consumers on our Rust library
//! may write `traffic` (a versioned JSON traffic intent, `service_mesh::traffic`) next to
//! `policies` on `service-mesh`. The upstream Python istio-beacon-k8s charm
//! (tests/python/python_beacon, see its SOURCES.md) is played through charm-sim twice on the
//! contract's worked example (`mydb` in `prod` with §2.2's `policies`): once with no
//! `traffic` key, once with intents serialized by `TrafficIntent::to_json`, one of them
//! changed mid-run. Both runs must match exactly: every hook exits 0, the same statuses,
//! the same API requests, the same relation data after every hook, the same objects at the
//! end (the worked example's AuthorizationPolicies among them), and no DestinationRule or
//! PeerAuthentication requested or created. A control run of our beacon on the same bag
//! renders the intent, so the key the Python beacon ignores is a valid one.
//!
//! Needs `.venv-python-beacon` (`scripts/setup-python-beacon.sh`: the charm's dependencies
//! from PyPI as its uv.lock pins them); without it the test skips with a message, except
//! under `CI=true`, where it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    DEMO_POLICIES, PROVIDER_LABELS, PROVIDER_MESH_TYPE, assert_all_ok, charm_dir, object, objects,
    owned_policy, play_json,
};
use serde_json::{Value, json};
use service_mesh::traffic::{
    ConnectionPool, ConsistentHash, HashKey, HttpCookie, LoadBalancer, MtlsMode, OutlierDetection,
    PortTrafficPolicy, SimpleLb, TcpSettings, TrafficIntent, TrafficPolicy,
};

const WAYPOINT: &str = "prod-istio-beacon-k8s-waypoint";
const INSTANCE: &str = "prod-istio-beacon-k8s";
const APP_POLICY: &str = "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3";
const UNIT_POLICY: &str = "istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a";

/// The Python beacon's venv, checked to import what the charm imports; `None` (after saying
/// so) outside CI.
fn venv() -> Option<PathBuf> {
    let venv = common::repo().join(".venv-python-beacon");
    let python = venv.join("bin/python");
    let problem = if !python.is_file() {
        format!("{} is missing", python.display())
    } else {
        let import = Command::new(&python)
            .args([
                "-c",
                "import ops, lightkube, pydantic, cosl, canonical_service_mesh, \
                 charmlibs.interfaces.service_mesh, opentelemetry.exporter.otlp.proto.http",
            ])
            .output()
            .expect("cannot start the venv python");
        if import.status.success() {
            return Some(venv);
        }
        format!(
            "{} lacks the charm's dependencies: {}",
            venv.display(),
            String::from_utf8_lossy(&import.stderr).trim()
        )
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{problem} (scripts/setup-python-beacon.sh creates it)"
    );
    eprintln!("SKIPPED: {problem}; run scripts/setup-python-beacon.sh");
    None
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy charm file");
        }
    }
}

/// A copy of the Python charm with a `venv` link its dispatch runs the interpreter through.
fn python_beacon(venv: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(
        &common::repo().join("tests/python/python_beacon"),
        dir.path(),
    );
    std::os::unix::fs::symlink(venv, dir.path().join("venv")).expect("link venv");
    dir
}

/// What a Rust consumer sends first: least-request balancing and STRICT mTLS.
fn first_intent() -> TrafficIntent {
    TrafficIntent {
        policy: TrafficPolicy {
            load_balancer: Some(LoadBalancer::Simple(SimpleLb::LeastRequest)),
            ..Default::default()
        },
        mtls: Some(MtlsMode::Strict),
        ..Default::default()
    }
}

/// What it changes to: sticky sessions, connection limits and ejection, a per-port override.
fn second_intent() -> TrafficIntent {
    TrafficIntent {
        service: None,
        policy: TrafficPolicy {
            load_balancer: Some(LoadBalancer::ConsistentHash(ConsistentHash {
                key: HashKey::HttpCookie(HttpCookie {
                    name: "session".into(),
                    path: Some("/".into()),
                    ttl: None,
                }),
                minimum_ring_size: Some(1024),
            })),
            connection_pool: Some(ConnectionPool {
                tcp: Some(TcpSettings {
                    max_connections: Some(100),
                    connect_timeout: None,
                }),
                http: None,
            }),
            outlier_detection: Some(OutlierDetection {
                consecutive_5xx_errors: Some(5),
                ..Default::default()
            }),
            tls: None,
        },
        ports: vec![PortTrafficPolicy {
            port: 8080,
            policy: TrafficPolicy {
                load_balancer: Some(LoadBalancer::Simple(SimpleLb::RoundRobin)),
                ..Default::default()
            },
        }],
        mtls: Some(MtlsMode::Permissive),
    }
}

/// mydb's app bag: §2.2's `policies`, plus `traffic` when given.
fn consumer_bag(traffic: Option<&TrafficIntent>) -> Value {
    let mut bag = json!({"policies": DEMO_POLICIES});
    if let Some(t) = traffic {
        bag["traffic"] = t.to_json().into();
    }
    bag
}

/// The beacon `istio-beacon-k8s/0` (leader, 1 unit, default config) in `prod` serving `mydb`
/// on service-mesh: first reconcile, the relation's arrival, then mydb's bag changes (with
/// `traffic`: only its `traffic`) and the beacon sees that.
fn scenario(with_traffic: bool) -> Value {
    let (first, second) = if with_traffic {
        (Some(first_intent()), Some(second_intent()))
    } else {
        (None, None)
    };
    json!({
        "model": {"name": "prod", "uuid": "7b0e1c9e-0000-4000-8000-000000000001"},
        "unit": "istio-beacon-k8s/0",
        "leader": true,
        "planned_units": 1,
        "relations": [
            {"id": 1, "endpoint": "peers", "remote_units": []},
            {"id": 3, "endpoint": "service-mesh", "remote_app": "mydb",
             "remote_units": ["mydb/0"], "remote_app_data": consumer_bag(first.as_ref())},
        ],
        "containers": {"metrics-proxy": {"can_connect": true}},
        "kubernetes": common::beacon_cluster(WAYPOINT),
        "crds": "default",
        "steps": [
            "config-changed",
            {"hook": "service-mesh-relation-created", "relation": 3},
            {"hook": "service-mesh-relation-joined", "relation": 3, "remote_unit": "mydb/0"},
            {"hook": "service-mesh-relation-changed", "relation": 3},
            {"update": {"relation": 3, "remote_app_data": consumer_bag(second.as_ref())}},
            {"hook": "service-mesh-relation-changed", "relation": 3},
        ],
    })
}

fn steps(out: &Value) -> &Vec<Value> {
    out["steps"].as_array().expect("steps")
}

/// A step's API requests as `<METHOD> <path>?<query> <status>`, sorted: the Python
/// beacon lists its waypoint kinds (Gateway, HorizontalPodAutoscaler) from a Python `set` of
/// classes, whose order changes from one process to the next.
fn requests(step: &Value) -> Vec<String> {
    let mut all: Vec<String> = step["api_requests"]
        .as_array()
        .expect("api_requests")
        .iter()
        .map(|r| {
            format!(
                "{} {}?{} {}",
                r["method"], r["path"], r["query"], r["status"]
            )
        })
        .collect();
    all.sort();
    all
}

/// Anything about DestinationRules or PeerAuthentications: requests, then objects.
fn traffic_traces(out: &Value) -> Vec<String> {
    let mut traces: Vec<String> = steps(out)
        .iter()
        .flat_map(requests)
        .filter(|r| r.contains("/destinationrules") || r.contains("/peerauthentications"))
        .collect();
    traces.extend(objects(out, "DestinationRule"));
    traces.extend(objects(out, "PeerAuthentication"));
    traces
}

#[test]
fn python_beacon_ignores_a_consumers_traffic_key() {
    let Some(venv) = venv() else { return };
    // The intents are the library's wire values, and valid: they read back as themselves.
    for intent in [first_intent(), second_intent()] {
        assert_eq!(TrafficIntent::from_json(&intent.to_json()), Ok(intent));
    }
    assert_eq!(
        first_intent().to_json(),
        r#"{"version": 1, "load_balancer": {"simple": "LEAST_REQUEST"}, "mtls": "STRICT"}"#
    );

    let charm = python_beacon(&venv);
    let (without, with) = std::thread::scope(|s| {
        let without = s.spawn(|| play_json(charm.path(), &scenario(false)));
        let with = s.spawn(|| play_json(charm.path(), &scenario(true)));
        (
            without.join().expect("run without traffic"),
            with.join().expect("run with traffic"),
        )
    });
    assert_all_ok(&without, "without traffic");
    assert_all_ok(&with, "with traffic");

    // Step by step, the same: statuses, API requests, our databags after the hook.
    assert_eq!(steps(&without).len(), 5);
    assert_eq!(steps(&with).len(), 5);
    for (a, b) in steps(&without).iter().zip(steps(&with)) {
        let step = &a["step"];
        assert_eq!(a["step"], b["step"]);
        assert_eq!(a["unit_status"], b["unit_status"], "{step}: unit status");
        assert_eq!(a["app_status"], b["app_status"], "{step}: app status");
        assert_eq!(requests(a), requests(b), "{step}: API requests differ");
        assert_eq!(a["hook_tools"], b["hook_tools"], "{step}: hook tools run");
        assert!(
            a["relations"].is_array(),
            "{step}: no relation data in the output"
        );
        assert_eq!(a["relations"], b["relations"], "{step}: relation data");
        // Juju-level warnings and errors, e.g. about the consumer's data: the same.
        for level in ["WARNING", "ERROR"] {
            let lines = |s: &Value| -> Vec<String> {
                s["logs"]
                    .as_array()
                    .expect("logs")
                    .iter()
                    .filter(|l| l["level"] == level)
                    .map(|l| l["message"].to_string())
                    .collect()
            };
            assert_eq!(lines(a), lines(b), "{step}: {level} logs");
        }
    }
    // The end state: every object, our databags, the Pebble plan.
    assert_eq!(without["kubernetes"], with["kubernetes"], "objects differ");
    assert_eq!(
        without["relations"], with["relations"],
        "relation data differs"
    );
    assert_eq!(without["pebble"], with["pebble"], "Pebble plans differ");

    // And it is the worked example: mydb's two AuthorizationPolicies, the provider databag.
    let last = steps(&with).last().expect("a step");
    assert_eq!(
        last["unit_status"],
        json!({"status": "active", "message": ""})
    );
    let mut names = objects(&with, "AuthorizationPolicy");
    names.sort();
    assert_eq!(
        names,
        vec![format!("prod/{APP_POLICY}"), format!("prod/{UNIT_POLICY}")]
    );
    assert_eq!(
        object(&with, "AuthorizationPolicy", "prod", APP_POLICY),
        Some(&owned_policy(
            APP_POLICY,
            INSTANCE,
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
    assert_eq!(
        object(&with, "AuthorizationPolicy", "prod", UNIT_POLICY),
        Some(&owned_policy(
            UNIT_POLICY,
            INSTANCE,
            json!({
                "rules": [{
                    "from": [{"source": {"principals": ["cluster.local/ns/cos/sa/prometheus"]}}],
                    "to": [{"operation": {"ports": ["9090"]}}],
                }],
                "selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
            })
        ))
    );
    for kind in ["Gateway", "HorizontalPodAutoscaler"] {
        assert_eq!(objects(&with, kind), vec![format!("prod/{WAYPOINT}")]);
    }
    assert_eq!(
        common::local_app_data(&with, 3),
        &json!({"labels": PROVIDER_LABELS, "mesh_type": PROVIDER_MESH_TYPE})
    );
    // Its metrics-proxy service is planned (Pebble reached), as upstream does.
    assert!(
        with["pebble"]["metrics-proxy"]["plan"]["services"]["metrics-proxy"].is_object(),
        "{}",
        with["pebble"]
    );
    // mydb's change to `traffic` alone made the Python beacon re-apply what it already had:
    // nothing about traffic, in either run.
    assert_eq!(traffic_traces(&without), Vec::<String>::new());
    assert_eq!(traffic_traces(&with), Vec::<String>::new());

    // Control: our beacon, on the same bag, renders the intent (the Python beacon had a
    // valid one to ignore).
    let ours = play_json(charm_dir(), &scenario(true));
    assert_all_ok(&ours, "our beacon");
    let name = "prod/istio-beacon-k8s-prod-traffic-mydb";
    assert_eq!(objects(&ours, "DestinationRule"), vec![name]);
    assert_eq!(objects(&ours, "PeerAuthentication"), vec![name]);
}
