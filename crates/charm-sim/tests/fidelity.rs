//! Runs the Python fidelity suite (tests/python/fidelity): an ops charm under charm-sim vs
//! ops.testing, and ops.hookcmds against charm-sim's tools. Needs the oracle venv
//! (`scripts/setup-python.sh`).
use std::path::PathBuf;
use std::process::Command;

#[test]
fn python_fidelity_suite() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = repo.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: create the oracle venv with scripts/setup-python.sh",
        python.display()
    );
    let status = Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo.join("tests/python/fidelity"))
        .env("CHARM_SIM_BIN", env!("CARGO_BIN_EXE_charm-sim"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .status()
        .expect("cannot start the venv python");
    assert!(
        status.success(),
        "pytest tests/python/fidelity failed: {status}"
    );
}
