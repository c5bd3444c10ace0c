//! Hook tools as a charm sees them: argv forms, output bytes, errors, exit codes, permissions.
#![allow(clippy::unwrap_used)]
mod common;
use common::{TestCharm, scenario};

const RELS: &str = "\
relations:
  - {id: 3, endpoint: db, remote_app: mydb, remote_units: [mydb/0, mydb/1],
     remote_app_data: {policies: '[]'}, remote_units_data: {mydb/0: {host: h0}}}
  - {id: 10, endpoint: db, remote_app: other, remote_units: []}
  - {id: 7, endpoint: db, remote_app: third, remote_units: [third/0]}
  - {id: 1, endpoint: peers, remote_units: [tester/1], local_app_data: {shared: 'yes'}}
";

#[test]
fn relation_ids_and_relation_list() {
    let c = TestCharm::new(
        r#"
r ids relation-ids db --format=json
r ids-smart relation-ids db
r none relation-ids cache --format json
r default relation-ids --format=json
r list relation-list --format=json -r 3
r list-eq relation-list --format=json -r=3
r list-long relation-list --relation 3 --format=json
r list-prefixed relation-list -r db:3 --format=json
r list-app relation-list --format=json --app -r db:3
r list-empty relation-list --format=json -r 10
r list-peer relation-list --format=json -r 1
r list-smart relation-list -r 3
r list-default relation-list --format=json
r notfound relation-list -r db:99
r notint relation-list -r x
r unknown-flag relation-list -x
r extra relation-list -r 3 foo
"#,
    );
    let s = scenario(
        true,
        &format!(
            "{RELS}steps:\n  - install\n  - {{hook: db-relation-changed, relation: 7, remote_unit: third/0}}\n"
        ),
    );
    c.run(&s);
    // Sorted as strings, like Juju: db:10 < db:3 < db:7.
    assert_eq!(c.ok("install", "ids"), "[\"db:10\",\"db:3\",\"db:7\"]\n");
    assert_eq!(c.ok("install", "ids-smart"), "db:10\ndb:3\ndb:7\n");
    assert_eq!(c.ok("install", "none"), "[]\n");
    c.err(
        "install",
        "default",
        2,
        "ERROR no endpoint name specified\n",
    );
    assert_eq!(
        c.ok("db-relation-changed", "default"),
        "[\"db:10\",\"db:3\",\"db:7\"]\n"
    );
    for label in ["list", "list-eq", "list-long", "list-prefixed"] {
        assert_eq!(
            c.ok("install", label),
            "[\"mydb/0\",\"mydb/1\"]\n",
            "{label}"
        );
    }
    assert_eq!(c.ok("install", "list-app"), "\"mydb\"\n");
    assert_eq!(c.ok("install", "list-empty"), "[]\n");
    assert_eq!(c.ok("install", "list-peer"), "[\"tester/1\"]\n");
    assert_eq!(c.ok("install", "list-smart"), "mydb/0\nmydb/1\n");
    c.err(
        "install",
        "list-default",
        2,
        "ERROR no relation id specified\n",
    );
    assert_eq!(
        c.ok("db-relation-changed", "list-default"),
        "[\"third/0\"]\n"
    );
    c.err(
        "install",
        "notfound",
        2,
        "ERROR invalid value \"db:99\" for option -r: relation not found\n",
    );
    c.err(
        "install",
        "notint",
        2,
        "ERROR invalid value \"x\" for option -r: invalid relation id\n",
    );
    c.err(
        "install",
        "unknown-flag",
        2,
        "ERROR flag provided but not defined: -x\n",
    );
    c.err(
        "install",
        "extra",
        2,
        "ERROR unrecognized args: [\"foo\"]\n",
    );
}

