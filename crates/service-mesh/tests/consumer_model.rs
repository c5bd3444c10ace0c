//! `ServiceMeshConsumer` over a `charm_runtime::Model` whose hook tools are scripted: the
//! upstream `test_mesh_consumer.py` cases for `enabled`, `labels()`/`mesh_type()` and the
//! `policies` a leader writes (in-model, cross-model on either side, deprecated and unit
//! policies), plus leader-only writing and the one-mesh-relation rule.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use charm_runtime::tools::{ToolOutput, ToolRunner};
use charm_runtime::{HookTools, JujuContext, Model};
use service_mesh::consumer::{AppPolicy, ConsumerError, ServiceMeshConsumer, UnitPolicy};
use service_mesh::{Endpoint, MeshType, Method};

#[derive(Clone)]
struct Rel {
    endpoint: &'static str,
    id: u64,
    app: String,
    remote_app_data: BTreeMap<String, String>,
}

fn rel(endpoint: &'static str, id: u64, app: &str) -> Rel {
    Rel {
        endpoint,
        id,
        app: app.to_owned(),
        remote_app_data: BTreeMap::new(),
    }
}

/// Answers the tools as Juju would for one unit of `tester` in model `prod`.
#[derive(Default)]
struct World {
    leader: bool,
    relations: Vec<Rel>,
    /// `(relation id, json of the relation-set --app input)`
    writes: Mutex<Vec<(u64, String)>>,
}

#[derive(Clone)]
struct Runner(Arc<World>);

fn ok(stdout: String) -> std::io::Result<ToolOutput> {
    Ok(ToolOutput {
        code: 0,
        stdout,
        stderr: String::new(),
    })
}

impl ToolRunner for Runner {
    fn run(&self, argv: &[String], stdin: Option<&str>) -> std::io::Result<ToolOutput> {
        let w = &self.0;
        let rel_id = argv
            .iter()
            .position(|a| a == "-r")
            .and_then(|i| argv.get(i + 1))
            .and_then(|r| r.rsplit(':').next())
            .and_then(|n| n.parse::<u64>().ok());
        let relation = rel_id.and_then(|id| w.relations.iter().find(|r| r.id == id));
        let app_flag = argv.iter().any(|a| a == "--app");
        match argv[0].as_str() {
            "is-leader" => ok(w.leader.to_string()),
            "relation-ids" => {
                let ids: Vec<String> = w
                    .relations
                    .iter()
                    .filter(|r| argv.iter().any(|a| a == r.endpoint))
                    .map(|r| format!("{}:{}", r.endpoint, r.id))
                    .collect();
                ok(serde_json::to_string(&ids).unwrap_or_default())
            }
            "relation-list" => {
                let r = relation.expect("known relation");
                if app_flag {
                    ok(format!("\"{}\"", r.app))
                } else {
                    ok(serde_json::to_string(&[format!("{}/0", r.app)]).unwrap_or_default())
                }
            }
            "relation-get" => {
                let r = relation.expect("known relation");
                let bag = if argv.contains(&r.app) {
                    r.remote_app_data.clone()
                } else {
                    BTreeMap::new()
                };
                ok(serde_json::to_string(&bag).unwrap_or_default())
            }
            "relation-set" => {
                assert!(app_flag, "only app data is written");
                w.writes
                    .lock()
                    .expect("writes")
                    .push((rel_id.expect("-r"), stdin.unwrap_or_default().to_owned()));
                ok(String::new())
            }
            "juju-log" => ok(String::new()),
            other => panic!("unexpected tool {other}: {argv:?}"),
        }
    }
}

fn model(world: &Arc<World>, hook: &str, relation: Option<(&str, u64, &str)>) -> Model {
    let mut vars = vec![
        ("JUJU_DISPATCH_PATH".to_string(), format!("hooks/{hook}")),
        ("JUJU_HOOK_NAME".into(), hook.into()),
        ("JUJU_MODEL_NAME".into(), "prod".into()),
        (
            "JUJU_MODEL_UUID".into(),
            "7b0e1c9e-0000-4000-8000-000000000001".into(),
        ),
        ("JUJU_UNIT_NAME".into(), "tester/0".into()),
        ("JUJU_VERSION".into(), "3.6.4".into()),
    ];
    if let Some((endpoint, id, app)) = relation {
        vars.push(("JUJU_RELATION".into(), endpoint.into()));
        vars.push(("JUJU_RELATION_ID".into(), format!("{endpoint}:{id}")));
        vars.push(("JUJU_REMOTE_APP".into(), app.into()));
    }
    let ctx = JujuContext::from_vars(vars).expect("context");
    Model::new(ctx, HookTools::new(Runner(Arc::clone(world)))).with_peer_endpoints(["peers"])
}

