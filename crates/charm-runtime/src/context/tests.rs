#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use super::*;

/// The variables every hook gets, plus `extra` (which may override).
fn vars(dispatch: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let hook = dispatch.strip_prefix("hooks/").unwrap_or("");
    let mut v: Vec<(String, String)> = [
        ("JUJU_DISPATCH_PATH", dispatch),
        ("JUJU_HOOK_NAME", hook),
        ("JUJU_CHARM_DIR", "/var/lib/juju/agents/unit-beacon-0/charm"),
        ("JUJU_UNIT_NAME", "beacon/0"),
        ("JUJU_MODEL_NAME", "istio-system"),
        ("JUJU_MODEL_UUID", "cdac5656-2423-4388-8f30-41854b4cca7d"),
        ("JUJU_VERSION", "3.6.4"),
        ("JUJU_CONTEXT_ID", "beacon/0-install-123"),
        (
            "JUJU_AGENT_SOCKET_ADDRESS",
            "@/var/lib/juju/agents/unit-beacon-0/agent.socket",
        ),
        ("JUJU_AGENT_SOCKET_NETWORK", "unix"),
        ("JUJU_API_ADDRESSES", "10.0.0.1:17070 10.0.0.2:17070"),
        ("JUJU_MACHINE_ID", ""),
        ("JUJU_PRINCIPAL_UNIT", ""),
        ("JUJU_AVAILABILITY_ZONE", ""),
        ("CLOUD_API_VERSION", "1.33.0"),
        ("JUJU_CHARM_HTTP_PROXY", ""),
        ("JUJU_CHARM_HTTPS_PROXY", "http://squid:3128"),
        ("JUJU_CHARM_FTP_PROXY", ""),
        ("JUJU_CHARM_NO_PROXY", "127.0.0.1,localhost"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, val) in extra {
        v.retain(|(key, _)| key != k);
        v.push((k.to_string(), val.to_string()));
    }
    v
}

fn without(mut v: Vec<(String, String)>, var: &str) -> Vec<(String, String)> {
    v.retain(|(k, _)| k != var);
    v
}

fn parse(v: Vec<(String, String)>) -> Result<JujuContext, ContextError> {
    JujuContext::from_vars(v)
}

fn event(dispatch: &str, extra: &[(&str, &str)]) -> Event {
    match parse(vars(dispatch, extra)) {
        Ok(ctx) => ctx.event,
        Err(e) => panic!("{dispatch}: {e}"),
    }
}

fn rel_vars(
    endpoint: &'static str,
    remote_unit: &'static str,
) -> Vec<(&'static str, &'static str)> {
    vec![
        ("JUJU_RELATION", endpoint),
        ("JUJU_RELATION_ID", "x"),
        ("JUJU_REMOTE_APP", "consumer"),
        ("JUJU_REMOTE_UNIT", remote_unit),
    ]
}

#[test]
fn common_fields_are_typed() {
    let ctx = parse(vars("hooks/install", &[("JUJU_DEBUG_AT", "all, hooks")])).unwrap();
    assert_eq!(ctx.event, Event::Hook(HookEvent::Install));
    assert_eq!(ctx.dispatch_path, "hooks/install");
    assert_eq!(ctx.hook_name, "install");
    assert_eq!(ctx.unit_name, "beacon/0");
    assert_eq!(ctx.app_name, "beacon");
    assert_eq!(ctx.model_name, "istio-system");
    assert_eq!(ctx.model_uuid, "cdac5656-2423-4388-8f30-41854b4cca7d");
    assert_eq!(ctx.version.to_string(), "3.6.4");
    assert!(ctx.version.at_least(3, 6, 0));
    assert!(!ctx.version.at_least(3, 6, 5));
    assert_eq!(
        ctx.charm_dir.as_deref(),
        Some(std::path::Path::new(
            "/var/lib/juju/agents/unit-beacon-0/charm"
        ))
    );
    assert_eq!(ctx.context_id.as_deref(), Some("beacon/0-install-123"));
    assert_eq!(ctx.agent_socket_network.as_deref(), Some("unix"));
    assert_eq!(ctx.api_addresses, vec!["10.0.0.1:17070", "10.0.0.2:17070"]);
    // Empty optional variables read as None, as in ops.
    assert_eq!(ctx.machine_id, None);
    assert_eq!(ctx.principal_unit, None);
    assert_eq!(ctx.availability_zone, None);
    assert_eq!(ctx.cloud_api_version.as_deref(), Some("1.33.0"));
    assert_eq!(
        ctx.proxy,
        ProxySettings {
            http: None,
            https: Some("http://squid:3128".into()),
            ftp: None,
            no_proxy: Some("127.0.0.1,localhost".into()),
        }
    );
    assert_eq!(ctx.trace, TraceContext::default());
    assert!(!ctx.debug);
    assert_eq!(ctx.debug_at, vec!["all", "hooks"]);
    assert!(!ctx.is_action());
}

#[test]
fn legacy_charm_dir_and_trace_vars() {
    let v = without(
        vars(
            "hooks/start",
            &[("CHARM_DIR", "/charm"), ("JUJU_DEBUG", "")],
        ),
        "JUJU_CHARM_DIR",
    );
    let v = [
        v,
        vec![
            (
                "JUJU_TRACE_ID".into(),
                "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            ),
            ("JUJU_SPAN_ID".into(), "00f067aa0ba902b7".into()),
            ("JUJU_TRACE_FLAGS".into(), "01".into()),
        ],
    ]
    .concat();
    let ctx = parse(v).unwrap();
    assert_eq!(
        ctx.charm_dir.as_deref(),
        Some(std::path::Path::new("/charm"))
    );
    assert_eq!(
        ctx.trace.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(ctx.trace.span_id.as_deref(), Some("00f067aa0ba902b7"));
    assert_eq!(ctx.trace.trace_flags.as_deref(), Some("01"));
    assert!(ctx.debug, "JUJU_DEBUG counts when present, even empty");
}

#[test]
fn plain_hooks() {
    let cases = [
        ("install", HookEvent::Install),
        ("start", HookEvent::Start),
        ("stop", HookEvent::Stop),
        ("remove", HookEvent::Remove),
        ("config-changed", HookEvent::ConfigChanged),
        ("upgrade-charm", HookEvent::UpgradeCharm),
        ("update-status", HookEvent::UpdateStatus),
        ("leader-elected", HookEvent::LeaderElected),
        ("leader-settings-changed", HookEvent::LeaderSettingsChanged),
        ("collect-metrics", HookEvent::CollectMetrics),
        (
            "pre-series-upgrade",
            HookEvent::Other("pre-series-upgrade".into()),
        ),
    ];
    for (hook, expected) in cases {
        assert_eq!(
            event(&format!("hooks/{hook}"), &[]),
            Event::Hook(expected),
            "{hook}"
        );
    }
}

#[test]
fn relation_hooks_all_kinds_with_dashed_endpoint() {
    let kinds = [
        ("created", RelationKind::Created, ""),
        ("joined", RelationKind::Joined, "consumer/0"),
        ("changed", RelationKind::Changed, "consumer/0"),
        ("departed", RelationKind::Departed, "consumer/0"),
        ("broken", RelationKind::Broken, ""),
    ];
    for (word, kind, unit) in kinds {
        let mut extra = rel_vars("service-mesh", unit);
        extra[1] = ("JUJU_RELATION_ID", "service-mesh:12");
        extra.push(("JUJU_DEPARTING_UNIT", "consumer/0"));
        let ctx = parse(vars(&format!("hooks/service-mesh-relation-{word}"), &extra)).unwrap();
        assert_eq!(
            ctx.event,
            Event::Hook(HookEvent::Relation {
                endpoint: "service-mesh".into(),
                kind
            })
        );
        assert_eq!(ctx.relation_name.as_deref(), Some("service-mesh"));
        assert_eq!(ctx.relation_id, Some(12));
        assert_eq!(ctx.remote_app.as_deref(), Some("consumer"));
        assert_eq!(
            ctx.remote_unit.as_deref(),
            (!unit.is_empty()).then_some(unit)
        );
        assert_eq!(ctx.event.relation(), Some(("service-mesh", kind)));
    }
}

#[test]
fn relation_changed_for_app_bag_has_empty_remote_unit() {
    let mut extra = rel_vars("db", "");
    extra[1] = ("JUJU_RELATION_ID", "db:7");
    let ctx = parse(vars("hooks/db-relation-changed", &extra)).unwrap();
    assert_eq!(ctx.remote_unit, None);
    assert_eq!(ctx.relation_id, Some(7));
    assert_eq!(
        ctx.relation_ref().map(|r| r.to_string()).as_deref(),
        Some("db:7")
    );
    let ctx = parse(vars("hooks/install", &[])).unwrap();
    assert_eq!(ctx.relation_ref(), None);
}

#[test]
fn endpoint_from_suffix_when_juju_relation_does_not_match() {
    // JUJU_RELATION is authoritative only if it matches the hook name.
    let mut extra = rel_vars("other", "a/0");
    extra[1] = ("JUJU_RELATION_ID", "7");
    let e = event("hooks/provide-cmr-mesh-relation-changed", &extra);
    assert_eq!(
        e,
        Event::Hook(HookEvent::Relation {
            endpoint: "provide-cmr-mesh".into(),
            kind: RelationKind::Changed
        })
    );
}

#[test]
fn broken_relation_id() {
    let mut extra = rel_vars("db", "");
    extra[1] = ("JUJU_RELATION_ID", "db:3");
    let ctx = parse(vars("hooks/db-relation-broken", &extra)).unwrap();
    assert_eq!(ctx.broken_relation_id(), Some(3));
    let mut extra = rel_vars("db", "x/0");
    extra[1] = ("JUJU_RELATION_ID", "db:3");
    let ctx = parse(vars("hooks/db-relation-changed", &extra)).unwrap();
    assert_eq!(ctx.broken_relation_id(), None);
}

#[test]
fn departed_carries_departing_unit() {
    let mut extra = rel_vars("peers", "beacon/1");
    extra[1] = ("JUJU_RELATION_ID", "peers:1");
    extra.push(("JUJU_DEPARTING_UNIT", "beacon/1"));
    let ctx = parse(vars("hooks/peers-relation-departed", &extra)).unwrap();
    assert_eq!(ctx.departing_unit.as_deref(), Some("beacon/1"));
}

#[test]
fn relation_hooks_require_their_variables() {
    let path = "hooks/db-relation-departed";
    let full = {
        let mut e = rel_vars("db", "pg/0");
        e[1] = ("JUJU_RELATION_ID", "db:7");
        e.push(("JUJU_DEPARTING_UNIT", "pg/0"));
        vars(path, &e)
    };
    assert!(parse(full.clone()).is_ok());
    for var in [
        "JUJU_RELATION",
        "JUJU_RELATION_ID",
        "JUJU_REMOTE_APP",
        "JUJU_REMOTE_UNIT",
        "JUJU_DEPARTING_UNIT",
    ] {
        assert_eq!(
            parse(without(full.clone(), var)),
            Err(ContextError::MissingForEvent {
                var,
                event: path.into()
            }),
            "{var}"
        );
    }
    // created/broken need no remote unit.
    let mut e = rel_vars("db", "");
    e[1] = ("JUJU_RELATION_ID", "db:7");
    let v = without(vars("hooks/db-relation-created", &e), "JUJU_REMOTE_UNIT");
    assert!(parse(v).is_ok());
}

#[test]
fn malformed_relation_id() {
    let mut e = rel_vars("db", "pg/0");
    e[1] = ("JUJU_RELATION_ID", "db:seven");
    let err = parse(vars("hooks/db-relation-changed", &e)).unwrap_err();
    assert_eq!(
        err,
        ContextError::Malformed {
            var: "JUJU_RELATION_ID",
            value: "db:seven".into(),
            problem: "expected <endpoint>:<integer id>".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "environment variable JUJU_RELATION_ID has malformed value \"db:seven\": expected <endpoint>:<integer id>"
    );
    e[1] = ("JUJU_RELATION_ID", "");
    assert!(matches!(
        parse(vars("hooks/db-relation-changed", &e)),
        Err(ContextError::Malformed {
            var: "JUJU_RELATION_ID",
            ..
        })
    ));
}

#[test]
fn pebble_events() {
    let ready = event(
        "hooks/metrics-proxy-pebble-ready",
        &[("JUJU_WORKLOAD_NAME", "metrics-proxy")],
    );
    assert_eq!(
        ready,
        Event::Hook(HookEvent::PebbleReady {
            container: "metrics-proxy".into()
        })
    );

    let notice = [
        ("JUJU_WORKLOAD_NAME", "web"),
        ("JUJU_NOTICE_ID", "1"),
        ("JUJU_NOTICE_TYPE", "custom"),
        ("JUJU_NOTICE_KEY", "example.com/a"),
    ];
    let ctx = parse(vars("hooks/web-pebble-custom-notice", &notice)).unwrap();
    assert_eq!(
        ctx.event,
        Event::Hook(HookEvent::PebbleCustomNotice {
            container: "web".into()
        })
    );
    assert_eq!(ctx.notice_id.as_deref(), Some("1"));
    assert_eq!(ctx.notice_type.as_deref(), Some("custom"));
    assert_eq!(ctx.notice_key.as_deref(), Some("example.com/a"));

    let check = [
        ("JUJU_WORKLOAD_NAME", "web"),
        ("JUJU_PEBBLE_CHECK_NAME", "http"),
    ];
    let ctx = parse(vars("hooks/web-pebble-check-failed", &check)).unwrap();
    assert_eq!(
        ctx.event,
        Event::Hook(HookEvent::PebbleCheckFailed {
            container: "web".into()
        })
    );
    assert_eq!(ctx.pebble_check_name.as_deref(), Some("http"));
    assert_eq!(
        event("hooks/web-pebble-check-recovered", &check),
        Event::Hook(HookEvent::PebbleCheckRecovered {
            container: "web".into()
        })
    );
}

#[test]
fn pebble_events_require_their_variables() {
    assert_eq!(
        parse(vars("hooks/web-pebble-ready", &[])),
        Err(ContextError::MissingForEvent {
            var: "JUJU_WORKLOAD_NAME",
            event: "hooks/web-pebble-ready".into()
        })
    );
    let v = vars(
        "hooks/web-pebble-custom-notice",
        &[
            ("JUJU_WORKLOAD_NAME", "web"),
            ("JUJU_NOTICE_ID", "1"),
            ("JUJU_NOTICE_TYPE", "custom"),
        ],
    );
    assert_eq!(
        parse(v),
        Err(ContextError::MissingForEvent {
            var: "JUJU_NOTICE_KEY",
            event: "hooks/web-pebble-custom-notice".into()
        })
    );
    let v = vars(
        "hooks/web-pebble-check-recovered",
        &[("JUJU_WORKLOAD_NAME", "web")],
    );
    assert_eq!(
        parse(v),
        Err(ContextError::MissingForEvent {
            var: "JUJU_PEBBLE_CHECK_NAME",
            event: "hooks/web-pebble-check-recovered".into()
        })
    );
}

#[test]
fn storage_events() {
    let extra = [
        ("JUJU_STORAGE_ID", "data-store/3"),
        ("JUJU_STORAGE_LOCATION", "/srv/data"),
        ("JUJU_STORAGE_KIND", "filesystem"),
    ];
    let ctx = parse(vars("hooks/data-store-storage-attached", &extra)).unwrap();
    assert_eq!(
        ctx.event,
        Event::Hook(HookEvent::StorageAttached {
            storage: "data-store".into()
        })
    );
    assert_eq!(
        ctx.storage_id,
        Some(StorageId {
            name: "data-store".into(),
            index: 3
        })
    );
    assert_eq!(
        ctx.storage_location.as_deref(),
        Some(std::path::Path::new("/srv/data"))
    );
    assert_eq!(ctx.storage_kind.as_deref(), Some("filesystem"));
    assert_eq!(
        event("hooks/data-store-storage-detaching", &extra),
        Event::Hook(HookEvent::StorageDetaching {
            storage: "data-store".into()
        })
    );
    assert_eq!(
        parse(vars("hooks/data-storage-attached", &[])),
        Err(ContextError::MissingForEvent {
            var: "JUJU_STORAGE_ID",
            event: "hooks/data-storage-attached".into()
        })
    );
    assert!(matches!(
        parse(vars(
            "hooks/data-storage-attached",
            &[("JUJU_STORAGE_ID", "data")]
        )),
        Err(ContextError::Malformed {
            var: "JUJU_STORAGE_ID",
            ..
        })
    ));
}

#[test]
fn secret_events() {
    let id = ("JUJU_SECRET_ID", "secret:cs2qd0jm0v1s73b0fjr0");
    let ctx = parse(vars(
        "hooks/secret-changed",
        &[id, ("JUJU_SECRET_LABEL", "db-pass")],
    ))
    .unwrap();
    assert_eq!(ctx.event, Event::Hook(HookEvent::SecretChanged));
    assert_eq!(
        ctx.secret_id.as_deref(),
        Some("secret:cs2qd0jm0v1s73b0fjr0")
    );
    assert_eq!(ctx.secret_label.as_deref(), Some("db-pass"));
    assert_eq!(
        event("hooks/secret-rotate", &[id]),
        Event::Hook(HookEvent::SecretRotate)
    );
    let ctx = parse(vars(
        "hooks/secret-remove",
        &[id, ("JUJU_SECRET_REVISION", "4")],
    ))
    .unwrap();
    assert_eq!(ctx.event, Event::Hook(HookEvent::SecretRemove));
    assert_eq!(ctx.secret_revision, Some(4));
    assert_eq!(
        event("hooks/secret-expired", &[id, ("JUJU_SECRET_REVISION", "2")]),
        Event::Hook(HookEvent::SecretExpired)
    );

    assert_eq!(
        parse(vars("hooks/secret-changed", &[])),
        Err(ContextError::MissingForEvent {
            var: "JUJU_SECRET_ID",
            event: "hooks/secret-changed".into()
        })
    );
    assert_eq!(
        parse(vars("hooks/secret-expired", &[id])),
        Err(ContextError::MissingForEvent {
            var: "JUJU_SECRET_REVISION",
            event: "hooks/secret-expired".into()
        })
    );
    assert!(matches!(
        parse(vars(
            "hooks/secret-remove",
            &[id, ("JUJU_SECRET_REVISION", "-1")]
        )),
        Err(ContextError::Malformed {
            var: "JUJU_SECRET_REVISION",
            ..
        })
    ));
}

#[test]
fn actions() {
    let extra = [
        ("JUJU_ACTION_NAME", "get-policies"),
        ("JUJU_ACTION_UUID", "17"),
        ("JUJU_ACTION_TAG", "action-17"),
    ];
    let ctx = parse(vars("actions/get-policies", &extra)).unwrap();
    assert_eq!(
        ctx.event,
        Event::Action {
            name: "get-policies".into(),
            id: "17".into()
        }
    );
    assert_eq!(ctx.hook_name, "");
    assert!(ctx.is_action());
    assert_eq!(ctx.action_tag.as_deref(), Some("action-17"));

    for var in ["JUJU_ACTION_NAME", "JUJU_ACTION_UUID"] {
        assert_eq!(
            parse(without(vars("actions/get-policies", &extra), var)),
            Err(ContextError::MissingForEvent {
                var,
                event: "actions/get-policies".into()
            })
        );
    }
    let mismatch = [("JUJU_ACTION_NAME", "backup"), ("JUJU_ACTION_UUID", "1")];
    assert!(matches!(
        parse(vars("actions/get-policies", &mismatch)),
        Err(ContextError::Malformed {
            var: "JUJU_ACTION_NAME",
            ..
        })
    ));
}

#[test]
fn always_required_variables() {
    for var in [
        "JUJU_DISPATCH_PATH",
        "JUJU_MODEL_NAME",
        "JUJU_MODEL_UUID",
        "JUJU_UNIT_NAME",
        "JUJU_VERSION",
    ] {
        let err = parse(without(vars("hooks/install", &[]), var)).unwrap_err();
        assert_eq!(err, ContextError::Missing { var });
        assert_eq!(
            err.to_string(),
            format!("missing required environment variable {var}")
        );
    }
    // JUJU_HOOK_NAME is not needed: the event comes from the dispatch path.
    assert!(parse(without(vars("hooks/install", &[]), "JUJU_HOOK_NAME")).is_ok());
}

#[test]
fn malformed_common_variables() {
    for (var, value) in [
        ("JUJU_DISPATCH_PATH", "install"),
        ("JUJU_DISPATCH_PATH", "hooks/"),
        ("JUJU_DISPATCH_PATH", "scripts/install"),
        ("JUJU_DISPATCH_PATH", "hooks/a/b"),
        ("JUJU_UNIT_NAME", "beacon"),
        ("JUJU_UNIT_NAME", "/0"),
        ("JUJU_UNIT_NAME", "beacon/x"),
        ("JUJU_VERSION", "three"),
        ("JUJU_VERSION", "3"),
        ("JUJU_VERSION", "3.6.4-"),
    ] {
        let mut v = vars("hooks/install", &[]);
        v.retain(|(k, _)| k != var);
        v.push((var.into(), value.into()));
        match parse(v) {
            Err(ContextError::Malformed {
                var: got,
                value: got_value,
                ..
            }) => {
                assert_eq!((got, got_value.as_str()), (var, value));
            }
            other => panic!("{var}={value:?}: {other:?}"),
        }
    }
}

#[test]
fn juju_versions() {
    let v = |s: &str| JujuVersion::parse(s);
    assert_eq!(
        v("3.6-beta2"),
        Some(JujuVersion {
            major: 3,
            minor: 6,
            patch: 2,
            tag: "beta".into(),
            build: 0
        })
    );
    assert_eq!(v("2.9.44.1").map(|x| x.build), Some(1));
    assert_eq!(v("4.0").map(|x| x.to_string()).as_deref(), Some("4.0.0"));
    assert_eq!(
        v("3.6-beta2").map(|x| x.to_string()).as_deref(),
        Some("3.6-beta2")
    );
    let beta = v("3.6-beta2").unwrap();
    assert!(!beta.at_least(3, 6, 2), "a beta is older than its release");
    assert!(
        v("3.10.0").unwrap().at_least(3, 9, 1),
        "numeric, not lexical"
    );
    assert_eq!(v("3.6.4.x"), None);
    assert_eq!(v("3.6.04a"), None);
}

#[test]
fn meter_status_changed_has_no_version() {
    let v = without(
        vars(
            "hooks/meter-status-changed",
            &[("JUJU_METER_STATUS", "GREEN"), ("JUJU_METER_INFO", "ok")],
        ),
        "JUJU_VERSION",
    );
    let ctx = parse(v).unwrap();
    assert_eq!(
        ctx.event,
        Event::Hook(HookEvent::Other("meter-status-changed".into()))
    );
    assert_eq!(ctx.version.to_string(), "0.0.0");
    assert_eq!(ctx.meter_status.as_deref(), Some("GREEN"));
    assert_eq!(ctx.meter_info.as_deref(), Some("ok"));
}