#[test]
fn relation_get_forms() {
    let c = TestCharm::new(
        r#"
r unit relation-get --format=json -r db:3 - mydb/0
r unit-default-bag relation-get --format=json -r 3 - mydb/1
r app relation-get --format=json -r db:3 --app - mydb
r key relation-get --format=json -r db:3 host mydb/0
r missing relation-get --format=json -r db:3 nope mydb/0
r smart relation-get -r 3 host mydb/0
r yaml relation-get --format=yaml -r 3 --app - mydb
r appname relation-get --format=json -r 3 - mydb
r nounit relation-get --format=json -r 3 -
r implicit relation-get --format=json
r implicit-app relation-get --format=json --app
r implicit-app-key relation-get --format=json --app policies
r own relation-get --format=json -r 3 - tester/0
r app-by-unit relation-get --format=json -r 3 --app - mydb/1
r badname relation-get --format=json -r 3 - ///
r stranger relation-get --format=json -r 3 - nobody/4
"#,
    );
    let s = scenario(
        true,
        &format!(
            "{RELS}steps:\n  - install\n  - {{hook: db-relation-changed, relation: 3, remote_unit: mydb/0}}\n  - {{hook: db-relation-created, relation: 3}}\n"
        ),
    );
    c.run(&s);
    assert_eq!(c.ok("install", "unit"), "{\"host\":\"h0\"}\n");
    // No remote unit (created): the defaults fall back to the remote app's bag.
    assert_eq!(c.ok("db-relation-created", "implicit-app-key"), "\"[]\"\n");
    assert_eq!(
        c.ok("db-relation-created", "implicit"),
        "{\"policies\":\"[]\"}\n"
    );
    assert_eq!(c.ok("install", "app-by-unit"), "{\"policies\":\"[]\"}\n");
    c.err("install", "badname", 2, "ERROR invalid unit name \"///\"\n");
    c.err("install", "implicit", 2, "ERROR no relation id specified\n");
    assert_eq!(
        c.ok("install", "unit-default-bag"),
        "{\"egress-subnets\":\"192.0.2.0\",\"ingress-address\":\"192.0.2.0\",\"private-address\":\"192.0.2.0\"}\n"
    );
    assert_eq!(c.ok("install", "app"), "{\"policies\":\"[]\"}\n");
    assert_eq!(c.ok("install", "key"), "\"h0\"\n");
    assert_eq!(c.ok("install", "missing"), "null\n");
    assert_eq!(c.ok("install", "smart"), "h0\n");
    assert_eq!(c.ok("install", "yaml"), "policies: '[]'\n");
    c.err(
        "install",
        "appname",
        2,
        "ERROR expected unit name, got application name \"mydb\"\n",
    );
    c.err(
        "install",
        "nounit",
        2,
        "ERROR no unit or application specified\n",
    );
    assert_eq!(
        c.ok("db-relation-changed", "implicit"),
        "{\"host\":\"h0\"}\n"
    );
    assert_eq!(
        c.ok("db-relation-changed", "implicit-app"),
        "{\"policies\":\"[]\"}\n"
    );
    assert!(
        c.ok("install", "own")
            .contains("\"private-address\":\"192.0.2.0\"")
    );
    let (rc, _, err) = c.call("install", "stranger");
    assert_eq!(rc, 1);
    assert!(
        err.starts_with("ERROR cannot read settings for unit \"nobody/4\""),
        "{err}"
    );
}

#[test]
fn permission_matrix_with_leadership_at_call_time() {
    let c = TestCharm::new(
        r#"
r read-app relation-get --format=json -r 3 --app - tester
r read-peer-app relation-get --format=json -r 1 --app - tester
r write-app relation-set -r 3 --app k=v
r write-peer-app relation-set -r 1 --app k=v
r write-unit relation-set -r 3 u=1
r read-unit relation-get --format=json -r 3 u tester/0
"#,
    );
    let s = scenario(
        true,
        &format!("{RELS}steps:\n  - install\n  - {{update: {{leader: false}}}}\n  - start\n"),
    );
    let out = c.run(&s);
    // Leader: everything allowed.
    for l in [
        "read-app",
        "read-peer-app",
        "write-app",
        "write-peer-app",
        "write-unit",
    ] {
        c.ok("install", l);
    }
    // Non-leader (same process tree, leadership changed between hooks).
    c.err("start", "read-app", 1, "ERROR permission denied\n");
    assert_eq!(
        c.ok("start", "read-peer-app"),
        "{\"k\":\"v\",\"shared\":\"yes\"}\n"
    );
    c.err(
        "start",
        "write-app",
        1,
        "ERROR cannot write relation settings\n",
    );
    c.err(
        "start",
        "write-peer-app",
        1,
        "ERROR cannot write relation settings\n",
    );
    c.ok("start", "write-unit");
    assert_eq!(c.ok("start", "read-unit"), "\"1\"\n");
    let db = out.relations.iter().find(|r| r.id == 3).unwrap();
    assert_eq!(db.local_app_data.get("k").map(String::as_str), Some("v"));
}

