//! The beacon's observability relations, as the Python charm's libraries run them (pure):
//! - [`scrape`]: `metrics-endpoint` (prometheus_scrape provider) app and unit databags;
//! - [`tracing_relation`]: `charm-tracing` (tracing requirer) databag and destination.
//!
//! The charm's own spans and their export are I/O and live in the binary.

pub mod scrape;
pub mod tracing_relation;
