//! The charm's own spans, recorded from `tracing` during a hook and encoded as OTLP/JSON (the
//! encoding `ops.tracing` itself sends: `Content-Type: application/json`, one resource, one
//! scope, spans with hex ids and decimal-string nanosecond times).
//!
//! Wiring: add a [`SpanRecorder`] clone as a layer of the hook's subscriber, open a root span
//! named `ops.main` (as ops does) around the hook's work, drop it, then call
//! [`flush`](super::export::flush) with the `charm-tracing` destination.

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// OTLP `SPAN_KIND_INTERNAL`, what ops reports for charm spans.
const KIND_INTERNAL: u8 = 1;
/// OTLP span flags "parent is local" (`ops.tracing` sets it on every span).
const FLAGS_LOCAL: u32 = 0x100;
/// OTLP `STATUS_CODE_ERROR`.
const STATUS_ERROR: u8 = 2;

/// An attribute value, as OTLP's `AnyValue` knows them.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Bool(bool),
    Int(i64),
    Double(f64),
    String(String),
}

/// One finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    pub name: String,
    pub trace_id: u128,
    pub span_id: u64,
    pub parent_span_id: Option<u64>,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub attributes: Vec<(String, AttrValue)>,
    /// `Some(message)` when an ERROR event was logged inside the span.
    pub error: Option<String>,
}

/// Who produced the spans: the OTLP resource `ops.tracing` attaches.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'a> {
    pub model: &'a str,
    pub model_uuid: &'a str,
    /// `<app>/<n>`.
    pub unit: &'a str,
    /// The charm's metadata name.
    pub charm_name: &'a str,
    /// The Python charm class name (`IstioBeaconCharm`), which dashboards may filter on.
    pub charm_type: &'a str,
}

/// A `tracing` layer that keeps every span closed during the hook, all in one trace.
/// Clones share the same buffer: keep one to drain it, give the other to the subscriber.
#[derive(Debug, Clone)]
pub struct SpanRecorder {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    trace_id: u128,
    finished: Mutex<Vec<SpanRecord>>,
}

/// Per-span state kept in the registry's extensions until the span closes.
struct OpenSpan {
    span_id: u64,
    parent_span_id: Option<u64>,
    start_unix_nano: u64,
    attributes: Vec<(String, AttrValue)>,
    error: Option<String>,
}

