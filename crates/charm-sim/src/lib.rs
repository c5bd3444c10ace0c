//! `charm-sim`: plays a Juju model, a Kubernetes API server and Pebble against a charm.
//!
//! [`run_scenario`] is the library entry point; the `charm-sim` binary wraps it, and the small
//! `charm-sim-jujuc` binary is every hook tool (by `argv[0]`, see [`agent::run_client`]).
// Unit tests may unwrap: a panic there is a test failure with a location.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod agent;
pub mod charm;
pub mod error;
pub mod flags;
pub mod gojson;
pub mod kube;
pub mod measure;
pub mod output;
pub mod pebble;
pub mod run;
pub mod scenario;
pub mod tools;
pub mod world;

pub use error::SimError;
pub use output::Output;
pub use run::{RunOptions, ScenarioInput, run_scenario};
pub use scenario::Scenario;
