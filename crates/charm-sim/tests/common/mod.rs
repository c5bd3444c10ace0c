//! Shared helpers: tiny shell-script charms whose `dispatch` calls hook tools and records each
//! call's stdout, stderr and exit code under a label, so tests can assert on them.
#![allow(dead_code, clippy::unwrap_used)]
use std::path::{Path, PathBuf};

use charm_sim::{Output, RunOptions, run_scenario};

pub const METADATA: &str = "\
name: tester
provides:
  db: {interface: pg}
  mesh: {interface: m}
requires:
  cache: {interface: redis}
peers:
  peers: {interface: tp}
extra-bindings:
  metrics:
containers:
  web: {resource: img}
  side: {resource: img2}
";

pub const CONFIG: &str = "\
options:
  port: {type: int, default: 8080}
  name: {type: string}
  debug: {type: boolean, default: false}
  ratio: {type: float, default: 0.5}
";

pub const ACTIONS: &str = "\
do-it:
  params:
    target: {type: string, default: s3}
    count: {type: integer}
";

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_charm-sim"))
}

/// The hook-tool client the simulator links under every tool name.
pub fn jujuc() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_charm-sim-jujuc"))
}

pub struct TestCharm {
    pub dir: tempfile::TempDir,
    pub out: tempfile::TempDir,
}

impl TestCharm {
    /// A charm whose dispatch runs `body` (POSIX sh). In `body`, `r LABEL cmd args…` runs a
    /// command and records it as `<event>.<LABEL>` (event = last part of JUJU_DISPATCH_PATH).
    pub fn new(body: &str) -> TestCharm {
        Self::with_files(METADATA, CONFIG, Some(ACTIONS), body)
    }

    pub fn with_files(meta: &str, config: &str, actions: Option<&str>, body: &str) -> TestCharm {
        let dir = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("metadata.yaml"), meta).unwrap();
        std::fs::write(dir.path().join("config.yaml"), config).unwrap();
        if let Some(a) = actions {
            std::fs::write(dir.path().join("actions.yaml"), a).unwrap();
        }
        let script = format!(
            "#!/bin/sh\nOUT='{out}'\nEV=$(basename \"$JUJU_DISPATCH_PATH\")\n\
             r() {{ l=$1; shift; \"$@\" >\"$OUT/$EV.$l.out\" 2>\"$OUT/$EV.$l.err\"; echo $? >\"$OUT/$EV.$l.rc\"; }}\n{body}\n",
            out = out.path().display()
        );
        write_exec(&dir.path().join("dispatch"), &script);
        TestCharm { dir, out }
    }

    pub fn scenario_path(&self, yaml: &str) -> PathBuf {
        let p = self.out.path().join("scenario.yaml");
        std::fs::write(&p, yaml).unwrap();
        p
    }

    pub fn run(&self, scenario_yaml: &str) -> Output {
        let p = self.scenario_path(scenario_yaml);
        run_scenario(
            self.dir.path(),
            &p,
            &RunOptions {
                tool_binary: Some(jujuc()),
            },
        )
        .unwrap()
    }

    /// (exit code, stdout, stderr) of the call labelled `label` during `event`.
    pub fn call(&self, event: &str, label: &str) -> (i32, String, String) {
        let read = |ext: &str| {
            let p = self.out.path().join(format!("{event}.{label}.{ext}"));
            std::fs::read_to_string(&p).unwrap_or_else(|_| panic!("no record {}", p.display()))
        };
        (read("rc").trim().parse().unwrap(), read("out"), read("err"))
    }

    /// Asserts a call succeeded and returns its stdout.
    pub fn ok(&self, event: &str, label: &str) -> String {
        let (rc, out, err) = self.call(event, label);
        assert_eq!(rc, 0, "{event}.{label} failed: {err}");
        assert_eq!(err, "", "{event}.{label} wrote to stderr");
        out
    }

    /// Asserts a call failed with `rc` and exactly `stderr` (one `ERROR …` line), no stdout.
    pub fn err(&self, event: &str, label: &str, rc: i32, stderr: &str) {
        let (got_rc, out, err) = self.call(event, label);
        assert_eq!((got_rc, err.as_str()), (rc, stderr), "{event}.{label}");
        assert_eq!(out, "", "{event}.{label} wrote to stdout");
    }
}

pub fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The usual scenario preamble: leader unit `tester/0` with a `db` relation 3 to `mydb`.
pub fn scenario(leader: bool, extra: &str) -> String {
    format!(
        "model: {{name: prod, uuid: 7b0e1c9e-0000-4000-8000-000000000001}}\n\
         unit: tester/0\nleader: {leader}\n\
         kubernetes: [{{apiVersion: v1, kind: Namespace, metadata: {{name: prod}}}}]\n{extra}"
    )
}
