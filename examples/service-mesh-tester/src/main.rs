//! service-mesh-tester: a Rust port of the upstream Python tester charm of Charmed Service
//! Mesh. It joins the mesh through `service_mesh::consumer::ServiceMeshConsumer` and runs an
//! echo server on ports 8080 and 8081, so that the beacon's policies can be checked end to
//! end. It declares:
//! - an AppPolicy on `inbound`: GET and POST on `/foo` and `/bar/`, ports 8080 and 8081;
//! - a UnitPolicy on `inbound-unit`: ports 8080 and 8081;
//! - with `peer-communication` (default true), a UnitPolicy on `peers` with the same ports;
//! - with `traffic` (a JSON traffic intent, default empty: none), that intent for its
//!   Service (`ServiceMeshConsumer::with_traffic`); an invalid value fails the hook with the
//!   reason, naming the field.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use charm_runtime::context::{Event, HookEvent};
use charm_runtime::model::Status;
use charm_runtime::pebble::{self, Layer};
use charm_runtime::tools::{ProcessRunner, ToolRunner};
use charm_runtime::{HookTools, JujuContext, Model, logging};
use service_mesh::consumer::{AppPolicy, ServiceMeshConsumer, UnitPolicy};
use service_mesh::{Endpoint, Method, Port, TrafficIntent};

const PORTS: [u16; 2] = [8080, 8081];
const CONTAINER: &str = "echo-server";
const PEERS: &str = "peers";

fn main() -> ExitCode {
    let ctx = match JujuContext::from_env() {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("ERROR cannot read the Juju hook context: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tools = HookTools::process();
    if let Err(e) = logging::init(tools.clone(), logging::DEFAULT_LEVEL) {
        eprintln!("ERROR cannot set up logging: {e}");
        return ExitCode::FAILURE;
    }
    let model = Model::new(ctx, tools).with_peer_endpoints([PEERS]);
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(dispatch(&model)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The consumer as the upstream tester builds it, from the current config.
fn mesh_consumer(model: &Model) -> anyhow::Result<ServiceMeshConsumer> {
    let config = model.config()?;
    let flag = |key: &str| config.get(key).and_then(|v| v.as_bool()).unwrap_or(true);
    let ports = || Some(PORTS.iter().copied().map(Port::from).collect::<Vec<_>>());
    let consumer = ServiceMeshConsumer::new([
        AppPolicy::new(
            "inbound",
            [Endpoint {
                hosts: None,
                ports: ports(),
                methods: Some(vec![Method::Get, Method::Post]),
                paths: Some(vec!["/foo".into(), "/bar/".into()]),
            }],
        )
        .into(),
        UnitPolicy::new("inbound-unit", PORTS).into(),
    ])
    .auto_join(flag("auto-join-mesh"));
    let consumer = if flag("peer-communication") {
        consumer.with_peer_communication(PEERS, PORTS)
    } else {
        consumer
    };
    let traffic = config
        .get("traffic")
        .and_then(|v| v.as_str())
        .filter(|s| !s.trim().is_empty());
    Ok(match traffic {
        Some(text) => consumer.with_traffic(
            TrafficIntent::from_json(text).context("invalid `traffic` config option")?,
        ),
        None => consumer,
    })
}

async fn dispatch(model: &Model) -> anyhow::Result<()> {
    set_ports(&PORTS)?;
    let mesh = mesh_consumer(model)?;
    // The library reacts first, as its observers are registered first in the Python charm.
    mesh.handle(model).await?;
    match &model.context().event {
        // peer-communication or traffic may have changed what is declared; the leader
        // re-sends it (a no-op on other units).
        Event::Hook(HookEvent::ConfigChanged) => mesh.update_service_mesh(model)?,
        Event::Hook(HookEvent::PebbleReady { container }) if container == CONTAINER => {
            start_echo_server(model).await?;
        }
        _ => {}
    }
    Ok(())
}

/// One `/bin/echo-server` service per port (`PORT` in its environment), then active.
async fn start_echo_server(model: &Model) -> anyhow::Result<()> {
    let client = pebble::Client::for_container(CONTAINER);
    if !client.can_connect().await {
        bail!("container.can_connect() failed during a pebble_ready handler");
    }
    let mut layer = Layer {
        summary: Some("echo server layer".into()),
        description: Some("pebble config layer for echo server".into()),
        ..Layer::default()
    };
    for (i, port) in PORTS.iter().enumerate() {
        let service = pebble::Service {
            override_: Some("replace".into()),
            command: Some("/bin/echo-server".into()),
            startup: Some("enabled".into()),
            environment: [("PORT".to_string(), port.to_string())].into(),
            ..pebble::Service::default()
        };
        layer.services.insert(format!("echo-server-{i}"), service);
    }
    client
        .add_layer(CONTAINER, &layer, true)
        .await
        .context("add the echo-server layer")?;
    // Starts every `startup: enabled` service (ops' `autostart()` does the same here).
    client
        .replan(Duration::from_secs(30))
        .await
        .context("start the echo servers")?;
    model.set_unit_status(&Status::active("Echo server running"))?;
    Ok(())
}

/// ops' `Unit.set_ports`: open what is missing, close what is no longer wanted (TCP).
fn set_ports(ports: &[u16]) -> anyhow::Result<()> {
    let run = |argv: &[String]| -> anyhow::Result<String> {
        let out = ProcessRunner
            .run(argv, None)
            .with_context(|| format!("run {}", argv.join(" ")))?;
        if out.code != 0 {
            bail!("{} failed: {}", argv.join(" "), out.stderr.trim());
        }
        Ok(out.stdout)
    };
    let opened: Vec<String> =
        serde_json::from_str(&run(&["opened-ports".into(), "--format=json".into()])?)
            .context("decode opened-ports")?;
    let wanted: Vec<String> = ports.iter().map(|p| format!("{p}/tcp")).collect();
    for port in opened.iter().filter(|p| !wanted.contains(p)) {
        run(&["close-port".into(), port.clone()])?;
    }
    for port in wanted.iter().filter(|p| !opened.contains(p)) {
        run(&["open-port".into(), port.clone()])?;
    }
    Ok(())
}
