//! Runs scenario files through the `charm-sim` binary against the beacon built by cargo,
//! and helpers to read its output.
// Each test crate includes this module and uses a different subset of the helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};

/// The unpacked charm: dispatch, metadata.yaml, config.yaml, actions.yaml and
/// bin/istio-beacon-k8s.
pub fn charm_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("temp dir");
        for file in ["dispatch", "metadata.yaml", "config.yaml", "actions.yaml"] {
            std::fs::copy(root.join(file), dir.path().join(file)).expect("copy charm file");
        }
        std::fs::create_dir(dir.path().join("bin")).expect("bin dir");
        // A link, not a copy: the debug binary is large and every test process makes a dir.
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_istio-beacon-k8s"),
            dir.path().join("bin/istio-beacon-k8s"),
        )
        .expect("link charm binary");
        dir
    })
    .path()
}

/// `charm-sim` next to our binary in the target dir, built on first use if missing (with its
/// hook-tool client `charm-sim-jujuc`, which it finds beside itself).
pub fn sim_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let ours = Path::new(env!("CARGO_BIN_EXE_istio-beacon-k8s"));
        let dir = ours.parent().expect("target profile dir");
        let sim = dir.join("charm-sim");
        if !sim.exists() || !dir.join("charm-sim-jujuc").exists() {
            let target = dir.parent().expect("target dir");
            let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
                .args(["build", "-p", "charm-sim", "--bins"])
                .env("CARGO_TARGET_DIR", target)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build -p charm-sim");
            assert!(status.success(), "cargo build -p charm-sim failed");
        }
        sim
    })
}

/// Play `tests/scenarios/<name>.yaml`; returns charm-sim's output document.
pub fn run(name: &str) -> Value {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(format!("{name}.yaml"));
    run_file(&scenario)
}

pub fn run_file(scenario: &Path) -> Value {
    run_charm(charm_dir(), scenario)
}

/// Plays the scenario file against the charm directory `charm`; returns charm-sim's output.
pub fn run_charm(charm: &Path, scenario: &Path) -> Value {
    let out_dir = tempfile::tempdir().expect("temp dir");
    let out = out_dir.path().join("out.json");
    let result = Command::new(sim_binary())
        .arg("run")
        .arg("--charm")
        .arg(charm)
        .arg("--scenario")
        .arg(scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run charm-sim");
    assert!(
        result.status.success(),
        "charm-sim failed on {}: {}",
        scenario.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    serde_json::from_slice(&std::fs::read(&out).expect("read output")).expect("output is JSON")
}

/// The output of step `i`.
pub fn step(out: &Value, i: usize) -> &Value {
    &out["steps"][i]
}

/// `(status, message)` of a step's unit status; `None` while unset.
pub fn status(out: &Value, i: usize) -> Option<(String, String)> {
    let s = step(out, i).get("unit_status")?;
    Some((
        s["status"].as_str()?.to_owned(),
        s["message"].as_str()?.to_owned(),
    ))
}

/// How many times step `i` ran the hook tool `tool`.
pub fn tool_runs(out: &Value, i: usize, tool: &str) -> u64 {
    step(out, i)["hook_tools"]
        .as_object()
        .expect("hook_tools")
        .get(tool)
        .map_or(0, |n| n.as_u64().expect("a count"))
}

pub fn exit_code(out: &Value, i: usize) -> i64 {
    step(out, i)["exit_code"].as_i64().expect("exit code")
}

/// The API requests of a step that are not reads: `"<METHOD> <path>"`.
pub fn writes(out: &Value, i: usize) -> Vec<String> {
    step(out, i)["api_requests"]
        .as_array()
        .expect("api_requests")
        .iter()
        .filter(|r| r["method"] != "GET")
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap_or(""),
                r["path"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Every object of `kind` after the last step, as `<namespace>/<name>`.
pub fn objects(out: &Value, kind: &str) -> Vec<String> {
    out["kubernetes"]
        .as_array()
        .expect("kubernetes")
        .iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| {
            let ns = o["metadata"]["namespace"].as_str().unwrap_or("");
            format!("{ns}/{}", o["metadata"]["name"].as_str().unwrap_or(""))
        })
        .collect()
}

/// One object after the last step.
pub fn object<'a>(out: &'a Value, kind: &str, namespace: &str, name: &str) -> Option<&'a Value> {
    out["kubernetes"].as_array()?.iter().find(|o| {
        o["kind"] == kind
            && o["metadata"]["name"] == name
            && (namespace.is_empty() || o["metadata"]["namespace"] == namespace)
    })
}

/// Relation `id` (endpoint and our databags) after the last step.
pub fn relation(out: &Value, id: u64) -> &Value {
    out["relations"]
        .as_array()
        .expect("relations")
        .iter()
        .find(|r| r["id"] == id)
        .expect("relation in output")
}

/// Our app databag of relation `id` after the last step.
pub fn local_app_data(out: &Value, id: u64) -> &Value {
    &relation(out, id)["local_app_data"]
}

/// Our app databag of relation `id` right after step `i`.
pub fn app_data_after(out: &Value, i: usize, id: u64) -> &Value {
    step(out, i)["relations"]
        .as_array()
        .expect("per-step relations")
        .iter()
        .find(|r| r["id"] == id)
        .map(|r| &r["local_app_data"])
        .expect("relation in step output")
}

/// Log lines of a step at `level`.
pub fn logs(out: &Value, i: usize, level: &str) -> Vec<String> {
    step(out, i)["logs"]
        .as_array()
        .expect("logs")
        .iter()
        .filter(|l| l["level"] == level)
        .filter_map(|l| l["message"].as_str().map(str::to_owned))
        .collect()
}

/// An AuthorizationPolicy in `prod` labelled as owned by the beacon instance `instance`
/// (ours is `prod-istio-beacon-k8s`), as the API server would hold it.
pub fn owned_policy(name: &str, instance: &str, spec: Value) -> Value {
    serde_json::json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {
            "name": name,
            "namespace": "prod",
            "labels": {
                "app.kubernetes.io/instance": instance,
                "kubernetes-resource-handler-scope": "istio-authorization-policy",
            },
        },
        "spec": spec,
    })
}

