//! istio-beacon-k8s: the Istio beacon of Charmed Service Mesh, as a single Rust binary.
//!
//! Data path: Juju context → [`snapshot`] → [`desired`] (pure) → [`live`] reads →
//! [`plan`] (pure diff) → [`apply`] writes → [`status`].

mod apply;
mod desired;
mod kinds;
mod live;
mod memory;
mod plan;
mod reconcile;
mod snapshot;
mod status;
mod telemetry;

use std::process::ExitCode;

use anyhow::Context as _;
use charm_runtime::logging::{self, JujuLogLayer};
use charm_runtime::{HookTools, JujuContext, Model};
use tracing::Instrument as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::telemetry::spans::{Resource, SpanRecorder};

fn main() -> ExitCode {
    let ctx = match JujuContext::from_env() {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("ERROR cannot read the Juju hook context: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tools = HookTools::process();
    // Logs go to juju-log; spans are also recorded for charm-tracing. Both keep dependency
    // crates at WARN and above.
    let recorder = SpanRecorder::new();
    let subscriber = tracing_subscriber::registry()
        .with(
            JujuLogLayer::new(tools.clone())
                .with_filter(logging::default_filter(logging::DEFAULT_LEVEL)),
        )
        .with(
            recorder
                .clone()
                .with_filter(logging::default_filter(logging::DEFAULT_LEVEL)),
        );
    if let Err(e) = tracing::subscriber::set_global_default(subscriber) {
        eprintln!("ERROR cannot set up logging: {e}");
        return ExitCode::FAILURE;
    }
    logging::install_panic_hook(tools.clone());
    let model = Model::new(ctx, tools).with_peer_endpoints([snapshot::PEERS]);
    match run(&model, &recorder) {
        Ok(()) => ExitCode::SUCCESS,
        // Only failures that a retry can fix get here: Juju retries the hook.
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(model: &Model, recorder: &SpanRecorder) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let ctx = model.context();
        let span = tracing::info_span!("hook", juju.dispatch_path = %ctx.dispatch_path);
        let result = reconcile::dispatch(model).instrument(span).await;
        export_spans(model, recorder).await;
        result
    })
}

/// Send this hook's spans to the charm-tracing destination, if there is one. Never fails
/// the hook (as ops.tracing).
async fn export_spans(model: &Model, recorder: &SpanRecorder) {
    let data = snapshot::tracing_remote_data(model);
    let Some(endpoint) = telemetry::tracing_relation::destination(data.as_ref()) else {
        return;
    };
    let ctx = model.context();
    let resource = Resource {
        model: &ctx.model_name,
        model_uuid: &ctx.model_uuid,
        unit: &ctx.unit_name,
        charm_name: desired::CHARM_NAME,
        charm_type: "IstioBeaconCharm",
    };
    if let Err(e) = telemetry::export::flush(recorder, &endpoint, &resource).await {
        tracing::warn!("charm-tracing: {e}");
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
