//! The charm's own spans: recorded from `tracing` ([`spans`]) and sent over OTLP/HTTP JSON at
//! the end of the hook ([`export`], whose only I/O is the one POST). The relation databags
//! are pure and live in `beacon_core::telemetry`.

pub mod export;
pub mod spans;