#[test]
fn relation_set_commit_on_success_only() {
    let c = TestCharm::new(
        r#"
case "$EV" in
install)
  printf 'a: "1"\nb: two\n' | relation-set -r 3 --app --file -
  printf '{"j": "son"}' | relation-set -r 3 --file -
  relation-set -r 3 --app c=3 a=
  r own-app relation-get --format=json -r 3 --app - tester
  r own-unit relation-get --format=json -r 3 j tester/0
  state-set s=1
  r state-same state-get --format=json
  open-port 8080/tcp
  r ports-same opened-ports --format=json
  status-set maintenance "working"
  juju-log -- "before"
  ;;
start)
  r state state-get --format=json
  r state-key state-get --format=json s
  r state-missing state-get --format=json nope
  r state-strict state-get --format=json --strict nope
  r ports opened-ports --format=json
  r ports-ep opened-ports --endpoints --format=json
  relation-set -r 3 --app lost=yes
  state-set lost=yes
  open-port icmp
  status-set blocked "kept"
  juju-log --log-level ERROR -- "failing"
  exit 3
  ;;
stop)
  r state state-get --format=json
  r ports opened-ports
  r dup relation-set -r 3 a=1 a=2
  r noeq relation-set -r 3 novalue
  r deprecated relation-set --format=json -r 3 x=1
  ;;
esac
"#,
    );
    let s = scenario(true, &format!("{RELS}steps: [install, start, stop]\n"));
    let out = c.run(&s);
    // Read-your-writes in the hook; `a=` deleted the key.
    assert_eq!(c.ok("install", "own-app"), "{\"b\":\"two\",\"c\":\"3\"}\n");
    assert_eq!(c.ok("install", "own-unit"), "\"son\"\n");
    // state-get and opened-ports show committed state only.
    assert_eq!(c.ok("install", "state-same"), "{}\n");
    assert_eq!(c.ok("install", "ports-same"), "[]\n");
    assert_eq!(c.ok("start", "state"), "{\"s\":\"1\"}\n");
    assert_eq!(c.ok("start", "state-key"), "\"1\"\n");
    assert_eq!(c.ok("start", "state-missing"), "\"\"\n");
    c.err("start", "state-strict", 1, "ERROR \"nope\" not found\n");
    assert_eq!(c.ok("start", "ports"), "[\"8080/tcp\"]\n");
    assert_eq!(c.ok("start", "ports-ep"), "[\"8080/tcp (*)\"]\n");
    // start exited 3: its buffered writes are gone, status and logs are not.
    assert_eq!(out.steps[1].exit_code, 3);
    assert_eq!(c.ok("stop", "state"), "{\"s\":\"1\"}\n");
    assert_eq!(c.ok("stop", "ports"), "8080/tcp\n");
    let st = out.steps[1].unit_status.as_ref().unwrap();
    assert_eq!(
        (st.status.as_str(), st.message.as_str()),
        ("blocked", "kept")
    );
    assert_eq!(out.steps[1].logs[0].level, "ERROR");
    assert_eq!(out.steps[1].logs[0].message, "failing");
    assert_eq!(out.steps[0].logs[0].message, "before");
    let db = out.relations.iter().find(|r| r.id == 3).unwrap();
    assert_eq!(
        serde_json::to_value(&db.local_app_data).unwrap(),
        serde_json::json!({"b": "two", "c": "3"})
    );
    assert_eq!(db.local_unit_data.get("j").map(String::as_str), Some("son"));
    c.err(
        "stop",
        "dup",
        2,
        "ERROR key \"a\" specified more than once\n",
    );
    c.err(
        "stop",
        "noeq",
        2,
        "ERROR expected \"key=value\", got \"novalue\"\n",
    );
    let (rc, _, err) = c.call("stop", "deprecated");
    assert_eq!(rc, 0);
    assert!(err.contains("deprecated"), "{err}");
}

