#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use super::runner::PIPE_BUF;
use super::*;
use crate::testutil::{args, fail, ok, scripted};
use serde_json::Value;

fn db7() -> RelationRef {
    RelationRef::new("db", 7)
}

/// Tools that print `stdout` for every call.
fn printing(stdout: &'static str) -> (HookTools, crate::testutil::CallLog) {
    scripted(move |_, _| ok(stdout))
}

#[test]
fn relation_argv_as_ops_sends_it() {
    let (t, log) = scripted(|argv, _| match args(argv).as_slice() {
        ["relation-ids", ..] => ok(r#"["db:10","db:7"]"#),
        ["relation-list", _, "--app", ..] => ok(r#""pg""#),
        ["relation-list", ..] => ok(r#"["pg/0","pg/1"]"#),
        ["relation-get", .., "host", _] => ok(r#""10.0.0.5""#),
        ["relation-get", ..] => ok(r#"{"host":"10.0.0.5"}"#),
        ["relation-model-get", ..] => ok(r#"{"uuid":"abc"}"#),
        _ => ok(""),
    });
    assert_eq!(t.relation_ids("db").unwrap(), vec![10, 7]);
    assert_eq!(t.relation_list(&db7()).unwrap(), vec!["pg/0", "pg/1"]);
    assert_eq!(t.relation_list_app(&db7()).unwrap().as_deref(), Some("pg"));
    let bag = t.relation_get(&db7(), "pg/0", false).unwrap();
    assert_eq!(bag.get("host").map(String::as_str), Some("10.0.0.5"));
    t.relation_get(&db7(), "pg", true).unwrap();
    assert_eq!(
        t.relation_get_key(&db7(), "host", "pg/0", false)
            .unwrap()
            .as_deref(),
        Some("10.0.0.5")
    );
    t.relation_get_key(&db7(), "host", "pg", true).unwrap();
    assert_eq!(t.relation_model_get(&db7()).unwrap(), "abc");
    assert_eq!(
        log.argvs(),
        vec![
            "relation-ids db --format=json",
            "relation-list --format=json -r db:7",
            "relation-list --format=json --app -r db:7",
            "relation-get --format=json -r db:7 - pg/0",
            "relation-get --format=json -r db:7 --app - pg",
            "relation-get --format=json -r db:7 host pg/0",
            "relation-get --format=json -r db:7 --app host pg",
            "relation-model-get --format=json -r db:7",
        ]
    );
}

#[test]
fn relation_set_sends_json_on_stdin() {
    let (t, log) = printing("");
    let data: Databag = [("b", "2"), ("a", ""), ("key", "va\"lue")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    t.relation_set(&db7(), &data, true).unwrap();
    t.relation_set(&db7(), &data, false).unwrap();
    t.relation_set(&db7(), &Databag::new(), false).unwrap();
    let calls = log.calls();
    assert_eq!(calls.len(), 2, "an empty update runs nothing");
    assert_eq!(
        calls[0].argv.join(" "),
        "relation-set -r db:7 --app --file -"
    );
    assert_eq!(calls[1].argv.join(" "), "relation-set -r db:7 --file -");
    let sent: Databag = serde_json::from_str(calls[0].stdin.as_deref().unwrap()).unwrap();
    assert_eq!(sent, data, "empty value is sent, which deletes the key");
}

#[test]
fn other_tools_argv_as_ops_sends_it() {
    let (t, log) = scripted(|argv, _| match argv[0].as_str() {
        "config-get" if argv.len() == 1 + 1 => ok(r#"{"port":8080,"debug":false,"name":"x"}"#),
        "config-get" => ok("null"),
        "is-leader" => ok("true"),
        "action-get" if argv.len() == 2 => ok(r#"{"target":"s3","count":3}"#),
        "action-get" => ok("3"),
        "goal-state" => ok(r#"{"units":{},"relations":{}}"#),
        "network-get" => {
            ok(r#"{"bind-addresses":[],"egress-subnets":[],"ingress-addresses":["10.1.2.3"]}"#)
        }
        "state-get" if argv.len() == 2 => ok("null"),
        "state-get" => ok(r#""v""#),
        "status-get" if argv[3] == "--application=false" => {
            ok(r#"{"message":"ready","status":"active","status-data":{}}"#)
        }
        "status-get" => ok(
            r#"{"application-status":{"message":"","status":"active","status-data":{},"units":{"app/0":{"message":"m","status":"waiting","status-data":{}}}}}"#,
        ),
        _ => ok(""),
    });
    let config = t.config_get().unwrap();
    assert_eq!(config.get("port"), Some(&serde_json::json!(8080)));
    assert_eq!(config.get("debug"), Some(&Value::Bool(false)));
    assert_eq!(t.config_get_key("nope").unwrap(), Value::Null);
    assert!(t.is_leader().unwrap());
    t.status_set(StatusName::Active, "", false).unwrap();
    t.status_set(StatusName::Blocked, "-x needs care", true)
        .unwrap();
    let unit = t.status_get().unwrap();
    assert_eq!(
        (unit.status.as_str(), unit.message.as_str()),
        ("active", "ready")
    );
    let app = t.status_get_app().unwrap();
    assert_eq!(app.status.status, "active");
    assert_eq!(app.units["app/0"].status, "waiting");
    t.application_version_set("-1.2.3").unwrap();
    assert_eq!(
        t.action_get().unwrap().get("count"),
        Some(&serde_json::json!(3))
    );
    assert_eq!(t.action_get_key("a.b").unwrap(), serde_json::json!(3));
    t.action_log("half way").unwrap();
    t.action_fail(Some("why")).unwrap();
    t.action_fail(None).unwrap();
    t.goal_state().unwrap();
    let net = t.network_get("service-mesh", Some(7)).unwrap();
    assert_eq!(net.ingress_addresses, vec!["10.1.2.3"]);
    t.network_get("juju-info", None).unwrap();
    assert!(
        t.state_get().unwrap().is_empty(),
        "null reads as empty (Juju 4)"
    );
    assert_eq!(t.state_get_key("k").unwrap().as_deref(), Some("v"));
    t.state_delete("k").unwrap();
    assert_eq!(
        log.argvs(),
        vec![
            "config-get --format=json",
            "config-get --format=json nope",
            "is-leader --format=json",
            "status-set --application=False active -- ",
            "status-set --application=True blocked -- -x needs care",
            "status-get --include-data --format=json --application=false",
            "status-get --include-data --format=json --application=true",
            "application-version-set -- -1.2.3",
            "action-get --format=json",
            "action-get --format=json a.b",
            "action-log -- half way",
            "action-fail -- why",
            "action-fail",
            "goal-state --format=json",
            "network-get --format=json -r 7 service-mesh",
            "network-get --format=json juju-info",
            "state-get --format=json",
            "state-get --format=json k",
            "state-delete k",
        ]
    );
}

#[test]
fn status_set_message_is_one_argument() {
    let (t, log) = printing("");
    t.status_set(
        StatusName::Maintenance,
        "Updating AuthorizationPolicies",
        false,
    )
    .unwrap();
    assert_eq!(
        log.calls()[0].argv,
        vec![
            "status-set",
            "--application=False",
            "maintenance",
            "--",
            "Updating AuthorizationPolicies"
        ]
    );
}

#[test]
fn state_set_uses_stdin() {
    let (t, log) = printing("");
    let data = BTreeMap::from([("k".to_string(), "v".to_string())]);
    t.state_set(&data).unwrap();
    t.state_set(&BTreeMap::new()).unwrap();
    let calls = log.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].argv.join(" "), "state-set --file -");
    assert_eq!(calls[0].stdin.as_deref(), Some(r#"{"k":"v"}"#));
}

#[test]
fn action_set_flattens_like_ops() {
    let (t, log) = printing("");
    let results = serde_json::json!({
        "a": {"b": 1, "c": {"d": true}},
        "name": "x=y",
        "none": null,
        "list": [1, 2],
    });
    t.action_set(results.as_object().unwrap()).unwrap();
    assert_eq!(
        log.calls()[0].argv,
        vec![
            "action-set",
            "a.b=1",
            "a.c.d=True",
            "name=x=y",
            "none=None",
            "list=[1, 2]"
        ]
    );
    let dup = serde_json::json!({"a": {"b": 1}, "a.b": 2});
    let err = t.action_set(dup.as_object().unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            ToolError::InvalidInput {
                tool: "action-set",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(log.calls().len(), 1, "nothing run for invalid input");
}

#[test]
fn action_set_values_are_python_str_with_exact_string_repr() {
    // ops sends `str(value)`: the strings in a list (and dict keys) are `repr()`ed, and
    // characters `str.isprintable()` rejects (U+200B, U+E000, U+00A0, U+1D173) are escaped as
    // Python 3.11 escapes them. A plain string value goes as-is; floats are Python's repr.
    let (t, log) = printing("");
    let results = serde_json::json!({
        "list": ["\u{200b}", "it's"],
        "nested": [{"\u{e000}\u{a0}": ["\u{1d173}", "é"]}],
        "numbers": [1e16, 0.00001, 80.0, 7],
        "plain": "\u{200b}",
    });
    t.action_set(results.as_object().unwrap()).unwrap();
    assert_eq!(
        log.calls()[0].argv,
        vec![
            "action-set",
            r#"list=['\u200b', "it's"]"#,
            r"nested=[{'\ue000\xa0': ['\U0001d173', 'é']}]",
            "numbers=[1e+16, 1e-05, 80.0, 7]",
            "plain=\u{200b}",
        ]
    );
}

#[test]
fn juju_log_argv_and_split() {
    let (t, log) = printing("");
    t.juju_log(LogLevel::Warning, "-starts with a dash")
        .unwrap();
    t.juju_log(LogLevel::Info, "").unwrap();
    assert_eq!(
        log.argvs(),
        vec!["juju-log --log-level WARNING -- -starts with a dash"],
        "empty messages are not sent, as ops"
    );

    let (t, log) = printing("");
    let long = "é".repeat(MAX_LOG_LINE_LEN + 5);
    t.juju_log(LogLevel::Debug, &long).unwrap();
    let calls = log.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        calls[0].argv[4],
        "Log string greater than 131071. Splitting into multiple chunks: "
    );
    assert_eq!(calls[1].argv[4].chars().count(), MAX_LOG_LINE_LEN);
    assert_eq!(calls[2].argv[4], "é".repeat(5));
    assert!(
        calls
            .iter()
            .all(|c| c.argv[..4] == ["juju-log", "--log-level", "DEBUG", "--"])
    );
}

#[test]
fn log_split_boundaries() {
    assert_eq!(log_split("abc", 3), vec!["abc"]);
    assert_eq!(
        log_split("abcd", 3),
        vec![
            "Log string greater than 3. Splitting into multiple chunks: ",
            "abc",
            "d"
        ]
    );
    assert!(log_split("", 3).is_empty());
}

/// tool, exit code, stderr, expected classification
type ErrorCase = (&'static str, i32, &'static str, fn(&ToolError) -> bool);

#[test]
fn errors_are_classified_from_stderr() {
    let cases: Vec<ErrorCase> = vec![
        (
            "relation-get",
            2,
            "ERROR invalid value \"db:99\" for option -r: relation not found\n",
            |e| {
                matches!(
                    e,
                    ToolError::RelationNotFound {
                        tool: "relation-get",
                        ..
                    }
                )
            },
        ),
        ("network-get", 1, "ERROR relation 42 not found", |e| {
            matches!(e, ToolError::RelationNotFound { .. })
        }),
        ("relation-list", 2, "ERROR unknown relation id", |e| {
            matches!(e, ToolError::RelationNotFound { .. })
        }),
        (
            "relation-get",
            1,
            "ERROR permission denied\n",
            |e| matches!(e, ToolError::PermissionDenied { stderr, .. } if stderr == "ERROR permission denied"),
        ),
        (
            "relation-set",
            1,
            "ERROR cannot write relation settings",
            |e| matches!(e, ToolError::CannotWriteRelationSettings { .. }),
        ),
        ("status-set", 1, "ERROR this unit is not the leader", |e| {
            matches!(
                e,
                ToolError::NotLeader {
                    tool: "status-set",
                    ..
                }
            )
        }),
        ("action-get", 1, "ERROR not running an action", |e| {
            matches!(e, ToolError::NotRunningAction { .. })
        }),
        (
            "status-set",
            2,
            "ERROR invalid status \"error\", expected one of [maintenance blocked waiting active]",
            |e| {
                matches!(
                    e,
                    ToolError::Failed {
                        tool: "status-set",
                        code: 2,
                        ..
                    }
                )
            },
        ),
        // "relation not found" only means a gone relation for relation tools.
        ("config-get", 1, "ERROR relation not found", |e| {
            matches!(e, ToolError::Failed { code: 1, .. })
        }),
    ];
    for (tool, code, stderr, check) in cases {
        let (t, _) = scripted(move |_, _| fail(code, stderr));
        let err = match tool {
            "relation-get" => t.relation_get(&db7(), "pg/0", false).map(drop),
            "network-get" => t.network_get("db", Some(42)).map(drop),
            "relation-list" => t.relation_list(&db7()).map(drop),
            "relation-set" => t
                .relation_set(&db7(), &Databag::from([("k".into(), "v".into())]), true)
                .map(drop),
            "status-set" => t.status_set(StatusName::Active, "", true),
            "action-get" => t.action_get().map(drop),
            "config-get" => t.config_get().map(drop),
            other => panic!("no case for {other}"),
        }
        .unwrap_err();
        assert!(check(&err), "{tool} {stderr:?} gave {err:?}");
        assert_eq!(err.tool(), tool);
    }
}

#[test]
fn failed_error_message_names_tool_code_and_stderr() {
    let (t, _) = scripted(|_, _| fail(1, "ERROR boom\n"));
    let err = t.goal_state().unwrap_err();
    assert_eq!(
        err.to_string(),
        "goal-state exited with status 1: ERROR boom"
    );
}

#[test]
fn decode_errors_keep_tool_and_raw_output() {
    let (t, _) = printing("True\n");
    match t.is_leader().unwrap_err() {
        ToolError::Decode { tool, output, .. } => {
            assert_eq!((tool, output.as_str()), ("is-leader", "True\n"));
        }
        other => panic!("{other:?}"),
    }
    let (t, _) = printing(r#"["db:x"]"#);
    assert!(matches!(
        t.relation_ids("db").unwrap_err(),
        ToolError::Decode {
            tool: "relation-ids",
            ..
        }
    ));
    let (t, _) = printing(r#"{"k": 1}"#);
    assert!(
        matches!(
            t.relation_get(&db7(), "pg/0", false),
            Err(ToolError::Decode { .. })
        ),
        "bag values must be strings"
    );
}

#[test]
fn empty_outputs_decode_to_empty_values() {
    let (t, _) = printing("null");
    assert!(t.relation_ids("db").unwrap().is_empty());
    assert!(t.relation_list(&db7()).unwrap().is_empty());
    assert_eq!(t.relation_list_app(&db7()).unwrap(), None);
    assert!(t.relation_get(&db7(), "pg", true).unwrap().is_empty());
    assert_eq!(
        t.relation_get_key(&db7(), "k", "pg/0", false).unwrap(),
        None
    );
    let (t, _) = printing(r#""""#);
    assert_eq!(t.relation_list_app(&db7()).unwrap(), None);
    assert_eq!(t.state_get_key("missing").unwrap(), None);
}

#[test]
fn relation_get_key_rejects_dash() {
    let (t, log) = printing("");
    assert!(matches!(
        t.relation_get_key(&db7(), "-", "pg/0", false),
        Err(ToolError::InvalidInput { .. })
    ));
    assert!(log.calls().is_empty());
}

#[test]
fn goal_state_decodes() {
    let (t, _) = printing(
        r#"{"units":{"app/0":{"status":"active","since":"2026-11-29 10:00:00Z"},"app/1":{"status":"dying","since":"x"}},"relations":{"db":{"pg":{"status":"joined","since":"y"}}}}"#,
    );
    let g = t.goal_state().unwrap();
    assert_eq!(g.units.len(), 2);
    assert_eq!(g.units["app/1"].status, "dying");
    assert_eq!(g.relations["db"]["pg"].status, "joined");
}

#[test]
fn spawn_errors_name_the_tool() {
    let (t, _) = scripted(|_, _| Err(std::io::Error::from(std::io::ErrorKind::NotFound)));
    let err = t.is_leader().unwrap_err();
    assert!(
        matches!(
            err,
            ToolError::Spawn {
                tool: "is-leader",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("cannot run is-leader:"));
}

#[test]
fn process_runner_passes_stdin_and_collects_output() {
    let argv: Vec<String> = vec!["cat".into()];
    let big = "x".repeat(1 << 20);
    let out = ProcessRunner.run(&argv, Some(&big)).unwrap();
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout.len(),
        big.len(),
        "a payload larger than a pipe buffer"
    );

    let argv: Vec<String> = ["sh", "-c", "echo 'ERROR permission denied' >&2; exit 2"]
        .map(String::from)
        .to_vec();
    let out = ProcessRunner.run(&argv, None).unwrap();
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (2, "ERROR permission denied\n")
    );

    // A tool that fails without reading its (large) input: the exit status and stderr
    // count, not the broken pipe.
    let argv: Vec<String> = [
        "sh",
        "-c",
        "echo 'ERROR cannot write relation settings' >&2; exit 1",
    ]
    .map(String::from)
    .to_vec();
    let out = ProcessRunner.run(&argv, Some(&big)).unwrap();
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr, "ERROR cannot write relation settings\n");
    // Small inputs (up to a pipe's guaranteed capacity) are written without a thread: the
    // same answers.
    let out = ProcessRunner.run(&argv, Some("{}")).unwrap();
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr, "ERROR cannot write relation settings\n");
    let cat: Vec<String> = vec!["cat".into()];
    for len in [0, 1, PIPE_BUF, PIPE_BUF + 1] {
        let input = "y".repeat(len);
        let out = ProcessRunner.run(&cat, Some(&input)).unwrap();
        assert_eq!((out.code, out.stdout), (0, input), "{len} bytes");
    }

    let argv = vec!["/nonexistent/relation-get".to_string()];
    assert_eq!(
        ProcessRunner.run(&argv, None).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
}

#[test]
fn ports_parse_and_print_as_juju_does() {
    for text in ["8080/tcp", "1000-2000/udp", "icmp"] {
        assert_eq!(Port::parse(text).unwrap().to_string(), text);
    }
    assert_eq!(Port::parse("80"), Some(Port::tcp(80)), "a bare port is TCP");
    assert_eq!(Port::parse("53/udp"), Some(Port::udp(53)));
    for bad in ["", "x/tcp", "80/sctp", "80-/tcp", "-1/tcp", "70000/tcp"] {
        assert_eq!(Port::parse(bad), None, "{bad}");
    }
}

#[test]
fn port_tools() {
    let (t, log) = scripted(|argv, _| match argv[0].as_str() {
        "opened-ports" => ok(r#"["8080/tcp","1000-2000/udp","icmp"]"#),
        _ => ok(""),
    });
    assert_eq!(
        t.opened_ports().unwrap(),
        vec![
            Port::tcp(8080),
            Port {
                protocol: Protocol::Udp,
                port: Some(1000),
                to_port: Some(2000)
            },
            Port::icmp()
        ]
    );
    t.open_port(&Port::tcp(9000)).unwrap();
    t.close_port(&Port::icmp()).unwrap();
    assert_eq!(
        log.argvs(),
        vec![
            "opened-ports --format=json",
            "open-port 9000/tcp",
            "close-port icmp"
        ]
    );
    let (t, _) = printing(r#"["bogus"]"#);
    assert!(matches!(
        t.opened_ports(),
        Err(ToolError::Decode {
            tool: "opened-ports",
            ..
        })
    ));
}