/// `object` to seed into a scenario as written by field manager `manager` (charm-sim writes
/// a seeded object as the manager of its first `managedFields` entry).
pub fn written_by(manager: &str, mut object: Value) -> Value {
    object["metadata"]["managedFields"] = serde_json::json!([{"manager": manager}]);
    object
}

/// §2.2: the demo consumer's `policies`, byte for byte (as in examples/demo-model/scenario.yaml).
pub const DEMO_POLICIES: &str = r#"[{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": null, "ports": [5432, 8080], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}]}, {"source_namespace": "cos", "source_app_name": "prometheus", "target_namespace": "prod", "target_app_name": "mydb", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9090], "methods": null, "paths": null}]}]"#;
/// §2.1: the beacon's provider databag in `prod` with model-on-mesh=false.
pub const PROVIDER_LABELS: &str = r#"{"istio.io/dataplane-mode": "ambient", "istio.io/use-waypoint": "prod-istio-beacon-k8s-waypoint", "istio.io/use-waypoint-namespace": "prod"}"#;
pub const PROVIDER_MESH_TYPE: &str = r#""istio""#;

/// Plays `scenario` (written as JSON) against `charm`; returns charm-sim's output.
pub fn play_json(charm: &Path, scenario: &Value) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scenario.json");
    std::fs::write(&path, serde_json::to_vec(scenario).expect("scenario JSON")).expect("write");
    run_charm(charm, &path)
}

/// Every step exited 0 (the stderr of one that did not otherwise).
pub fn assert_all_ok(out: &Value, what: &str) {
    for s in out["steps"].as_array().expect("steps") {
        assert_eq!(
            s["exit_code"], 0,
            "{what}: {} failed: {}",
            s["step"], s["stderr"]
        );
    }
}

/// The beacon's cluster in `prod` (1 unit): what Juju creates for it (its Namespace,
/// StatefulSet and Service) and what Istio creates for its waypoint Gateway `waypoint`,
/// ready.
pub fn beacon_cluster(waypoint: &str) -> Vec<Value> {
    let gateway = json!({"gateway.networking.k8s.io/gateway-name": waypoint});
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
         "metadata": {"name": "istio-beacon-k8s", "namespace": "prod"},
         "spec": {"replicas": 1, "serviceName": "istio-beacon-k8s-endpoints",
                  "selector": {"matchLabels": {"app.kubernetes.io/name": "istio-beacon-k8s"}},
                  "template": {"metadata": {"labels": {"app.kubernetes.io/name": "istio-beacon-k8s"}},
                               "spec": {"containers": [{"name": "charm", "image": "charm-base"}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "istio-beacon-k8s", "namespace": "prod"},
         "spec": {"selector": {"app.kubernetes.io/name": "istio-beacon-k8s"},
                  "ports": [{"name": "placeholder", "port": 65535}]}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": waypoint, "namespace": "prod"},
         "spec": {"replicas": 1, "selector": {"matchLabels": gateway},
                  "template": {"metadata": {"labels": gateway},
                               "spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2"}]}}},
         "status": {"replicas": 1, "readyReplicas": 1}}),
    ]
}

/// The project's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
