//! The hook environment per event: exactly Juju's variables plus KUBECONFIG and
//! CHARM_CONTAINERS_ROOT, nothing inherited from the simulator's own environment.
#![allow(clippy::unwrap_used)]
mod common;
use std::collections::BTreeMap;
use std::path::Path;

use common::{TestCharm, scenario};

const BODY: &str = r#"
f="$OUT/$(echo "$JUJU_CONTEXT_ID" | tr / _)"
env > "$f.env"
pwd > "$f.cwd"
readlink /proc/self/fd/0 > "$f.stdin"
"#;

const CMR: &str = "remote-0123456789abcdef0123456789abcdef";

fn env_of(c: &TestCharm, ctx: &str) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(c.out.path().join(format!("{ctx}.env"))).unwrap();
    text.lines()
        .filter_map(|l| l.split_once('='))
        // Set by the shell itself, not by the simulator.
        .filter(|(k, _)| !["PWD", "OLDPWD", "SHLVL", "_"].contains(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

const BASE_KEYS: &[&str] = &[
    "APT_LISTCHANGES_FRONTEND",
    "CHARM_CONTAINERS_ROOT",
    "CHARM_DIR",
    "CLOUD_API_VERSION",
    "DEBIAN_FRONTEND",
    "JUJU_AGENT_SOCKET_ADDRESS",
    "JUJU_AGENT_SOCKET_NETWORK",
    "JUJU_API_ADDRESSES",
    "JUJU_AVAILABILITY_ZONE",
    "JUJU_CHARM_DIR",
    "JUJU_CHARM_FTP_PROXY",
    "JUJU_CHARM_HTTPS_PROXY",
    "JUJU_CHARM_HTTP_PROXY",
    "JUJU_CHARM_NO_PROXY",
    "JUJU_CONTEXT_ID",
    "JUJU_DISPATCH_PATH",
    "JUJU_HOOK_NAME",
    "JUJU_MACHINE_ID",
    "JUJU_MODEL_NAME",
    "JUJU_MODEL_UUID",
    "JUJU_PRINCIPAL_UNIT",
    "JUJU_UNIT_NAME",
    "JUJU_VERSION",
    "KUBECONFIG",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "LANG",
    "PATH",
    "TERM",
];

fn keys(env: &BTreeMap<String, String>) -> Vec<String> {
    env.keys().cloned().collect()
}

/// The base keys plus `extra`, sorted.
fn with(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = BASE_KEYS
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn environment_per_event() {
    let c = TestCharm::new(BODY);
    let s = scenario(
        true,
        &format!(
            "juju_version: 3.5.1\n\
relations:
  - {{id: 3, endpoint: db, remote_app: {CMR}, remote_units: [{CMR}/0, {CMR}/1]}}
  - {{id: 1, endpoint: peers, remote_units: [tester/1]}}
steps:
  - install
  - {{hook: db-relation-created, relation: 3}}
  - {{hook: db-relation-changed, relation: 3, remote_unit: {CMR}/0}}
  - {{hook: db-relation-changed, relation: 3}}
  - {{hook: db-relation-departed, relation: 3, departing_unit: {CMR}/1}}
  - {{hook: db-relation-broken, relation: 3}}
  - {{hook: peers-relation-joined, remote_unit: tester/1}}
  - web-pebble-ready
  - {{action: do-it}}
"
        ),
    );
    let out = c.run(&s);
    assert!(out.steps.iter().all(|s| s.exit_code == 0));

    let install = env_of(&c, "tester_0-install-1");
    assert_eq!(keys(&install), with(&[]));
    // The unit's own copy of the charm, absolute, as Juju's agent dir.
    let dir = install["JUJU_CHARM_DIR"].clone();
    assert!(dir.starts_with('/'), "{dir}");
    assert_ne!(
        Path::new(&dir),
        std::fs::canonicalize(c.dir.path()).unwrap()
    );
    for (k, v) in [
        ("JUJU_DISPATCH_PATH", "hooks/install"),
        ("JUJU_HOOK_NAME", "install"),
        ("JUJU_CHARM_DIR", dir.as_str()),
        ("CHARM_DIR", dir.as_str()),
        ("JUJU_UNIT_NAME", "tester/0"),
        ("JUJU_MODEL_NAME", "prod"),
        ("JUJU_MODEL_UUID", "7b0e1c9e-0000-4000-8000-000000000001"),
        ("JUJU_VERSION", "3.5.1"),
        ("JUJU_CONTEXT_ID", "tester/0-install-1"),
        ("JUJU_AGENT_SOCKET_NETWORK", "unix"),
        ("JUJU_MACHINE_ID", ""),
        ("JUJU_CHARM_HTTP_PROXY", ""),
        ("LANG", "C.UTF-8"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("APT_LISTCHANGES_FRONTEND", "none"),
        ("KUBERNETES_SERVICE_HOST", "127.0.0.1"),
    ] {
        assert_eq!(install[k], v, "{k}");
    }
    let root = &install["CHARM_CONTAINERS_ROOT"];
    assert!(
        install["PATH"]
            .split(':')
            .next()
            .unwrap()
            .ends_with("/tools")
    );
    assert!(std::path::Path::new(&install["KUBECONFIG"]).is_absolute());
    let cwd = std::fs::read_to_string(c.out.path().join("tester_0-install-1.cwd")).unwrap();
    assert_eq!(cwd.trim(), dir);
    let stdin = std::fs::read_to_string(c.out.path().join("tester_0-install-1.stdin")).unwrap();
    assert_eq!(stdin.trim(), "/dev/null");

    let rel = [
        "JUJU_RELATION",
        "JUJU_RELATION_ID",
        "JUJU_REMOTE_APP",
        "JUJU_REMOTE_UNIT",
    ];
    let created = env_of(&c, "tester_0-db-relation-created-2");
    assert_eq!(keys(&created), with(&rel));
    assert_eq!(created["JUJU_RELATION"], "db");
    assert_eq!(created["JUJU_RELATION_ID"], "db:3");
    assert_eq!(created["JUJU_REMOTE_APP"], CMR);
    assert_eq!(created["JUJU_REMOTE_UNIT"], "");

    let changed = env_of(&c, "tester_0-db-relation-changed-3");
    assert_eq!(changed["JUJU_REMOTE_UNIT"], format!("{CMR}/0"));
    let app_change = env_of(&c, "tester_0-db-relation-changed-4");
    assert_eq!(keys(&app_change), with(&rel));
    assert_eq!(app_change["JUJU_REMOTE_UNIT"], "");

    let departed = env_of(&c, "tester_0-db-relation-departed-5");
    let mut dep_keys = rel.to_vec();
    dep_keys.push("JUJU_DEPARTING_UNIT");
    assert_eq!(keys(&departed), with(&dep_keys));
    assert_eq!(departed["JUJU_DEPARTING_UNIT"], format!("{CMR}/1"));
    assert_eq!(departed["JUJU_REMOTE_UNIT"], format!("{CMR}/1"));

    let broken = env_of(&c, "tester_0-db-relation-broken-6");
    assert_eq!(keys(&broken), with(&rel));
    assert_eq!(broken["JUJU_REMOTE_UNIT"], "");

    let peer = env_of(&c, "tester_0-peers-relation-joined-7");
    assert_eq!(peer["JUJU_REMOTE_APP"], "tester");
    assert_eq!(peer["JUJU_REMOTE_UNIT"], "tester/1");
    assert_eq!(peer["JUJU_RELATION_ID"], "peers:1");

    let ready = env_of(&c, "tester_0-web-pebble-ready-8");
    assert_eq!(keys(&ready), with(&["JUJU_WORKLOAD_NAME"]));
    assert_eq!(ready["JUJU_WORKLOAD_NAME"], "web");
    assert_eq!(&ready["CHARM_CONTAINERS_ROOT"], root);

    let action = env_of(&c, "tester_0-do-it-9");
    assert_eq!(
        keys(&action),
        with(&["JUJU_ACTION_NAME", "JUJU_ACTION_UUID", "JUJU_ACTION_TAG"])
    );
    assert_eq!(action["JUJU_DISPATCH_PATH"], "actions/do-it");
    assert_eq!(action["JUJU_HOOK_NAME"], "");
    assert_eq!(action["JUJU_ACTION_NAME"], "do-it");
    assert_eq!(action["JUJU_ACTION_UUID"], "1");
    assert_eq!(action["JUJU_ACTION_TAG"], "action-1");
}
