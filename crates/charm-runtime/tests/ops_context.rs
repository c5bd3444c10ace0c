//! Differential test: `JujuContext::from_vars` accepts and rejects the same environments as
//! ops 3.9's `JujuContext.from_environ` (naming the same missing variable) and reads the same
//! values. Every event family's full environment is tried, then with each variable removed.
//! The oracle is `tests/ops_context.py` in the project's venv (`scripts/setup-python.sh`).
//!
//! Known, deliberate differences are excluded from the cases: ops also requires
//! `JUJU_HOOK_NAME` (we take the event from `JUJU_DISPATCH_PATH`, as ops' dispatcher does).
#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use charm_runtime::context::{ContextError, JujuContext};
use serde_json::{Value, json};

type Env = BTreeMap<String, String>;

fn base(dispatch: &str, hook: &str) -> Env {
    [
        ("JUJU_DISPATCH_PATH", dispatch),
        ("JUJU_HOOK_NAME", hook),
        ("JUJU_UNIT_NAME", "beacon/0"),
        ("JUJU_MODEL_NAME", "prod"),
        ("JUJU_MODEL_UUID", "7b0e1c9e-0000-4000-8000-000000000001"),
        ("JUJU_VERSION", "3.6.4"),
        ("JUJU_MACHINE_ID", ""),
        ("JUJU_AVAILABILITY_ZONE", "zone-a"),
        ("JUJU_PRINCIPAL_UNIT", ""),
        ("JUJU_DEBUG_AT", "all,hooks"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn with(mut env: Env, extra: &[(&str, &str)]) -> Env {
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

fn full_environments() -> Vec<Env> {
    let rel = |hook: &str, unit: &str| {
        with(
            base(&format!("hooks/{hook}"), hook),
            &[
                ("JUJU_RELATION", "service-mesh"),
                ("JUJU_RELATION_ID", "service-mesh:12"),
                ("JUJU_REMOTE_APP", "consumer"),
                ("JUJU_REMOTE_UNIT", unit),
                ("JUJU_DEPARTING_UNIT", "consumer/1"),
            ],
        )
    };
    let secret = |hook: &str| {
        with(
            base(&format!("hooks/{hook}"), hook),
            &[
                ("JUJU_SECRET_ID", "secret:cs2qd0jm0v1s73b0fjr0"),
                ("JUJU_SECRET_LABEL", "db"),
                ("JUJU_SECRET_REVISION", "4"),
            ],
        )
    };
    let mut envs = vec![
        base("hooks/install", "install"),
        with(base("hooks/start", "start"), &[("JUJU_DEBUG", "1")]),
        base("hooks/config-changed", "config-changed"),
        base("hooks/leader-settings-changed", "leader-settings-changed"),
        rel("service-mesh-relation-created", ""),
        rel("service-mesh-relation-joined", "consumer/0"),
        rel("service-mesh-relation-changed", "consumer/0"),
        rel("service-mesh-relation-changed", ""),
        rel("service-mesh-relation-departed", "consumer/1"),
        rel("service-mesh-relation-broken", ""),
        with(
            base(
                "hooks/metrics-proxy-pebble-ready",
                "metrics-proxy-pebble-ready",
            ),
            &[("JUJU_WORKLOAD_NAME", "metrics-proxy")],
        ),
        with(
            base("hooks/web-pebble-custom-notice", "web-pebble-custom-notice"),
            &[
                ("JUJU_WORKLOAD_NAME", "web"),
                ("JUJU_NOTICE_ID", "1"),
                ("JUJU_NOTICE_TYPE", "custom"),
                ("JUJU_NOTICE_KEY", "example.com/a"),
            ],
        ),
        with(
            base("hooks/web-pebble-check-failed", "web-pebble-check-failed"),
            &[
                ("JUJU_WORKLOAD_NAME", "web"),
                ("JUJU_PEBBLE_CHECK_NAME", "up"),
            ],
        ),
        with(
            base(
                "hooks/web-pebble-check-recovered",
                "web-pebble-check-recovered",
            ),
            &[
                ("JUJU_WORKLOAD_NAME", "web"),
                ("JUJU_PEBBLE_CHECK_NAME", "up"),
            ],
        ),
        with(
            base("hooks/data-storage-attached", "data-storage-attached"),
            &[("JUJU_STORAGE_ID", "data/3")],
        ),
        with(
            base("hooks/data-storage-detaching", "data-storage-detaching"),
            &[("JUJU_STORAGE_ID", "data/0")],
        ),
        with(
            base("actions/show-policies", ""),
            &[
                ("JUJU_ACTION_NAME", "show-policies"),
                ("JUJU_ACTION_UUID", "17"),
            ],
        ),
    ];
    for hook in [
        "secret-changed",
        "secret-rotate",
        "secret-remove",
        "secret-expired",
    ] {
        envs.push(secret(hook));
    }
    envs
}

/// Every full environment, then each with one variable removed (except JUJU_HOOK_NAME).
fn cases() -> Vec<Env> {
    let mut cases = Vec::new();
    for env in full_environments() {
        for var in env.keys().filter(|k| *k != "JUJU_HOOK_NAME") {
            let mut missing = env.clone();
            missing.remove(var);
            cases.push(missing);
        }
        cases.push(env);
    }
    cases
}

fn ours(env: &Env) -> Value {
    match JujuContext::from_vars(env.clone()) {
        Err(ContextError::Missing { var } | ContextError::MissingForEvent { var, .. }) => {
            json!({"error": var})
        }
        Err(other) => json!({"unexpected": other.to_string()}),
        Ok(c) => {
            let mut debug_at = c.debug_at.clone();
            debug_at.sort();
            json!({
            "relation_name": c.relation_name,
            "relation_id": c.relation_id,
            "remote_app": c.remote_app,
            "remote_unit": c.remote_unit,
            "departing_unit": c.departing_unit,
            "action_name": c.action_name,
            "action_uuid": c.action_uuid,
            "workload_name": c.workload_name,
            "notice_id": c.notice_id,
            "notice_type": c.notice_type,
            "notice_key": c.notice_key,
            "pebble_check_name": c.pebble_check_name,
            "secret_id": c.secret_id,
            "secret_label": c.secret_label,
            "secret_revision": c.secret_revision,
            "storage": c.storage_id.map(|s| json!([s.name, s.index])),
            "machine_id": c.machine_id,
            "availability_zone": c.availability_zone,
            "principal_unit": c.principal_unit,
            "model_name": c.model_name,
            "model_uuid": c.model_uuid,
            "unit_name": c.unit_name,
            "version": c.version.to_string(),
            "debug": c.debug,
            "debug_at": debug_at,
            })
        }
    }
}

#[test]
fn context_agrees_with_ops_from_environ() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "Python oracle venv missing at {}: run scripts/setup-python.sh first",
        python.display()
    );
    let cases = cases();
    let mut child = Command::new(&python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ops_context.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = String::new();
    for env in &cases {
        input.push_str(&serde_json::to_string(env).unwrap());
        input.push('\n');
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(theirs.len(), cases.len());
    let mut errors = 0;
    for (env, theirs) in cases.iter().zip(&theirs) {
        assert_eq!(&ours(env), theirs, "environment {env:?}");
        errors += usize::from(theirs.get("error").is_some());
    }
    assert!(
        errors > 20,
        "the removals exercise ops' checks ({errors} errors)"
    );
}
