//! Python lightkube against the simulated API server: runs `tests/python/lightkube` with
//! pytest from the project venv, KUBECONFIG pointing at a fresh server.

use std::path::PathBuf;
use std::process::Command;

use charm_sim::kube::{ApiServer, ApiServerConfig};
use serde_json::json;

#[test]
fn lightkube_suite_passes_against_the_simulated_server() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: create the venv with scripts/setup-python.sh",
        python.display()
    );
    let server = ApiServer::start(ApiServerConfig {
        crds: ApiServer::default_crds(),
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        ],
        faults: vec![],
    })
    .expect("server starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, "prod")
        .expect("kubeconfig");
    let out = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "tests/python/lightkube",
            "-q",
            "-p",
            "no:cacheprovider",
        ])
        .current_dir(&root)
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .expect("pytest runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pytest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every request was answered: nothing reset, no 5xx.
    let requests = server.take_requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| (200..500).contains(&r.status)),
        "{requests:?}"
    );
    assert!(
        stdout.contains(" passed") && !stdout.contains("skipped"),
        "{stdout}"
    );
}