fn world(leader: bool, relations: Vec<Rel>) -> Arc<World> {
    Arc::new(World {
        leader,
        relations,
        ..World::default()
    })
}

fn written(world: &World, id: u64, key: &str) -> Option<String> {
    world
        .writes
        .lock()
        .expect("writes")
        .iter()
        .rev()
        .filter(|(rid, _)| *rid == id)
        .find_map(|(_, json)| {
            let bag: BTreeMap<String, String> = serde_json::from_str(json).ok()?;
            bag.get(key).cloned()
        })
}

fn provider() -> Rel {
    let mut r = rel("service-mesh", 1, "istio-beacon-k8s");
    r.remote_app_data.insert(
        "labels".into(),
        r#"{"label1": "value1", "label2": "value2"}"#.into(),
    );
    r.remote_app_data
        .insert("mesh_type".into(), r#""istio""#.into());
    r
}

#[test]
fn getting_relation_data() {
    let w = world(true, vec![provider()]);
    let m = model(&w, "config-changed", None);
    let c = ServiceMeshConsumer::new([]);
    assert!(c.enabled(&m).expect("enabled"));
    assert_eq!(
        c.labels(&m).expect("labels"),
        vec![
            ("label1".to_string(), "value1".to_string()),
            ("label2".to_string(), "value2".to_string())
        ]
    );
    assert_eq!(c.mesh_type(&m).expect("mesh type"), Some(MeshType::Istio));
}

#[test]
fn enabled_false_without_relation_and_after_broken() {
    let c = ServiceMeshConsumer::new([]);
    let w = world(true, vec![]);
    let m = model(&w, "config-changed", None);
    assert!(!c.enabled(&m).expect("enabled"));
    assert!(c.labels(&m).expect("labels").is_empty());
    assert_eq!(c.mesh_type(&m).expect("mesh type"), None);

    // During service-mesh-relation-broken the relation no longer counts.
    let w = world(true, vec![provider()]);
    let m = model(
        &w,
        "service-mesh-relation-broken",
        Some(("service-mesh", 1, "istio-beacon-k8s")),
    );
    assert!(!c.enabled(&m).expect("enabled"));
}

#[test]
fn empty_provider_databag_means_no_data() {
    let w = world(true, vec![rel("service-mesh", 1, "istio-beacon-k8s")]);
    let m = model(&w, "config-changed", None);
    let c = ServiceMeshConsumer::new([]);
    assert!(
        c.enabled(&m).expect("enabled"),
        "enabled does not need data"
    );
    assert!(c.labels(&m).expect("labels").is_empty());
    assert_eq!(c.mesh_type(&m).expect("mesh type"), None);
}

fn complex_endpoint() -> Endpoint {
    Endpoint {
        hosts: Some(vec![]),
        ports: Some(vec![80u16.into()]),
        methods: Some(vec![]),
        paths: Some(vec![]),
    }
}

/// The `test_relation_data_policies` cases, through `service-mesh-relation-created`.
#[test]
fn relation_data_policies() {
    let cmr_app = "remote-0123456789abcdef0123456789abcdef";
    let mut cmr = rel("provide-cmr-mesh", 9, cmr_app);
    cmr.remote_app_data.insert(
        "cmr_data".into(),
        r#"{"app_name": "cmr-app", "juju_model_name": "cmr-model"}"#.into(),
    );
    let cases: Vec<(&str, Vec<Rel>, ServiceMeshConsumer, String)> = vec![
        (
            "with complex endpoints (empty lists round-trip)",
            vec![rel("rela", 2, "remote")],
            ServiceMeshConsumer::new([AppPolicy::new("rela", [complex_endpoint()]).into()]),
            r#"[{"source_namespace": "prod", "source_app_name": "remote", "target_namespace": "prod", "target_app_name": "tester", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{"hosts": [], "ports": [80], "methods": [], "paths": []}]}]"#.into(),
        ),
        (
            "multiple policies, declaration order",
            vec![rel("rela", 2, "remote-a"), rel("relb", 3, "remote-b")],
            ServiceMeshConsumer::new([
                AppPolicy::new(
                    "relb",
                    [Endpoint {
                        ports: Some(vec![443u16.into()]),
                        methods: Some(vec![Method::Post]),
                        ..Endpoint::default()
                    }],
                )
                .with_service("svc")
                .into(),
                AppPolicy::new("rela", []).into(),
            ]),
            r#"[{"source_namespace": "prod", "source_app_name": "remote-b", "target_namespace": "prod", "target_app_name": "tester", "target_selector_labels": null, "target_service": "svc", "target_type": "app", "endpoints": [{"hosts": null, "ports": [443], "methods": ["POST"], "paths": null}]}, {"source_namespace": "prod", "source_app_name": "remote-a", "target_namespace": "prod", "target_app_name": "tester", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": []}]"#.into(),
        ),
        (
            "cross-model source from provide-cmr-mesh",
            vec![rel("rela", 2, cmr_app), cmr.clone()],
            ServiceMeshConsumer::new([UnitPolicy::new("rela", [9090]).into()]),
            r#"[{"source_namespace": "cmr-model", "source_app_name": "cmr-app", "target_namespace": "prod", "target_app_name": "tester", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": [{"hosts": null, "ports": [9090], "methods": null, "paths": null}]}]"#.into(),
        ),
        (
            "unit policy without ports; peers → self",
            vec![rel("peers", 4, "tester")],
            ServiceMeshConsumer::new([UnitPolicy::any_port("peers").into()]),
            r#"[{"source_namespace": "prod", "source_app_name": "tester", "target_namespace": "prod", "target_app_name": "tester", "target_selector_labels": null, "target_service": null, "target_type": "unit", "endpoints": []}]"#.into(),
        ),
    ];
    for (name, mut relations, consumer, expected) in cases {
        relations.push(rel("service-mesh", 1, "istio-beacon-k8s"));
        let w = world(true, relations);
        let m = model(
            &w,
            "service-mesh-relation-created",
            Some(("service-mesh", 1, "istio-beacon-k8s")),
        );
        block_on(consumer.handle(&m)).expect(name);
        assert_eq!(
            written(&w, 1, "policies").as_deref(),
            Some(expected.as_str()),
            "{name}"
        );
    }
}

#[test]
fn non_leader_writes_nothing() {
    let w = world(
        false,
        vec![rel("service-mesh", 1, "b"), rel("rela", 2, "x")],
    );
    let m = model(&w, "upgrade-charm", None);
    let c = ServiceMeshConsumer::new([AppPolicy::new("rela", []).into()]);
    block_on(c.handle(&m)).expect("handle");
    c.update_service_mesh(&m).expect("update");
    assert!(w.writes.lock().expect("writes").is_empty());
}

#[test]
fn no_mesh_relation_writes_nothing() {
    let w = world(true, vec![rel("rela", 2, "x")]);
    let m = model(&w, "rela-relation-created", Some(("rela", 2, "x")));
    let c = ServiceMeshConsumer::new([AppPolicy::new("rela", []).into()]);
    block_on(c.handle(&m)).expect("handle");
    assert!(w.writes.lock().expect("writes").is_empty());
}

#[test]
fn two_mesh_relations_are_an_error() {
    let w = world(
        true,
        vec![rel("service-mesh", 1, "a"), rel("service-mesh", 2, "b")],
    );
    let m = model(&w, "config-changed", None);
    let c = ServiceMeshConsumer::new([]);
    assert!(matches!(
        c.update_service_mesh(&m),
        Err(ConsumerError::TooManyMeshRelations { count: 2, .. })
    ));
}

#[test]
fn cmr_data_written_on_relation_created() {
    let w = world(true, vec![rel("require-cmr-mesh", 5, "receiver")]);
    let m = model(
        &w,
        "require-cmr-mesh-relation-created",
        Some(("require-cmr-mesh", 5, "receiver")),
    );
    block_on(ServiceMeshConsumer::new([]).handle(&m)).expect("handle");
    assert_eq!(
        written(&w, 5, "cmr_data").as_deref(),
        Some(r#"{"app_name": "tester", "juju_model_name": "prod"}"#)
    );
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}
