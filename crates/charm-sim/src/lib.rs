//! `charm-sim`: plays a Juju model, a Kubernetes API server and Pebble against a charm.
pub mod kube;
