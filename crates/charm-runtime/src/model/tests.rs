#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;
use crate::testutil::{CallLog, args, fail, ok, scripted};

fn ctx(dispatch: &str, extra: &[(&str, &str)]) -> JujuContext {
    let mut v = vec![
        ("JUJU_DISPATCH_PATH", dispatch),
        ("JUJU_MODEL_NAME", "istio-system"),
        ("JUJU_MODEL_UUID", "uuid"),
        ("JUJU_UNIT_NAME", "beacon/0"),
        ("JUJU_VERSION", "3.6.4"),
    ];
    v.extend_from_slice(extra);
    JujuContext::from_vars(v).unwrap()
}

/// A small fake Juju for the model: relation `service-mesh:3` with consumer `app/0`,
/// `service-mesh:5` with `other/0`, and peers `peers:1` with `beacon/1`.
fn fake_juju(leader: bool) -> (HookTools, CallLog) {
    scripted(move |argv, _| match args(argv).as_slice() {
        ["is-leader", ..] => ok(if leader { "true" } else { "false" }),
        ["config-get", ..] => ok(r#"{"model-on-mesh":false,"ready-timeout":100}"#),
        ["relation-ids", "service-mesh", ..] => ok(r#"["service-mesh:3","service-mesh:5"]"#),
        ["relation-ids", "peers", ..] => ok(r#"["peers:1"]"#),
        ["relation-ids", ..] => ok("[]"),
        [
            "relation-list",
            "--format=json",
            "--app",
            "-r",
            "service-mesh:5",
        ] => ok(r#""other""#),
        ["relation-list", "--format=json", "--app", "-r", _] => fail(2, "ERROR relation not found"),
        ["relation-list", "--format=json", "-r", "service-mesh:3"] => ok(r#"["app/0"]"#),
        ["relation-list", "--format=json", "-r", "service-mesh:5"] => ok(r#"["other/0"]"#),
        ["relation-list", "--format=json", "-r", "peers:1"] => ok(r#"["beacon/1"]"#),
        ["relation-list", "--format=json", "-r", _] => fail(2, "ERROR relation not found"),
        ["relation-get", _, _, _, "--app", "-", "app"] => {
            ok(r#"{"policies":"[]","mesh_type":"\"istio\""}"#)
        }
        ["relation-get", _, _, _, "--app", "-", "beacon"] => ok(r#"{"labels":"{}"}"#),
        ["relation-get", _, _, _, "-", unit] if unit.contains('/') => {
            ok(r#"{"private-address":"10.0.0.5"}"#)
        }
        ["relation-set", ..] | ["status-set", ..] => ok(""),
        ["goal-state", ..] => ok(
            r#"{"units":{"beacon/0":{"status":"active","since":"t"},"beacon/1":{"status":"dying","since":"t"},"beacon/2":{"status":"waiting","since":"t"}},"relations":{}}"#,
        ),
        other => fail(1, &format!("ERROR unexpected call {other:?}")),
    })
}

fn model(leader: bool) -> (Model, CallLog) {
    let (tools, log) = fake_juju(leader);
    let m = Model::new(ctx("hooks/config-changed", &[]), tools).with_peer_endpoints(["peers"]);
    (m, log)
}

#[test]
fn names_come_from_the_context() {
    let (m, log) = model(true);
    assert_eq!(m.unit_name(), "beacon/0");
    assert_eq!(m.app_name(), "beacon");
    assert_eq!(m.model_name(), "istio-system");
    assert!(log.calls().is_empty());
}

#[test]
fn config_and_leader_are_read_once() {
    let (m, log) = model(true);
    assert_eq!(m.config().unwrap()["ready-timeout"], serde_json::json!(100));
    assert_eq!(
        m.config().unwrap()["model-on-mesh"],
        serde_json::json!(false)
    );
    assert!(m.is_leader().unwrap());
    assert!(m.is_leader().unwrap());
    assert_eq!((log.count("config-get"), log.count("is-leader")), (1, 1));
}

#[test]
fn relations_with_remote_app_and_units() {
    let (m, log) = model(true);
    let rels = m.relations("service-mesh").unwrap();
    assert_eq!(rels.len(), 2);
    // The remote app of relation 3 is unknown to `relation-list --app` here: derived from
    // its unit, as ops does.
    assert_eq!(
        rels[0],
        Relation {
            endpoint: "service-mesh".into(),
            id: 3,
            app: Some("app".into()),
            is_peer: false,
            active: true,
        }
    );
    assert_eq!(m.relation_units(&rels[0]).unwrap(), vec!["app/0"]);
    assert_eq!(rels[1].app.as_deref(), Some("other"));
    let peers = m.relations("peers").unwrap();
    assert_eq!(peers[0].app.as_deref(), Some("beacon"));
    assert!(peers[0].is_peer);
    assert!(m.relations("metrics-endpoint").unwrap().is_empty());

    let calls = log.calls().len();
    m.relations("service-mesh").unwrap();
    m.relation("service-mesh", 5).unwrap();
    assert_eq!(
        log.calls().len(),
        calls,
        "relations are cached for the hook"
    );
}

#[test]
fn event_relation_uses_juju_remote_app() {
    let (tools, log) = fake_juju(true);
    let c = ctx(
        "hooks/service-mesh-relation-changed",
        &[
            ("JUJU_RELATION", "service-mesh"),
            ("JUJU_RELATION_ID", "service-mesh:3"),
            ("JUJU_REMOTE_APP", "app"),
            ("JUJU_REMOTE_UNIT", "app/0"),
        ],
    );
    let m = Model::new(c, tools);
    let rel = m.event_relation().unwrap().unwrap();
    assert_eq!((rel.id, rel.app.as_deref()), (3, Some("app")));
    assert!(
        log.argvs().is_empty(),
        "Juju named the app: {:?}",
        log.argvs()
    );
}

#[test]
fn breaking_relation_is_filtered_but_still_addressable() {
    let (tools, _) = fake_juju(true);
    let c = ctx(
        "hooks/service-mesh-relation-broken",
        &[
            ("JUJU_RELATION", "service-mesh"),
            ("JUJU_RELATION_ID", "service-mesh:3"),
            ("JUJU_REMOTE_APP", "app"),
        ],
    );
    let m = Model::new(c, tools);
    assert_eq!(m.relation_ids("service-mesh").unwrap(), vec![5]);
    let ids: Vec<u64> = m
        .relations("service-mesh")
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![5]);
    let broken = m.event_relation().unwrap().unwrap();
    assert_eq!((broken.id, broken.active), (3, false));
}

#[test]
fn unknown_relation_is_relation_not_found() {
    let (m, _) = model(true);
    assert!(matches!(
        m.relation("service-mesh", 99),
        Err(ModelError::Tool(ToolError::RelationNotFound { .. }))
    ));
    // A cached id asked for under another endpoint is not served from the cache: the tools
    // decide (ops passes `endpoint:id` so that Juju can check it).
    m.relation("service-mesh", 3).unwrap();
    assert!(matches!(
        m.relation("peers", 3),
        Err(ModelError::Tool(ToolError::RelationNotFound { .. }))
    ));
}

#[test]
fn bags_are_read_once_per_hook() {
    let (m, log) = model(true);
    let rel = m.relation("service-mesh", 3).unwrap();
    for _ in 0..3 {
        assert_eq!(m.remote_app_data(&rel).unwrap()["policies"], "[]");
        assert_eq!(
            m.unit_data(&rel, "app/0").unwrap()["private-address"],
            "10.0.0.5"
        );
        assert_eq!(m.local_app_data(&rel).unwrap()["labels"], "{}");
        m.local_unit_data(&rel).unwrap();
    }
    assert_eq!(log.count("relation-get"), 4, "one call per bag");
}

#[test]
fn non_leader_cannot_read_own_app_bag_of_non_peer_relation() {
    let (m, log) = model(false);
    let rel = m.relation("service-mesh", 3).unwrap();
    let before = log.count("relation-get");
    let err = m.local_app_data(&rel).unwrap_err();
    assert!(matches!(err, ModelError::PermissionDenied(_)), "{err:?}");
    assert_eq!(
        log.count("relation-get"),
        before,
        "refused before calling the tool"
    );
    // Everything else is readable by a non-leader, including the peer app bag.
    m.remote_app_data(&rel).unwrap();
    m.unit_data(&rel, "app/0").unwrap();
    m.local_unit_data(&rel).unwrap();
    let peers = m.relation("peers", 1).unwrap();
    assert_eq!(m.local_app_data(&peers).unwrap()["labels"], "{}");
}

#[test]
fn non_leader_cannot_write_app_bag_but_can_write_unit_bag() {
    for endpoint_id in [("service-mesh", 3), ("peers", 1)] {
        let (m, log) = model(false);
        let rel = m.relation(endpoint_id.0, endpoint_id.1).unwrap();
        let err = m.set_app_data(&rel, [("labels", "{}")]).unwrap_err();
        assert!(matches!(err, ModelError::NotLeader(_)), "{err:?}");
        assert_eq!(log.count("relation-set"), 0);
        m.set_unit_data(&rel, [("k", "v")]).unwrap();
        assert_eq!(
            log.calls().last().unwrap().argv.join(" "),
            format!(
                "relation-set -r {}:{} --file -",
                endpoint_id.0, endpoint_id.1
            )
        );
    }
}

#[test]
fn leader_writes_app_bag_and_reads_its_writes() {
    let (m, log) = model(true);
    let rel = m.relation("service-mesh", 3).unwrap();
    assert_eq!(m.local_app_data(&rel).unwrap()["labels"], "{}");
    m.set_app_data(
        &rel,
        [("labels", r#"{"a":"b"}"#), ("mesh_type", "\"istio\"")],
    )
    .unwrap();
    let set = log
        .calls()
        .into_iter()
        .rfind(|c| c.argv[0] == "relation-set")
        .unwrap();
    assert_eq!(
        set.argv.join(" "),
        "relation-set -r service-mesh:3 --app --file -"
    );
    let sent: Databag = serde_json::from_str(set.stdin.as_deref().unwrap()).unwrap();
    assert_eq!(sent.len(), 2);

    let bag = m.local_app_data(&rel).unwrap();
    assert_eq!(bag["labels"], r#"{"a":"b"}"#);
    assert_eq!(bag["mesh_type"], "\"istio\"");
    assert_eq!(log.count("relation-get"), 1, "served from the cache");

    // Unchanged values are not rewritten; an empty value deletes.
    m.set_app_data(&rel, [("labels", r#"{"a":"b"}"#)]).unwrap();
    assert_eq!(log.count("relation-set"), 1);
    m.set_app_data(&rel, [("mesh_type", "")]).unwrap();
    assert_eq!(log.count("relation-set"), 2);
    assert!(!m.local_app_data(&rel).unwrap().contains_key("mesh_type"));
    // Deleting an absent key is not a change.
    m.set_app_data(&rel, [("nope", "")]).unwrap();
    assert_eq!(log.count("relation-set"), 2);
}

#[test]
fn uncached_writes_send_everything() {
    let (m, log) = model(true);
    let rel = m.relation("service-mesh", 5).unwrap();
    m.set_app_data(&rel, [("a", ""), ("b", "1")]).unwrap();
    let set = log
        .calls()
        .into_iter()
        .rfind(|c| c.argv[0] == "relation-set")
        .unwrap();
    assert_eq!(set.stdin.as_deref(), Some(r#"{"a":"","b":"1"}"#));
}

#[test]
fn leadership_is_cached_for_the_hook() {
    // The fake answers is-leader from a flag, to show the cached answer is used after.
    let leader = Arc::new(AtomicBool::new(true));
    let flag = leader.clone();
    let (tools, log) = scripted(move |argv, _| match argv[0].as_str() {
        "is-leader" => ok(if flag.load(Ordering::SeqCst) {
            "true"
        } else {
            "false"
        }),
        _ => ok(""),
    });
    let m = Model::new(ctx("hooks/update-status", &[]), tools);
    assert!(m.is_leader().unwrap());
    leader.store(false, Ordering::SeqCst);
    assert!(m.is_leader().unwrap(), "cached for the hook");
    assert_eq!(log.count("is-leader"), 1);
}

#[test]
fn planned_units_ignores_dying() {
    let (m, log) = model(true);
    assert_eq!(m.planned_units().unwrap(), 2);
    assert_eq!(log.argvs(), vec!["goal-state --format=json"]);
}

#[test]
fn planned_units_zero_when_no_units() {
    let (tools, _) = scripted(|_, _| ok(r#"{"units":{},"relations":{}}"#));
    let m = Model::new(ctx("hooks/remove", &[]), tools);
    assert_eq!(m.planned_units().unwrap(), 0);
}

#[test]
fn status_helpers() {
    let (m, log) = model(true);
    m.set_unit_status(&Status::active(
        "Backup unit; standing by for leader takeover",
    ))
    .unwrap();
    m.set_app_status(&Status::maintenance("Updating AuthorizationPolicies"))
        .unwrap();
    m.set_unit_status(&Status::blocked("b")).unwrap();
    m.set_unit_status(&Status::waiting("")).unwrap();
    let sets: Vec<String> = log
        .argvs()
        .into_iter()
        .filter(|a| a.starts_with("status-set"))
        .collect();
    assert_eq!(
        sets,
        vec![
            "status-set --application=False active -- Backup unit; standing by for leader takeover",
            "status-set --application=True maintenance -- Updating AuthorizationPolicies",
            "status-set --application=False blocked -- b",
            "status-set --application=False waiting -- ",
        ]
    );

    let (m, log) = model(false);
    let err = m.set_app_status(&Status::active("")).unwrap_err();
    assert!(matches!(err, ModelError::NotLeader(_)));
    assert_eq!(log.count("status-set"), 0);
}

#[test]
fn tool_errors_pass_through() {
    let (tools, _) = scripted(|_, _| fail(1, "ERROR cannot write relation settings"));
    let m = Model::new(ctx("hooks/config-changed", &[]), tools);
    let rel = Relation {
        endpoint: "db".into(),
        id: 1,
        app: None,
        is_peer: false,
        active: true,
    };
    assert!(matches!(
        m.set_unit_data(&rel, [("k", "v")]),
        Err(ModelError::Tool(
            ToolError::CannotWriteRelationSettings { .. }
        ))
    ));
    assert!(matches!(
        m.remote_app_data(&rel),
        Err(ModelError::NoRemoteApp(_))
    ));
}

#[test]
fn permission_denied_after_our_checks_means_relation_gone() {
    // The leader may read and write its own app bag, so Juju's "permission denied" here is
    // a relation that went away (ops: RelationNotFoundError).
    let (tools, _) = scripted(|argv, _| match argv[0].as_str() {
        "is-leader" => ok("true"),
        "relation-set" => fail(
            1,
            "ERROR cannot read relation application settings: permission denied (unauthorized access)",
        ),
        _ => fail(1, "ERROR permission denied"),
    });
    let m = Model::new(ctx("hooks/config-changed", &[]), tools);
    let rel = Relation {
        endpoint: "service-mesh".into(),
        id: 3,
        app: Some("app".into()),
        is_peer: false,
        active: true,
    };
    for result in [
        m.local_app_data(&rel).map(drop),
        m.remote_app_data(&rel).map(drop),
        m.set_app_data(&rel, [("k", "v")]),
    ] {
        assert!(
            matches!(
                result,
                Err(ModelError::Tool(ToolError::RelationNotFound { .. }))
            ),
            "{result:?}"
        );
    }
    assert!(matches!(
        m.relation("service-mesh", 3),
        Err(ModelError::Tool(ToolError::RelationNotFound { .. }))
    ));
}

#[test]
fn set_ports_opens_and_closes_the_difference() {
    let (tools, log) = scripted(|argv, _| match argv[0].as_str() {
        "opened-ports" => ok(r#"["8080/tcp","icmp"]"#),
        _ => ok(""),
    });
    let m = Model::new(ctx("hooks/config-changed", &[]), tools);
    m.set_ports(&[Port::tcp(8080), Port::tcp(9000), Port::udp(53)])
        .unwrap();
    assert_eq!(
        log.argvs(),
        vec![
            "opened-ports --format=json",
            "close-port icmp",
            "open-port 9000/tcp",
            "open-port 53/udp",
        ]
    );
}
