//! The runtime against `charm-sim`'s own hook-tool implementation and Pebble server: the same
//! argv parser, output bytes, error texts and permission rules a charm meets in the
//! simulator, called in-process (no agent socket) through a [`ToolRunner`].
#![allow(clippy::unwrap_used)] // tests may unwrap their own fixtures

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use charm_runtime::context::JujuContext;
use charm_runtime::model::{Model, ModelError, Status};
use charm_runtime::pebble::{self, Layer, Service};
use charm_runtime::tools::{
    HookTools, LogLevel, Port, RelationRef, ToolError, ToolOutput, ToolRunner,
};
use charm_sim::charm::CharmMeta;
use charm_sim::scenario::Scenario;
use charm_sim::world::{HookCtx, World};

const CONTEXT_ID: &str = "tester/0-hook-1";

struct SimRunner {
    world: Arc<Mutex<World>>,
    cwd: PathBuf,
}

impl ToolRunner for SimRunner {
    fn run(&self, argv: &[String], stdin: Option<&str>) -> std::io::Result<ToolOutput> {
        let mut world = self.world.lock().unwrap();
        let out = charm_sim::tools::run_tool(
            &mut world,
            CONTEXT_ID,
            &argv[0],
            &argv[1..],
            stdin.unwrap_or_default().as_bytes(),
            &self.cwd,
        );
        Ok(ToolOutput {
            code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

struct Sim {
    _dir: tempfile::TempDir,
    world: Arc<Mutex<World>>,
    tools: HookTools,
}

/// A tester charm's world; `hook` says which hook is running.
fn sim(leader: bool, hook: HookCtx) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("metadata.yaml"),
        "name: tester\nprovides:\n  service-mesh: {interface: service_mesh}\nrequires:\n  charm-tracing: {interface: tracing, limit: 1}\npeers:\n  peers: {interface: tester_peers}\ncontainers:\n  workload: {resource: image}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        "options:\n  model-on-mesh: {type: boolean, default: false}\n  ready-timeout: {type: int, default: 100}\n  note: {type: string}\n",
    )
    .unwrap();
    let meta = CharmMeta::load(dir.path()).unwrap();
    let scenario = Scenario::parse(&format!(
        "model: {{name: prod, uuid: 7b0e1c9e-0000-4000-8000-000000000001}}\nunit: tester/0\nleader: {leader}\nplanned_units: 2\nrelations:\n  - {{id: 3, endpoint: service-mesh, remote_app: mydb, remote_units: [mydb/0], remote_app_data: {{policies: '[]'}}, remote_units_data: {{mydb/0: {{host: h0}}}}, local_app_data: {{labels: '{{}}'}}}}\n  - {{id: 1, endpoint: peers, remote_units: [tester/1], local_app_data: {{shared: 'yes'}}}}\n"
    ))
    .unwrap();
    let mut world = World::new(&scenario, &meta);
    world.hook = Some(HookCtx {
        context_id: CONTEXT_ID.to_string(),
        ..hook
    });
    let world = Arc::new(Mutex::new(world));
    let tools = HookTools::new(SimRunner {
        world: world.clone(),
        cwd: dir.path().to_path_buf(),
    });
    Sim {
        _dir: dir,
        world,
        tools,
    }
}

fn ctx(dispatch: &str, extra: &[(&str, &str)]) -> JujuContext {
    let mut v = vec![
        ("JUJU_DISPATCH_PATH", dispatch),
        ("JUJU_MODEL_NAME", "prod"),
        ("JUJU_MODEL_UUID", "7b0e1c9e-0000-4000-8000-000000000001"),
        ("JUJU_UNIT_NAME", "tester/0"),
        ("JUJU_VERSION", "3.6.4"),
    ];
    v.extend_from_slice(extra);
    JujuContext::from_vars(v).unwrap()
}

fn model(s: &Sim, c: JujuContext) -> Model {
    Model::new(c, s.tools.clone()).with_peer_endpoints(["peers"])
}

#[test]
fn leader_reads_and_writes_through_the_simulator() {
    let s = sim(true, HookCtx::default());
    let m = model(&s, ctx("hooks/config-changed", &[]));
    assert!(m.is_leader().unwrap());
    let config = m.config().unwrap();
    assert_eq!(config.get("model-on-mesh"), Some(&serde_json::json!(false)));
    assert_eq!(config.get("ready-timeout"), Some(&serde_json::json!(100)));
    assert_eq!(config.get("note"), None, "no value and no default");

    let rels = m.relations("service-mesh").unwrap();
    assert_eq!(rels.len(), 1);
    let rel = &rels[0];
    assert_eq!((rel.id, rel.app.as_deref()), (3, Some("mydb")));
    assert_eq!(m.relation_units(rel).unwrap(), vec!["mydb/0"]);
    assert_eq!(m.remote_app_data(rel).unwrap()["policies"], "[]");
    assert_eq!(m.unit_data(rel, "mydb/0").unwrap()["host"], "h0");
    assert_eq!(m.local_app_data(rel).unwrap()["labels"], "{}");
    assert!(
        m.local_unit_data(rel)
            .unwrap()
            .contains_key("private-address"),
        "Juju pre-populates unit bags"
    );

    m.set_app_data(
        rel,
        [("labels", r#"{"a": "b"}"#), ("mesh_type", "\"istio\"")],
    )
    .unwrap();
    m.set_unit_data(rel, [("k", "v")]).unwrap();
    assert_eq!(m.local_app_data(rel).unwrap()["labels"], r#"{"a": "b"}"#);
    // A fresh model (no cache) sees the writes through the tools: Juju's read-your-writes.
    let fresh = model(&s, ctx("hooks/config-changed", &[]));
    let rel = fresh.relation("service-mesh", 3).unwrap();
    assert_eq!(
        fresh.local_app_data(&rel).unwrap()["mesh_type"],
        "\"istio\""
    );
    assert_eq!(fresh.local_unit_data(&rel).unwrap()["k"], "v");
    // An empty value deletes.
    fresh.set_app_data(&rel, [("mesh_type", "")]).unwrap();
    let again = model(&s, ctx("hooks/config-changed", &[]));
    let rel = again.relation("service-mesh", 3).unwrap();
    assert!(
        !again
            .local_app_data(&rel)
            .unwrap()
            .contains_key("mesh_type")
    );

    let peers = m.relations("peers").unwrap();
    assert_eq!(peers[0].app.as_deref(), Some("tester"));
    assert_eq!(m.relation_units(&peers[0]).unwrap(), vec!["tester/1"]);
    assert_eq!(m.local_app_data(&peers[0]).unwrap()["shared"], "yes");
    assert!(m.relations("charm-tracing").unwrap().is_empty());

    assert_eq!(m.planned_units().unwrap(), 2);

    m.set_unit_status(&Status::maintenance("-working")).unwrap();
    m.set_app_status(&Status::active("")).unwrap();
    let unit = s.tools.status_get().unwrap();
    assert_eq!(
        (unit.status.as_str(), unit.message.as_str()),
        ("maintenance", "-working")
    );
    let app = s.tools.status_get_app().unwrap();
    assert_eq!(app.status.status, "active");

    s.tools.juju_log(LogLevel::Warning, "-careful").unwrap();
    s.tools.application_version_set("1.2.3").unwrap();
    let w = s.world.lock().unwrap();
    let logs = &w.hook.as_ref().unwrap().logs;
    assert!(
        logs.iter().any(|l| format!("{l:?}").contains("-careful")),
        "{logs:?}"
    );
    assert_eq!(w.workload_version.as_deref(), Some("1.2.3"));
}

#[test]
fn non_leader_permissions_agree_with_the_simulator() {
    let s = sim(false, HookCtx::default());
    let m = model(&s, ctx("hooks/update-status", &[]));
    let rel = m.relation("service-mesh", 3).unwrap();

    // The model refuses before calling the tool …
    assert!(matches!(
        m.local_app_data(&rel),
        Err(ModelError::PermissionDenied(_))
    ));
    assert!(matches!(
        m.set_app_data(&rel, [("k", "v")]),
        Err(ModelError::NotLeader(_))
    ));
    assert!(matches!(
        m.set_app_status(&Status::active("")),
        Err(ModelError::NotLeader(_))
    ));
    // … and the simulator, like Juju, refuses the same calls with the errors we classify.
    let r3 = RelationRef::new("service-mesh", 3);
    assert!(matches!(
        s.tools.relation_get(&r3, "tester", true),
        Err(ToolError::PermissionDenied { .. })
    ));
    let data = [("k".to_string(), "v".to_string())].into_iter().collect();
    assert!(matches!(
        s.tools.relation_set(&r3, &data, true),
        Err(ToolError::CannotWriteRelationSettings { .. })
    ));
    assert!(matches!(
        s.tools
            .status_set(charm_runtime::tools::StatusName::Active, "", true),
        Err(ToolError::NotLeader { .. })
    ));

    // What a non-leader may do.
    m.remote_app_data(&rel).unwrap();
    m.set_unit_data(&rel, [("k", "v")]).unwrap();
    let peers = m.relation("peers", 1).unwrap();
    assert_eq!(m.local_app_data(&peers).unwrap()["shared"], "yes");
}

#[test]
fn unknown_relation_is_relation_not_found() {
    let s = sim(true, HookCtx::default());
    let m = model(&s, ctx("hooks/update-status", &[]));
    assert!(matches!(
        m.relation("service-mesh", 99),
        Err(ModelError::Tool(ToolError::RelationNotFound { .. }))
    ));
    // Like the Juju versions the contract was read from, only the id after `:` counts.
    assert_eq!(
        s.tools
            .relation_list(&RelationRef::new("peers", 3))
            .unwrap(),
        vec!["mydb/0"]
    );
}

#[test]
fn broken_relation_is_hidden_but_addressable() {
    let s = sim(
        true,
        HookCtx {
            relation_id: Some(3),
            broken: Some(3),
            ..HookCtx::default()
        },
    );
    let m = model(
        &s,
        ctx(
            "hooks/service-mesh-relation-broken",
            &[
                ("JUJU_RELATION", "service-mesh"),
                ("JUJU_RELATION_ID", "service-mesh:3"),
                ("JUJU_REMOTE_APP", "mydb"),
            ],
        ),
    );
    assert!(m.relations("service-mesh").unwrap().is_empty());
    let rel = m.event_relation().unwrap().unwrap();
    assert_eq!(
        (rel.id, rel.active, rel.app.as_deref()),
        (3, false, Some("mydb"))
    );
}

#[test]
fn action_tools() {
    let s = sim(true, HookCtx::default());
    assert!(matches!(
        s.tools.action_get(),
        Err(ToolError::NotRunningAction { .. })
    ));
    s.world.lock().unwrap().hook.as_mut().unwrap().action = Some(Default::default());
    assert!(s.tools.action_get().unwrap().is_empty());
    let results = serde_json::json!({"policies": {"count": 2}, "ok": true});
    s.tools.action_set(results.as_object().unwrap()).unwrap();
    s.tools.action_log("half way").unwrap();
    s.tools.action_fail(Some("nope")).unwrap();
    let w = s.world.lock().unwrap();
    let action = w.hook.as_ref().unwrap().action.as_ref().unwrap();
    assert_eq!(action.failed.as_deref(), Some("nope"));
    assert_eq!(action.logs, vec!["half way"]);
    let results = serde_json::Value::Object(action.results.clone()).to_string();
    assert!(
        results.contains("\"count\":\"2\"") && results.contains("\"ok\":\"True\""),
        "{results}"
    );
}

#[test]
fn ports_are_pending_until_commit() {
    let s = sim(true, HookCtx::default());
    let m = model(&s, ctx("hooks/config-changed", &[]));
    m.set_ports(&[Port::tcp(8080), Port::icmp()]).unwrap();
    // opened-ports shows committed state only, as in Juju.
    assert!(s.tools.opened_ports().unwrap().is_empty());
    let w = s.world.lock().unwrap();
    let pending: Vec<String> = w
        .hook
        .as_ref()
        .unwrap()
        .pending
        .ports
        .iter()
        .map(|(open, p)| format!("{open} {p}"))
        .collect();
    assert_eq!(pending, vec!["true 8080/tcp", "true icmp"]);
}

#[test]
fn state_tools() {
    let s = sim(true, HookCtx::default());
    assert!(s.tools.state_get().unwrap().is_empty());
    let data = [("k".to_string(), "v".to_string())].into_iter().collect();
    s.tools.state_set(&data).unwrap();
    s.tools.state_delete("k").unwrap();
    assert_eq!(s.tools.state_get_key("missing").unwrap(), None);
}

#[test]
fn pebble_client_against_the_simulated_pebble() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("workload").join("pebble.socket");
    let state = Arc::new(Mutex::new(charm_sim::pebble::PebbleState::new()));
    let server = charm_sim::pebble::PebbleServer::start(&rt, &socket, state.clone()).unwrap();
    let client = pebble::Client::with_socket(&socket);
    let layer = Layer {
        summary: Some("Metrics Broadcast Proxy Layer".into()),
        services: [(
            "metrics-proxy".to_string(),
            Service {
                override_: Some("replace".into()),
                command: Some("metrics-proxy".into()),
                startup: Some("enabled".into()),
                environment: [("POD_LABEL_SELECTOR".to_string(), "k=aggregated".to_string())]
                    .into_iter()
                    .collect(),
                ..Service::default()
            },
        )]
        .into_iter()
        .collect(),
        ..Layer::default()
    };
    rt.block_on(async {
        assert!(client.can_connect().await);
        assert_eq!(client.get_plan().await.unwrap(), Layer::default());
        client
            .add_layer("metrics-proxy", &layer, true)
            .await
            .unwrap();
        let plan = client.get_plan().await.unwrap();
        let svc = &plan.services["metrics-proxy"];
        assert_eq!(svc.command.as_deref(), Some("metrics-proxy"));
        assert_eq!(svc.environment["POD_LABEL_SELECTOR"], "k=aggregated");
        let change = client.replan(Duration::from_secs(30)).await.unwrap();
        assert!(change.ready, "{change:?}");
        let services = client.get_services().await.unwrap();
        assert_eq!(services[0].name, "metrics-proxy");
        assert_eq!(services[0].current, "active");
        // An invalid layer is refused with Pebble's message.
        let bad = Layer {
            services: [("x".to_string(), Service::default())]
                .into_iter()
                .collect(),
            ..Layer::default()
        };
        let err = client.add_layer("bad", &bad, true).await.unwrap_err();
        assert!(
            matches!(
                err,
                pebble::PebbleError::Api {
                    status_code: 400,
                    ..
                }
            ),
            "{err:?}"
        );
    });
    drop(server);
    rt.block_on(async {
        let err = client.system_info().await.unwrap_err();
        assert!(err.is_connection_error(), "{err:?}");
    });
}
