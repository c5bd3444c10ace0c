//! `mesh-backend` through charm-sim: the demo model (examples/demo-model/scenario.yaml)
//! rendered for SMI, Consul and Linkerd, switches between backends, missing CRDs, and what a
//! non-Istio backend publishes to consumers.

mod common;

use std::path::Path;

use common::{app_data_after, exit_code, run_file, status, step, writes};
use serde_json::{Value, json};

const BACKENDS: [&str; 3] = ["smi", "consul", "linkerd"];

/// The demo model's scenario with `config` merged in and `steps` instead of its own.
fn demo(config: Value, steps: Value) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-model/scenario.yaml");
    let text = std::fs::read_to_string(path).expect("demo scenario");
    let mut scenario: Value = serde_yaml_ng::from_str(&text).expect("demo scenario is YAML");
    let merged = scenario["config"].as_object_mut().expect("config");
    for (k, v) in config.as_object().expect("config object") {
        merged.insert(k.clone(), v.clone());
    }
    scenario["steps"] = steps;
    scenario
}

/// Plays a scenario document; returns charm-sim's output.
fn play(scenario: &Value) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("scenario.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(scenario).expect("yaml")).expect("write");
    run_file(&path)
}

fn switch_to(backend: &str) -> Value {
    json!({"update": {"config": {"mesh-backend": backend}}})
}

#[test]
fn a_non_istio_backend_publishes_no_labels_or_mesh_type_and_istio_again_restores_them() {
    for backend in BACKENDS {
        let out = play(&demo(
            json!({}),
            json!([
                "config-changed",
                switch_to(backend),
                "config-changed",
                "update-status",
                switch_to("istio"),
                "config-changed",
            ]),
        ));
        for i in 0..4 {
            assert_eq!(exit_code(&out, i), 0, "{backend} step {i}");
        }
        let istio = app_data_after(&out, 0, 3).clone();
        assert_eq!(istio["mesh_type"], json!("\"istio\""), "{backend}");
        assert!(istio.get("labels").is_some(), "{backend}");
        // The keys we wrote are deleted: the consumer library reads "no data".
        assert_eq!(app_data_after(&out, 1, 3), &json!({}), "{backend}");
        assert_eq!(app_data_after(&out, 2, 3), &json!({}), "{backend}");
        // Nothing to write for it on a no-op.
        assert!(
            !step(&out, 2)["hook_tools"]
                .as_object()
                .expect("hook_tools")
                .contains_key("relation-set"),
            "{backend}: {}",
            step(&out, 2)["hook_tools"]
        );
        assert_eq!(app_data_after(&out, 3, 3), &istio, "{backend}");
        let _ = (status(&out, 1), writes(&out, 1));
    }
}