#[test]
fn config_get_typed() {
    let c = TestCharm::new(
        r#"
r all config-get --format=json
r all-flag config-get --format=json --all
r key config-get --format=json port
r unknown config-get --format=json nosuch
r smart config-get debug
r all-key config-get --all port
"#,
    );
    let s = scenario(
        true,
        "config: {name: x}\nsteps:\n  - install\n  - {update: {config: {name: null, port: 9}}}\n  - start\n",
    );
    c.run(&s);
    assert_eq!(
        c.ok("install", "all"),
        "{\"debug\":false,\"name\":\"x\",\"port\":8080,\"ratio\":0.5}\n"
    );
    assert_eq!(
        c.ok("start", "all"),
        "{\"debug\":false,\"port\":9,\"ratio\":0.5}\n"
    );
    assert_eq!(
        c.ok("start", "all-flag"),
        "{\"debug\":false,\"name\":null,\"port\":9,\"ratio\":0.5}\n"
    );
    assert_eq!(c.ok("install", "key"), "8080\n");
    assert_eq!(c.ok("install", "unknown"), "null\n");
    assert_eq!(c.ok("install", "smart"), "False\n");
    c.err(
        "install",
        "all-key",
        2,
        "ERROR cannot use argument --all together with key \"port\"\n",
    );
}

#[test]
fn status_tools() {
    let c = TestCharm::new(
        r#"
r bad status-set error "boom"
r none status-set
r set status-set --application=False active -- "all good"
r app status-set --application=True waiting "app msg"
r get status-get --include-data --format=json --application=false
r get-smart status-get
r get-json status-get --format=json
r get-app-smart status-get --application
r get-app status-get --include-data --format=json --application=true
r version application-version-set -- 1.2.3
r leader is-leader --format=json
r leader-smart is-leader
"#,
    );
    let s = scenario(
        true,
        "steps:\n  - install\n  - {update: {leader: false}}\n  - start\n",
    );
    let out = c.run(&s);
    c.err(
        "install",
        "bad",
        2,
        "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]\n",
    );
    c.err(
        "install",
        "none",
        2,
        "ERROR invalid args, require <status> [message]\n",
    );
    assert_eq!(
        c.ok("install", "get"),
        "{\"message\":\"all good\",\"status\":\"active\",\"status-data\":{}}\n"
    );
    assert_eq!(c.ok("install", "get-smart"), "active\n");
    assert_eq!(c.ok("install", "get-json"), "{\"status\":\"active\"}\n");
    assert_eq!(c.ok("install", "get-app-smart"), "waiting\n");
    assert_eq!(
        c.ok("install", "get-app"),
        "{\"application-status\":{\"message\":\"app msg\",\"status\":\"waiting\",\"status-data\":{},\"units\":{\"tester/0\":{\"message\":\"all good\",\"status\":\"active\",\"status-data\":{}}}}}\n"
    );
    assert_eq!(c.ok("install", "leader"), "true\n");
    assert_eq!(c.ok("install", "leader-smart"), "True\n");
    assert_eq!(c.ok("start", "leader"), "false\n");
    c.err("start", "app", 1, "ERROR this unit is not the leader\n");
    c.err(
        "start",
        "get-app",
        1,
        "ERROR finding application status: this unit is not the leader\n",
    );
    let app = out.steps[0].app_status.as_ref().unwrap();
    assert_eq!(app.status, "waiting");
}

