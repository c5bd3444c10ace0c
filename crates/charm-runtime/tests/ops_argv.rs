//! Differential test: the argv (and stdin) `HookTools` sends equals what ops 3.9's
//! `ops.hookcmds` sends for the same calls, recorded by `tests/ops_argv.py` in the project's
//! Python venv (`scripts/setup-python.sh`). Also ops' juju-log splitting.
#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use charm_runtime::tools::{
    HookTools, LogLevel, Port, Protocol, RelationRef, StatusName, ToolError, ToolOutput,
    ToolRunner, log_split,
};
use serde_json::{Value, json};

/// The last call's argv and stdin.
type Seen = Arc<Mutex<Option<(Vec<String>, Option<String>)>>>;

/// Records one call and answers with a fixed stdout.
struct Recorder {
    stdout: &'static str,
    seen: Seen,
}

impl ToolRunner for Recorder {
    fn run(&self, argv: &[String], stdin: Option<&str>) -> std::io::Result<ToolOutput> {
        *self.seen.lock().unwrap() = Some((argv.to_vec(), stdin.map(str::to_string)));
        Ok(ToolOutput {
            code: 0,
            stdout: self.stdout.to_string(),
            stderr: String::new(),
        })
    }
}

/// Run `f` against a recorder answering `stdout`; return {"argv", "stdin"} as ops' script does.
fn record(stdout: &'static str, f: impl FnOnce(&HookTools) -> Result<(), ToolError>) -> Value {
    let seen: Seen = Arc::new(Mutex::new(None));
    let tools = HookTools::new(Recorder {
        stdout,
        seen: seen.clone(),
    });
    f(&tools).unwrap();
    let (argv, stdin) = seen.lock().unwrap().take().unwrap();
    json!({"argv": argv, "stdin": stdin})
}

