//! The Terraform module in `terraform/` against the charm it deploys. Terraform is not
//! installed here: `tests/python/terraform/check_module.py` parses the module with
//! python-hcl2 and holds it to metadata.yaml, config.yaml and its own README (every non-peer
//! endpoint has an output, `trust = true`, provider `juju/juju >= 1.0` with `model_uuid`,
//! typed and described variables, the README's inputs, outputs and config tables). The
//! broken copies below show that the check fails on what it must catch.
//!
//! Needs `.venv` with python-hcl2 and PyYAML (`scripts/setup-python.sh`); without it these
//! tests skip with a message, except under `CI=true`, where they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv python, checked to import hcl2 and yaml; `None` (after saying so) outside CI.
fn venv_python() -> Option<PathBuf> {
    let python = repo().join(".venv/bin/python");
    let problem = if !python.is_file() {
        format!("{} is missing", python.display())
    } else {
        let import = Command::new(&python)
            .args(["-c", "import hcl2, yaml"])
            .output()
            .expect("cannot start the venv python");
        if import.status.success() {
            return Some(python);
        }
        format!(
            "the venv lacks python-hcl2 or PyYAML: {}",
            String::from_utf8_lossy(&import.stderr).trim()
        )
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{problem} (scripts/setup-python.sh creates it)"
    );
    eprintln!("SKIPPED: {problem}; run scripts/setup-python.sh");
    None
}

fn check(python: &Path, root: &Path) -> Output {
    Command::new(python)
        .arg(repo().join("tests/python/terraform/check_module.py"))
        .arg(root)
        .output()
        .expect("cannot run check_module.py")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn module_matches_the_charm() {
    let Some(python) = venv_python() else { return };
    let out = check(&python, &repo());
    assert!(out.status.success(), "{}", text(&out));
    println!("{}", text(&out).trim());
}

/// A copy of what the check reads (metadata.yaml, config.yaml, terraform/), with `file`
/// (relative to that root) changed by replacing `from` with `to`.
fn broken_copy(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in ["metadata.yaml", "config.yaml"] {
        std::fs::copy(repo().join(f), dir.path().join(f)).expect("copy");
    }
    std::fs::create_dir(dir.path().join("terraform")).expect("mkdir");
    for entry in std::fs::read_dir(repo().join("terraform")).expect("terraform/") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let name = path.file_name().expect("file name");
            std::fs::copy(&path, dir.path().join("terraform").join(name)).expect("copy");
        }
    }
    let target = dir.path().join(file);
    let before = std::fs::read_to_string(&target).expect("read");
    assert!(before.contains(from), "{file} no longer contains {from:?}");
    std::fs::write(&target, before.replacen(from, to, 1)).expect("write");
    dir
}

#[test]
fn broken_modules_fail_the_check() {
    let Some(python) = venv_python() else { return };
    // (file, text, replacement, what the failure must say)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "terraform/outputs.tf",
            "    provide_cmr_mesh = \"provide-cmr-mesh\"\n",
            "",
            "endpoint 'provide-cmr-mesh' of metadata.yaml has no entry in output 'provides'",
        ),
        (
            "metadata.yaml",
            "requires:\n",
            "requires:\n  logging:\n    interface: loki_push_api\n",
            "endpoint 'logging' of metadata.yaml has no entry in output 'requires'",
        ),
        (
            "terraform/outputs.tf",
            "    charm_tracing = \"charm-tracing\"\n  }\n}\n\noutput \"endpoints\"",
            "    charm_tracing = \"charm-tracing\"\n    peers = \"peers\"\n  }\n}\n\noutput \"endpoints\"",
            "output 'requires' names 'peers', not a requires endpoint",
        ),
        (
            "terraform/main.tf",
            "trust              = true",
            "trust              = false",
            "trust must be true",
        ),
        (
            "terraform/main.tf",
            "model_uuid         = var.model_uuid",
            "model              = var.model_uuid",
            "`model` is the provider < 1.0 argument",
        ),
        (
            "terraform/versions.tf",
            "version = \">= 1.0\"",
            "version = \">= 0.14\"",
            "juju provider version is '>= 0.14', not '>= 1.0'",
        ),
        (
            "terraform/variables.tf",
            "  description = \"Unit count/scale\"\n",
            "",
            "variable 'units' has no description",
        ),
        (
            "terraform/variables.tf",
            "  type        = map(string)\n  default     = {}\n}\n\nvariable \"constraints\"",
            "  default     = {}\n}\n\nvariable \"constraints\"",
            "variable 'config' has no type",
        ),
        (
            "config.yaml",
            "options:\n",
            "options:\n  log-level:\n    type: string\n    default: info\n    description: x\n",
            "config.yaml option 'log-level' is missing from the config table",
        ),
        (
            "terraform/README.md",
            "| `ready-timeout` | int |",
            "| `ready-timeout-seconds` | int |",
            "config option 'ready-timeout-seconds' is not in config.yaml",
        ),
        (
            "terraform/README.md",
            "module.istio_beacon.provides.service_mesh",
            "module.istio_beacon.endpoint.service_mesh",
            "module.istio_beacon.endpoint is not an output",
        ),
    ];
    for (file, from, to, want) in cases {
        let dir = broken_copy(file, from, to);
        let out = check(&python, dir.path());
        let said = text(&out);
        assert!(
            !out.status.success(),
            "{file}: {from:?} → {to:?} passed the check:\n{said}"
        );
        assert!(
            said.contains(want),
            "{file}: {from:?} → {to:?}: expected {want:?} in:\n{said}"
        );
    }
}