impl Default for SpanRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanRecorder {
    pub fn new() -> Self {
        let trace_id = (u128::from(random_u64()) << 64) | u128::from(random_u64());
        Self {
            shared: Arc::new(Shared {
                trace_id,
                finished: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Removes and returns the spans closed so far, in closing order.
    pub fn take(&self) -> Vec<SpanRecord> {
        std::mem::take(&mut *self.finished())
    }

    fn finished(&self) -> MutexGuard<'_, Vec<SpanRecord>> {
        // A panic elsewhere while holding the lock leaves a plain Vec, still usable.
        self.shared
            .finished
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<S> Layer<S> for SpanRecorder
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent_span_id = span
            .parent()
            .and_then(|parent| parent.extensions().get::<OpenSpan>().map(|p| p.span_id));
        let mut attributes = Vec::new();
        attrs.record(&mut FieldVisitor(&mut attributes));
        span.extensions_mut().insert(OpenSpan {
            span_id: random_u64(),
            parent_span_id,
            start_unix_nano: now_unix_nano(),
            attributes,
            error: None,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(open) = span.extensions_mut().get_mut::<OpenSpan>() {
            values.record(&mut FieldVisitor(&mut open.attributes));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if *event.metadata().level() != Level::ERROR {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let mut fields = Vec::new();
        event.record(&mut FieldVisitor(&mut fields));
        let message = fields
            .into_iter()
            .find(|(key, _)| key == "message")
            .map_or_else(String::new, |(_, value)| match value {
                AttrValue::String(s) => s,
                other => format!("{other:?}"),
            });
        if let Some(open) = span.extensions_mut().get_mut::<OpenSpan>() {
            open.error = Some(message);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<OpenSpan>() else {
            return;
        };
        let record = SpanRecord {
            name: span.name().to_owned(),
            trace_id: self.shared.trace_id,
            span_id: open.span_id,
            parent_span_id: open.parent_span_id,
            start_unix_nano: open.start_unix_nano,
            end_unix_nano: now_unix_nano(),
            attributes: open.attributes,
            error: open.error,
        };
        self.finished().push(record);
    }
}

/// Collects `tracing` fields as attributes; a field recorded again replaces its value.
struct FieldVisitor<'a>(&'a mut Vec<(String, AttrValue)>);

impl FieldVisitor<'_> {
    fn put(&mut self, field: &Field, value: AttrValue) {
        match self.0.iter_mut().find(|(key, _)| key == field.name()) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((field.name().to_owned(), value)),
        }
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, AttrValue::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, AttrValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        // OTLP ints are signed 64-bit; larger values keep their digits as a string.
        let value = i64::try_from(value)
            .map_or_else(|_| AttrValue::String(value.to_string()), AttrValue::Int);
        self.put(field, value);
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, AttrValue::Double(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, AttrValue::String(value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, AttrValue::String(format!("{value:?}")));
    }
}

/// The OTLP/JSON `ExportTraceServiceRequest` body for `spans`.
pub fn encode(resource: &Resource<'_>, spans: &[SpanRecord]) -> Vec<u8> {
    let (app, unit_number) = resource.unit.split_once('/').unwrap_or((resource.unit, ""));
    let resource_attributes = [
        ("service.namespace", resource.model_uuid),
        ("service.namespace.name", resource.model),
        ("service.name", app),
        ("service.instance.id", unit_number),
        ("charm", resource.charm_name),
        ("charm_type", resource.charm_type),
        ("juju_model", resource.model),
        ("juju_model_uuid", resource.model_uuid),
        ("juju_application", app),
        ("juju_unit", resource.unit),
    ]
    .map(|(key, value)| json!({"key": key, "value": {"stringValue": value}}));
    let body = json!({"resourceSpans": [{
        "resource": {"attributes": resource_attributes},
        "scopeSpans": [{
            "scope": {"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")},
            "spans": spans.iter().map(encode_span).collect::<Vec<_>>(),
        }],
    }]});
    body.to_string().into_bytes()
}

fn encode_span(span: &SpanRecord) -> Value {
    let mut out = json!({
        "name": span.name,
        "kind": KIND_INTERNAL,
        "traceId": format!("{:032x}", span.trace_id),
        "spanId": format!("{:016x}", span.span_id),
        "flags": FLAGS_LOCAL,
        // int64/fixed64 fields are decimal strings in OTLP/JSON.
        "startTimeUnixNano": span.start_unix_nano.to_string(),
        "endTimeUnixNano": span.end_unix_nano.to_string(),
        "status": match &span.error {
            Some(message) if !message.is_empty() => json!({"code": STATUS_ERROR, "message": message}),
            Some(_) => json!({"code": STATUS_ERROR}),
            None => json!({}),
        },
    });
    if !span.attributes.is_empty() {
        out["attributes"] = span
            .attributes
            .iter()
            .map(|(key, value)| json!({"key": key, "value": any_value(value)}))
            .collect();
    }
    if let Some(parent) = span.parent_span_id {
        out["parentSpanId"] = json!(format!("{parent:016x}"));
    }
    out
}

fn any_value(value: &AttrValue) -> Value {
    match value {
        AttrValue::Bool(b) => json!({"boolValue": b}),
        AttrValue::Int(i) => json!({"intValue": i.to_string()}),
        // JSON has no NaN/inf; keep them readable rather than sending null.
        AttrValue::Double(d) if d.is_finite() => json!({"doubleValue": d}),
        AttrValue::Double(d) => json!({"stringValue": d.to_string()}),
        AttrValue::String(s) => json!({"stringValue": s}),
    }
}

fn now_unix_nano() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

/// A random non-zero id. std's `RandomState` is seeded from the OS per process, and hashing a
/// counter makes every call distinct — enough for trace/span ids without a `rand` dependency.
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    const RESOURCE: Resource<'static> = Resource {
        model: "prod",
        model_uuid: "7b0e1c9e-0000-4000-8000-000000000001",
        unit: "istio-beacon-k8s/0",
        charm_name: "istio-beacon-k8s",
        charm_type: "IstioBeaconCharm",
    };

    fn record_a_hook() -> Vec<SpanRecord> {
        let recorder = SpanRecorder::new();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::with_default(subscriber, || {
            let root = tracing::info_span!(
                "ops.main",
                hook = "config-changed",
                reconciled = tracing::field::Empty
            );
            let _root = root.enter();
            {
                let child =
                    tracing::info_span!("sync", policies = 3_u64, leader = true, ratio = 0.5);
                let _child = child.enter();
                tracing::error!("waypoint not ready");
            }
            root.record("reconciled", false);
        });
        recorder.take()
    }

    #[test]
    fn layer_records_hierarchy_attributes_and_errors() {
        let spans = record_a_hook();
        let names: Vec<_> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["sync", "ops.main"]);
        let (child, root) = (&spans[0], &spans[1]);

        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
        assert_eq!(child.parent_span_id, Some(root.span_id));
        assert_eq!(root.parent_span_id, None);
        assert!(root.start_unix_nano <= child.start_unix_nano);
        assert!(child.end_unix_nano <= root.end_unix_nano);

        assert_eq!(child.error.as_deref(), Some("waypoint not ready"));
        assert_eq!(root.error, None);
        assert_eq!(
            child.attributes,
            [
                ("policies".to_owned(), AttrValue::Int(3)),
                ("leader".to_owned(), AttrValue::Bool(true)),
                ("ratio".to_owned(), AttrValue::Double(0.5)),
            ]
        );
        assert_eq!(
            root.attributes,
            [
                (
                    "hook".to_owned(),
                    AttrValue::String("config-changed".to_owned())
                ),
                ("reconciled".to_owned(), AttrValue::Bool(false)),
            ]
        );
    }

    #[test]
    fn take_drains() {
        let recorder = SpanRecorder::new();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::with_default(subscriber, || {
            drop(tracing::info_span!("one"));
        });
        assert_eq!(recorder.take().len(), 1);
        assert!(recorder.take().is_empty());
    }

    #[test]
    fn encoding_has_the_otlp_json_shape() {
        let spans = record_a_hook();
        let body: Value = serde_json::from_slice(&encode(&RESOURCE, &spans)).unwrap_or_default();

        let resource_spans = &body["resourceSpans"];
        assert_eq!(resource_spans.as_array().map(Vec::len), Some(1));
        let attributes = resource_spans[0]["resource"]["attributes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let attr = |key: &str| {
            attributes
                .iter()
                .find(|a| a["key"] == key)
                .map(|a| a["value"]["stringValue"].clone())
        };
        assert_eq!(attr("service.name"), Some(json!("istio-beacon-k8s")));
        assert_eq!(attr("service.instance.id"), Some(json!("0")));
        assert_eq!(attr("charm"), Some(json!("istio-beacon-k8s")));
        assert_eq!(attr("charm_type"), Some(json!("IstioBeaconCharm")));
        assert_eq!(attr("juju_unit"), Some(json!("istio-beacon-k8s/0")));

        let scope = &resource_spans[0]["scopeSpans"][0];
        assert_eq!(scope["scope"]["name"], "istio-beacon-k8s");
        let child = &scope["spans"][0];
        let root = &scope["spans"][1];
        assert_eq!(child["name"], "sync");
        assert_eq!(child["kind"], 1);
        assert_eq!(child["flags"], 256);
        let hex = |v: &Value, len: usize| {
            v.as_str()
                .is_some_and(|s| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()))
        };
        assert!(hex(&child["traceId"], 32));
        assert!(hex(&child["spanId"], 16));
        assert_eq!(child["traceId"], root["traceId"]);
        assert_eq!(child["parentSpanId"], root["spanId"]);
        assert!(root.get("parentSpanId").is_none());
        assert_eq!(
            child["startTimeUnixNano"],
            json!(spans[0].start_unix_nano.to_string())
        );
        assert_eq!(
            child["status"],
            json!({"code": 2, "message": "waypoint not ready"})
        );
        assert_eq!(root["status"], json!({}));
        assert_eq!(
            child["attributes"],
            json!([
                {"key": "policies", "value": {"intValue": "3"}},
                {"key": "leader", "value": {"boolValue": true}},
                {"key": "ratio", "value": {"doubleValue": 0.5}},
            ])
        );
    }

    #[test]
    fn odd_values_stay_valid_otlp() {
        assert_eq!(
            any_value(&AttrValue::Double(f64::NAN)),
            json!({"stringValue": "NaN"})
        );
        let mut attrs = Vec::new();
        let recorder = SpanRecorder::new();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::with_default(subscriber, || {
            drop(tracing::info_span!("big", n = u64::MAX));
        });
        attrs.extend(recorder.take().into_iter().flat_map(|s| s.attributes));
        assert_eq!(
            attrs,
            [("n".to_owned(), AttrValue::String(u64::MAX.to_string()))]
        );
    }

    #[test]
    fn ids_are_distinct() {
        let ids: std::collections::HashSet<u64> = (0..1000).map(|_| random_u64()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(!ids.contains(&0));
    }
}
