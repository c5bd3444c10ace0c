//! The beacon's observability relations, as the Python charm's libraries run them:
//! - [`scrape`]: `metrics-endpoint` (prometheus_scrape provider) app and unit databags;
//! - [`tracing_relation`]: `charm-tracing` (tracing requirer) databag and destination;
//! - [`spans`] and [`export`]: the charm's own spans, recorded from `tracing` and sent over
//!   OTLP/HTTP JSON at the end of the hook.
//!
//! Everything is pure except [`export`], whose only I/O is the one POST.

pub mod export;
pub mod scrape;
pub mod spans;
pub mod tracing_relation;