#[test]
fn juju_log_levels_and_relation_prefix() {
    let c = TestCharm::new(
        r#"
juju-log --log-level INFO -- "plain"
juju-log -l warning -- "lower"
juju-log --debug dbg message
juju-log --log-level Bogus -- "odd"
juju-log -l WARN -- "short warn"
r deprecated juju-log --format=json -- "fmt"
r empty juju-log
"#,
    );
    let s = scenario(
        true,
        &format!("{RELS}steps:\n  - install\n  - {{hook: db-relation-changed, relation: 3}}\n"),
    );
    let out = c.run(&s);
    let logs: Vec<(String, String)> = out.steps[0]
        .logs
        .iter()
        .map(|l| (l.level.clone(), l.message.clone()))
        .collect();
    let want: Vec<(String, String)> = [
        ("INFO", "plain"),
        ("WARNING", "lower"),
        ("DEBUG", "dbg message"),
        ("WARNING", "Specified log level of \"Bogus\" is not valid"),
        ("INFO", "odd"),
        ("WARNING", "short warn"),
        ("INFO", "fmt"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(logs, want);
    assert_eq!(out.steps[1].logs[0].message, "db:3: plain");
    c.err("install", "empty", 2, "ERROR no message specified\n");
    let (rc, _, err) = c.call("install", "deprecated");
    assert_eq!(
        (rc, err.as_str()),
        (0, "--format flag deprecated for command \"juju-log\"\n")
    );
}

#[test]
fn action_tools() {
    let c = TestCharm::new(
        r#"
r get action-get --format=json
r get-key action-get --format=json count
r get-missing action-get --format=json a.b
r set action-set out.nested=deep top=1
r reserved action-set stdout=x
r reserved-nested action-set a.stderr=x
r badkey action-set Foo=1
r noeq action-set foo
r log action-log -- "progress"
r fail action-fail "it broke"
"#,
    );
    let s = scenario(
        true,
        "steps:\n  - install\n  - {action: do-it, params: {count: 3}}\n",
    );
    let out = c.run(&s);
    c.err("install", "get", 1, "ERROR not running an action\n");
    c.err("install", "set", 1, "ERROR not running an action\n");
    c.err("install", "fail", 1, "ERROR not running an action\n");
    // Argument errors come first, as in jujuc (Init before Run).
    c.err(
        "install",
        "reserved",
        2,
        "ERROR cannot set reserved action key \"stdout\"\n",
    );
    assert_eq!(c.ok("do-it", "get"), "{\"count\":3,\"target\":\"s3\"}\n");
    assert_eq!(c.ok("do-it", "get-key"), "3\n");
    assert_eq!(c.ok("do-it", "get-missing"), "null\n");
    c.err(
        "do-it",
        "reserved",
        2,
        "ERROR cannot set reserved action key \"stdout\"\n",
    );
    c.err(
        "do-it",
        "reserved-nested",
        2,
        "ERROR cannot set reserved action key \"stderr\"\n",
    );
    c.err(
        "do-it",
        "badkey",
        2,
        "ERROR key \"Foo\" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods\n",
    );
    c.err(
        "do-it",
        "noeq",
        2,
        "ERROR argument \"foo\" must be of the form key...=value\n",
    );
    let act = out.steps[1].action.as_ref().unwrap();
    assert_eq!(
        serde_json::Value::Object(act.results.clone()),
        serde_json::json!({"out": {"nested": "deep"}, "top": "1"})
    );
    assert_eq!(act.failed.as_deref(), Some("it broke"));
    assert_eq!(act.logs, ["progress"]);
    assert_eq!(out.steps[1].step, "do-it");
    assert!(out.steps[0].action.is_none());
}

#[test]
fn goal_state_network_get_leader_settings() {
    let c = TestCharm::new(
        r#"
r goal goal-state --format=json
r net network-get --format=json db
r net-ingress network-get --format=json --ingress-address db
r net-extra network-get --format=json -r 3 metrics --bind-address
r net-bad network-get --format=json nosuch
r net-two network-get --format=json db --ingress-address --bind-address
r lset leader-set a=1
r lget leader-get --format=json
r model relation-model-get --format=json -r 3
"#,
    );
    let s = scenario(
        true,
        &format!(
            "planned_units: 2\n{RELS}steps:\n  - install\n  - {{update: {{leader: false}}}}\n  - start\n"
        ),
    );
    c.run(&s);
    let goal_text = c.ok("install", "goal");
    // Struct field order (units, relations; status, since), map keys sorted.
    assert!(
        goal_text.starts_with(
            "{\"units\":{\"tester/0\":{\"status\":\"active\",\"since\":\"2026-01-01T00:00:00Z\"},\"tester/1\""
        ),
        "{goal_text}"
    );
    assert!(
        goal_text.contains("\"relations\":{\"db\":{\"mydb\":{\"status\":\"joined\""),
        "{goal_text}"
    );
    let goal: serde_json::Value = serde_json::from_str(&goal_text).unwrap();
    assert_eq!(
        goal["units"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["tester/0", "tester/1"]
    );
    assert_eq!(goal["units"]["tester/0"]["status"], "active");
    assert_eq!(goal["relations"]["db"]["mydb"]["status"], "joined");
    assert_eq!(goal["relations"]["db"]["mydb/1"]["status"], "active");
    assert_eq!(
        c.ok("install", "net"),
        "{\"bind-addresses\":[{\"mac-address\":\"\",\"interface-name\":\"eth0\",\"addresses\":[{\"hostname\":\"\",\"value\":\"192.0.2.0\",\"cidr\":\"192.0.2.0/24\"}]}],\"egress-subnets\":[\"192.0.2.0/24\"],\"ingress-addresses\":[\"192.0.2.0\"]}\n"
    );
    assert_eq!(c.ok("install", "net-ingress"), "\"192.0.2.0\"\n");
    assert_eq!(
        c.ok("install", "net-two"),
        "{\"bind-address\":\"192.0.2.0\",\"ingress-address\":\"192.0.2.0\"}\n"
    );
    assert_eq!(c.ok("install", "net-extra"), "\"192.0.2.0\"\n");
    c.err(
        "install",
        "net-bad",
        1,
        "ERROR no network config found for binding \"nosuch\"\n",
    );
    assert_eq!(c.ok("install", "lget"), "{\"a\":\"1\"}\n");
    c.err(
        "start",
        "lset",
        1,
        "ERROR cannot write leadership settings: cannot write settings: not the leader\n",
    );
    assert_eq!(
        c.ok("install", "model"),
        "{\"uuid\":\"7b0e1c9e-0000-4000-8000-000000000001\"}\n"
    );
}

#[test]
fn departed_and_broken_semantics() {
    let c = TestCharm::new(
        r#"
r ids relation-ids db --format=json
r list relation-list --format=json
r get-departed relation-get --format=json -r 3 host mydb/0
r list-r relation-list --format=json -r 3
r get-app relation-get --format=json -r 3 --app - mydb
r set-app relation-set -r 3 --app x=1
"#,
    );
    let s = scenario(
        true,
        &format!(
            "{RELS}steps:\n  - {{hook: db-relation-departed, relation: 3, departing_unit: mydb/0}}\n  \
             - {{hook: db-relation-broken, relation: 3}}\n  - install\n"
        ),
    );
    let out = c.run(&s);
    assert_eq!(c.ok("db-relation-departed", "list"), "[\"mydb/1\"]\n");
    assert_eq!(c.ok("db-relation-departed", "get-departed"), "\"h0\"\n");
    assert_eq!(c.ok("db-relation-broken", "ids"), "[\"db:10\",\"db:7\"]\n");
    assert_eq!(c.ok("db-relation-broken", "list"), "[]\n");
    assert_eq!(c.ok("db-relation-broken", "list-r"), "[]\n");
    assert_eq!(
        c.ok("db-relation-broken", "get-app"),
        "{\"policies\":\"[]\"}\n"
    );
    c.err(
        "db-relation-broken",
        "set-app",
        1,
        "ERROR cannot read relation application settings: permission denied (unauthorized access)\n",
    );
    // After the broken step the relation is gone from the model.
    assert_eq!(c.ok("install", "ids"), "[\"db:10\",\"db:7\"]\n");
    c.err(
        "install",
        "list-r",
        2,
        "ERROR invalid value \"3\" for option -r: relation not found\n",
    );
    assert!(out.relations.iter().all(|r| r.id != 3));
}

#[test]
fn formats_and_output_file() {
    let c = TestCharm::new(
        r#"
r yaml config-get --format yaml
r badfmt config-get --format=xml
r outfile config-get --format=json -o cfg.json
cp cfg.json "$OUT/cfg.json"
r goal-smart goal-state --format=smart
"#,
    );
    c.run(&scenario(true, "steps: [install]\n"));
    assert_eq!(
        c.ok("install", "yaml"),
        "debug: false\nport: 8080\nratio: 0.5\n"
    );
    c.err(
        "install",
        "badfmt",
        2,
        "ERROR invalid value \"xml\" for option --format: unknown format \"xml\"\n",
    );
    assert_eq!(c.ok("install", "outfile"), "");
    // Relative to the hook's cwd, the charm dir (copied out by the charm above).
    let written = std::fs::read_to_string(c.out.path().join("cfg.json")).unwrap();
    assert_eq!(written, "{\"debug\":false,\"port\":8080,\"ratio\":0.5}\n");
    let (rc, _, _) = c.call("install", "goal-smart");
    assert_eq!(rc, 2);
}
