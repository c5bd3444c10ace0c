//! The pure core of the `istio-beacon-k8s` charm: from a typed snapshot of the Juju model to
//! the desired state, from desired and live state to a plan of writes, and from the plan and
//! what the reconcile found to the unit status. No I/O and no logging: this crate's
//! dependencies cannot reach Kubernetes, Juju, Pebble or a file, and what is worth a log line
//! comes back as data for the binary to log.
//!
//! The modules, in the order data flows through them (each uses only those before it):
//! [`kinds`] and [`names`] (identities and labels), [`onboarding`] (what each mesh expects
//! on the model's Namespace), [`memo`] (what is remembered between hooks), [`snapshot`] (the model, typed), [`admission`] (what a consumer may ask for),
//! [`telemetry`], [`traffic`] and [`desired`] (what the beacon wants), [`plan`] (the diff against what is live), [`status`] (what the unit shows); and for
//! operators, [`report`] (`show-policies`) and [`access`] (`check-access`).

pub mod access;
pub mod admission;
pub mod desired;
pub mod kinds;
pub mod memo;
pub mod names;
pub mod onboarding;
pub mod plan;
pub mod report;
pub mod snapshot;
pub mod status;
pub mod telemetry;
pub mod traffic;

#[cfg(test)]
mod fixtures;
