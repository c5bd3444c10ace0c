//! A small runtime for Juju charms written in Rust.
//!
//! One hook (or action) is one short-lived process. The pieces:
//!
//! - [`context`]: the typed Juju hook context read from the environment, and the
//!   [`context::Event`] being dispatched.
//! - [`tools`]: a typed client for Juju's hook tools (`relation-get`, `status-set`, …),
//!   with the exact argv shapes ops sends and typed errors.
//! - [`concurrent`]: independent hook tools run at once (safe: Juju runs one at a time).
//! - [`model`]: an ops-like cached view over the hook tools (config, leadership,
//!   relations, databags with Juju's permission rules, planned units, status).
//! - [`logging`]: a `tracing` layer that forwards to `juju-log`, and a panic hook.
//! - [`pebble`]: a small async Pebble client over the workload's unix socket.
//! - [`k8s`]: a `kube::Client` from the environment and field-manager parameters.
//!
//! A typical `main`:
//!
//! ```no_run
//! use charm_runtime::{context::JujuContext, logging, model::Model, tools::HookTools};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ctx = JujuContext::from_env()?;
//! let tools = HookTools::process();
//! logging::init(tools.clone(), logging::DEFAULT_LEVEL)?;
//! let model = Model::new(ctx, tools).with_peer_endpoints(["peers"]);
//! if model.is_leader()? {
//!     tracing::info!(unit = model.unit_name(), "leader");
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod concurrent;
pub mod context;
pub mod k8s;
pub mod logging;
pub mod model;
pub mod pebble;
pub mod tools;

#[cfg(test)]
mod testutil;

pub use context::{Event, HookEvent, JujuContext, RelationKind};
pub use model::{Model, ModelError, Relation, Status};
pub use tools::{HookTools, Port, ProcessRunner, RelationRef, ToolError, ToolRunner};
