//! Runs scenarios through charm-sim against the tester (and the beacon) built by cargo.
// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use charm_sim::{Output, RunOptions, Scenario, run_scenario};
use serde_json::Value;

/// The profile dir of this build (`target/debug`), where the sibling binaries live.
fn profile_dir() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_service-mesh-tester"))
        .parent()
        .expect("target profile dir")
}

/// `cargo build -p <package> --bin <bin>` into this target dir, unless already built.
fn built_binary(package: &str, bin: &str) -> PathBuf {
    let path = profile_dir().join(bin);
    if !path.exists() {
        let target = profile_dir().parent().expect("target dir");
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args(["build", "-p", package, "--bin", bin])
            .env("CARGO_TARGET_DIR", target)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cargo build -p {package} failed");
    }
    path
}

/// An unpacked charm dir: dispatch, metadata.yaml, config.yaml and bin/<bin>.
fn unpacked(project: &Path, binary: &Path, bin: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for file in ["dispatch", "metadata.yaml", "config.yaml"] {
        std::fs::copy(project.join(file), dir.path().join(file)).expect("copy charm file");
    }
    std::fs::create_dir(dir.path().join("bin")).expect("bin dir");
    // A link, not a copy: the debug binary is large and every test process makes a dir.
    std::os::unix::fs::symlink(binary, dir.path().join("bin").join(bin))
        .expect("link charm binary");
    dir
}

/// The tester charm.
pub fn tester() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        unpacked(
            Path::new(env!("CARGO_MANIFEST_DIR")),
            Path::new(env!("CARGO_BIN_EXE_service-mesh-tester")),
            "service-mesh-tester",
        )
    })
    .path()
}

/// The Rust beacon (root package), built on first use.
pub fn beacon() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let bin = built_binary("istio-beacon-k8s", "istio-beacon-k8s");
        unpacked(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
            &bin,
            "istio-beacon-k8s",
        )
    })
    .path()
}

/// The tester packed by charm-pack into a `.charm` zip.
pub fn packed_charm(dir: &Path) -> PathBuf {
    let out = dir.join("service-mesh-tester.charm");
    let status = Command::new(built_binary("charm-pack", "charm-pack"))
        .arg("--project")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_service-mesh-tester"))
        .arg("--out")
        .arg(&out)
        .status()
        .expect("run charm-pack");
    assert!(status.success(), "charm-pack failed");
    out
}

fn sim_options() -> RunOptions {
    static SIM: OnceLock<PathBuf> = OnceLock::new();
    RunOptions {
        tool_binary: Some(
            SIM.get_or_init(|| built_binary("charm-sim", "charm-sim-jujuc"))
                .clone(),
        ),
    }
}

/// Play `scenario` (a JSON value; JSON is YAML) against `charm`.
pub fn run(charm: &Path, scenario: &Value) -> Output {
    let parsed = Scenario::parse(&scenario.to_string()).expect("valid scenario");
    checked(run_scenario(charm, &parsed, &sim_options()).expect("charm-sim runs the scenario"))
}

/// Play `scenario` against `charm`, failed hooks included (see each step's `exit_code`).
pub fn run_unchecked(charm: &Path, scenario: &Value) -> Output {
    let parsed = Scenario::parse(&scenario.to_string()).expect("valid scenario");
    run_scenario(charm, &parsed, &sim_options()).expect("charm-sim runs the scenario")
}

/// Play the scenario file `file` against `charm`.
pub fn run_file(charm: &Path, file: &Path) -> Output {
    checked(run_scenario(charm, file, &sim_options()).expect("charm-sim runs the scenario"))
}

/// Every hook succeeded.
fn checked(out: Output) -> Output {
    for step in &out.steps {
        assert_eq!(
            step.exit_code, 0,
            "step {} failed: {}\n{}",
            step.step, step.stderr, step.stdout
        );
    }
    out
}

/// The committed app databag of relation `id`.
pub fn app_data(out: &Output, id: u64) -> &std::collections::BTreeMap<String, String> {
    &out.relations
        .iter()
        .find(|r| r.id == id)
        .expect("relation in output")
        .local_app_data
}

/// The object of `kind` named `name` after the last step.
pub fn object<'a>(out: &'a Output, kind: &str, name: &str) -> Option<&'a Value> {
    out.kubernetes
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

/// Every object of `kind` after the last step.
pub fn objects<'a>(out: &'a Output, kind: &str) -> Vec<&'a Value> {
    out.kubernetes
        .iter()
        .filter(|o| o["kind"] == kind)
        .collect()
}
