//! istio-beacon-k8s: the Istio beacon of Charmed Service Mesh, as a single Rust binary.
//!
//! The binary holds the edges; the pure core is the `beacon_core` crate. Data path, in
//! [`reconcile`]: Juju → [`snapshot`] (read) → `beacon_core::desired` (pure) → [`live`]
//! (read) → `beacon_core::plan` (pure) → [`apply`] (write) → [`memo_store`] →
//! `beacon_core::status`. [`hook`] picks the work an event asks for; [`outcome`] decides how
//! a hook that could not finish ends.

mod actions;
mod apply;
mod hook;
mod live;
mod memo_store;
mod outcome;
mod reconcile;
mod snapshot;
mod telemetry;

use std::process::ExitCode;

use anyhow::Context as _;
use charm_runtime::logging::{self, JujuLogLayer};
use charm_runtime::{HookTools, JujuContext, Model};
use tracing::Instrument as _;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

use beacon_core::status::UnitStatus;
use beacon_core::telemetry::tracing_relation;

use crate::outcome::HookError;
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
    let model = Model::new(ctx, tools).with_peer_endpoints([beacon_core::snapshot::PEERS]);
    match run(&model, &recorder) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            end(&model, &e)
        }
    }
}

/// How a hook that could not finish ends: Juju retries it only when that can help;
/// otherwise the unit goes Blocked saying why.
fn end(model: &Model, error: &HookError) -> ExitCode {
    if let Some(msg) = error.blocked_message()
        && let Err(e) = reconcile::set_status(model, &UnitStatus::Blocked(msg))
    {
        tracing::error!("{e}");
        return ExitCode::FAILURE;
    }
    ExitCode::from(error.exit_code())
}

fn run(model: &Model, recorder: &SpanRecorder) -> Result<(), HookError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .map_err(HookError::Retry)?;
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
    let mut warnings = Vec::new();
    let endpoint = tracing_relation::destination(data.as_ref(), &mut warnings);
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let Some(endpoint) = endpoint else {
        return;
    };
    let ctx = model.context();
    let resource = Resource {
        model: &ctx.model_name,
        model_uuid: &ctx.model_uuid,
        unit: &ctx.unit_name,
        charm_name: beacon_core::desired::CHARM_NAME,
        charm_type: "IstioBeaconCharm",
    };
    if let Err(e) = telemetry::export::flush(recorder, &endpoint, &resource).await {
        tracing::warn!("charm-tracing: {e}");
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