fn ours() -> BTreeMap<&'static str, Value> {
    let db7 = RelationRef::new("db", 7);
    let bag = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let results = json!({
        "a": {"b": 1, "c": true},
        "l": [1, "x's", "\u{200b}\u{a0}", 1e16, 1e-05, 0.5],
        "n": null,
        "s": "t",
    });
    let app_status =
        r#"{"application-status":{"status":"active","message":"","status-data":{},"units":{}}}"#;
    let unit_status = r#"{"status":"active","message":"","status-data":{}}"#;
    let network = r#"{"bind-addresses":[],"egress-subnets":[],"ingress-addresses":[]}"#;
    BTreeMap::from([
        (
            "relation_ids",
            record(r#"["db:7"]"#, |t| t.relation_ids("service-mesh").map(drop)),
        ),
        (
            "relation_list",
            record(r#"["pg/0"]"#, |t| t.relation_list(&db7).map(drop)),
        ),
        (
            "relation_list_app",
            record(r#""pg""#, |t| t.relation_list_app(&db7).map(drop)),
        ),
        (
            "relation_get_unit",
            record("{}", |t| t.relation_get(&db7, "pg/0", false).map(drop)),
        ),
        (
            "relation_get_app",
            record("{}", |t| t.relation_get(&db7, "pg", true).map(drop)),
        ),
        (
            "relation_get_key",
            record(r#""v""#, |t| {
                t.relation_get_key(&db7, "host", "pg/0", false).map(drop)
            }),
        ),
        (
            "relation_get_app_key",
            record(r#""v""#, |t| {
                t.relation_get_key(&db7, "host", "pg", true).map(drop)
            }),
        ),
        (
            "relation_set_app",
            record("", |t| {
                t.relation_set(&db7, &bag(&[("a", "1"), ("b", "")]), true)
            }),
        ),
        (
            "relation_set_unit",
            record("", |t| t.relation_set(&db7, &bag(&[("k", "v")]), false)),
        ),
        (
            "relation_model_get",
            record(r#"{"uuid":"x"}"#, |t| t.relation_model_get(&db7).map(drop)),
        ),
        ("config_get", record("{}", |t| t.config_get().map(drop))),
        (
            "config_get_key",
            record("8080", |t| t.config_get_key("port").map(drop)),
        ),
        ("is_leader", record("true", |t| t.is_leader().map(drop))),
        (
            "status_set_unit",
            record("", |t| t.status_set(StatusName::Active, "", false)),
        ),
        (
            "status_set_app",
            record("", |t| {
                t.status_set(StatusName::Blocked, "-x needs care", true)
            }),
        ),
        (
            "status_get_unit",
            record(unit_status, |t| t.status_get().map(drop)),
        ),
        (
            "status_get_app",
            record(app_status, |t| t.status_get_app().map(drop)),
        ),
        (
            "application_version_set",
            record("", |t| t.application_version_set("-1.2")),
        ),
        (
            "juju_log",
            record("", |t| t.juju_log(LogLevel::Warning, "-hi")),
        ),
        ("action_get", record("{}", |t| t.action_get().map(drop))),
        (
            "action_get_key",
            record("3", |t| t.action_get_key("a.b").map(drop)),
        ),
        (
            "action_set",
            record("", |t| t.action_set(results.as_object().unwrap())),
        ),
        ("action_log", record("", |t| t.action_log("half way"))),
        ("action_fail", record("", |t| t.action_fail(Some("why")))),
        ("action_fail_none", record("", |t| t.action_fail(None))),
        (
            "goal_state",
            record(r#"{"units":{},"relations":{}}"#, |t| {
                t.goal_state().map(drop)
            }),
        ),
        (
            "network_get_rel",
            record(network, |t| t.network_get("db", Some(7)).map(drop)),
        ),
        (
            "network_get",
            record(network, |t| t.network_get("juju-info", None).map(drop)),
        ),
        ("state_get", record("{}", |t| t.state_get().map(drop))),
        (
            "state_get_key",
            record(r#""v""#, |t| t.state_get_key("k").map(drop)),
        ),
        (
            "state_set",
            record("", |t| t.state_set(&bag(&[("k", "v")]))),
        ),
        ("state_delete", record("", |t| t.state_delete("k"))),
        (
            "opened_ports",
            record(r#"["8080/tcp"]"#, |t| t.opened_ports().map(drop)),
        ),
        ("open_port", record("", |t| t.open_port(&Port::tcp(9000)))),
        ("open_port_icmp", record("", |t| t.open_port(&Port::icmp()))),
        (
            "close_port_range",
            record("", |t| {
                t.close_port(&Port {
                    protocol: Protocol::Udp,
                    port: Some(1000),
                    to_port: Some(2000),
                })
            }),
        ),
    ])
}

#[test]
fn argv_matches_ops_hookcmds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "Python oracle venv missing at {}: run scripts/setup-python.sh first",
        python.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ops_argv.py");
    let out = Command::new(&python).arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut theirs: BTreeMap<String, Value> = serde_json::from_slice(&out.stdout).unwrap();

    let their_split = theirs.remove("log_split").unwrap();
    let our_split: Vec<String> =
        [log_split("abcdefghijk", 4), log_split(&"é".repeat(9), 3)].concat();
    assert_eq!(their_split, json!(our_split), "juju-log splitting");

    let ours = ours();
    assert_eq!(
        theirs.keys().map(String::as_str).collect::<Vec<_>>(),
        ours.keys().copied().collect::<Vec<_>>(),
        "same calls on both sides"
    );
    for (label, mine) in ours {
        let theirs = &theirs[label];
        assert_eq!(mine["argv"], theirs["argv"], "{label}: argv");
        // Same JSON object on stdin; ops formats it with spaces, we compactly.
        let parse = |v: &Value| {
            v.as_str()
                .map(|s| serde_json::from_str::<Value>(s).unwrap())
        };
        assert_eq!(
            parse(&mine["stdin"]),
            parse(&theirs["stdin"]),
            "{label}: stdin"
        );
    }
}
