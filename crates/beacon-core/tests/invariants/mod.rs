//! The invariants of "a hostile consumer can neither widen access nor stop the beacon", checked
//! on what [`beacon_core::desired::desired`] returns. Shared by `tests/hostile.rs` (proptest)
//! and `fuzz/fuzz_targets/consumer_databags.rs` (cargo-fuzz), which include this file by path.
//!
//! Written from the statement of the invariants, not from the code under test: nothing here
//! calls `beacon_core::admission`, and the Kubernetes name rules are implemented again.
//! A violation panics with what broke and the offending body.
//!
//! - **I2** every emitted AuthorizationPolicy validates against the real CRD schema (Istio
//!   1.29, `../fixtures/`), loaded strictly (unknown fields fail instead of being pruned), plus
//!   the CEL rules and `metadata` checks a JSON Schema validator does not do.
//! - **I3** every consumer policy targets the consumer itself: a same-model consumer `A` in
//!   model `M` gets namespace `M` and exactly one of `targetRefs == [Service A]` or
//!   `selector.matchLabels` with `app.kubernetes.io/name: A`; a cross-model consumer
//!   (`remote-` + 32 hex) only namespaces the operator listed, never `M`, pinned to its
//!   `cmr_data` app (in its `cmr_data` model) when it sent valid `cmr_data`. The beacon's own
//!   policies target the beacon's pods in `M`.
//!
//! Also: one object per key, skips attributed to relations of the snapshot, and skip
//! reasons (which are logged) of bounded size.

#![allow(dead_code)] // each includer uses its own part

pub mod fuzz_input;
pub mod schema;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use beacon_core::desired::{Desired, PolicyIntent};
use beacon_core::snapshot::Snapshot;
use serde_json::{Map, Value, json};
use service_mesh::CmrData;

/// The `openAPIV3Schema` of `authorizationpolicies.security.istio.io` v1 (see SOURCES.md).
pub const SCHEMA: &str =
    include_str!("../fixtures/security.istio.io__v1__AuthorizationPolicy.json");

pub const APP_LABEL: &str = "app.kubernetes.io/name";
pub const API_VERSION: &str = "security.istio.io/v1";

/// The schema as the CRD has it, and strict: `additionalProperties: false` on every object
/// that lists its properties (the API server would prune what it does not know, silently).
/// Validated with [`schema::validate`]; `tests/hostile.rs` holds it to the `jsonschema`
/// crate's verdict.
pub struct Schemas {
    pub verbatim: Value,
    pub strict: Value,
}

pub fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let raw: Value = serde_json::from_str(SCHEMA).expect("schema JSON");
        Schemas {
            verbatim: raw.clone(),
            strict: strict(raw),
        }
    })
}

/// The schema made strict (see [`Schemas`]). The root gains `apiVersion`, `kind` and `metadata` (the CRD schema lists only `spec` and
/// `status`), then every object node with `properties` is closed.
pub fn strict(mut schema: Value) -> Value {
    let root = schema.as_object_mut().expect("schema object");
    let props = root
        .get_mut("properties")
        .and_then(Value::as_object_mut)
        .expect("root properties");
    props.insert("apiVersion".into(), json!({"enum": [API_VERSION]}));
    props.insert("kind".into(), json!({"enum": ["AuthorizationPolicy"]}));
    props.insert(
        "metadata".into(),
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["name", "namespace"],
        }),
    );
    root.insert(
        "required".into(),
        json!(["apiVersion", "kind", "metadata", "spec"]),
    );
    close(&mut schema);
    schema
}

fn close(node: &mut Value) {
    match node {
        Value::Object(m) => {
            if m.contains_key("properties")
                && !m.contains_key("additionalProperties")
                && !m.contains_key("x-kubernetes-preserve-unknown-fields")
            {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            m.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

// --- Kubernetes name rules, implemented again from apimachinery's validation.go ---

fn dns_part(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = s.as_bytes();
    !b.is_empty()
        && alnum(b[0])
        && alnum(b[b.len() - 1])
        && b.iter().all(|&c| alnum(c) || c == b'-')
}

/// `IsDNS1123Label`.
pub fn is_dns1123_label(s: &str) -> bool {
    s.len() <= 63 && dns_part(s)
}

/// `IsDNS1123Subdomain`.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(dns_part)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, at most 63.
fn qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `IsQualifiedName`: a label key.
pub fn is_label_key(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [name] => qualified_name_part(name),
        [prefix, name] => is_dns1123_subdomain(prefix) && qualified_name_part(name),
        _ => false,
    }
}

/// `IsValidLabelValue`.
pub fn is_label_value(s: &str) -> bool {
    s.is_empty() || qualified_name_part(s)
}

/// `remote-` + 32 hex digits: how Juju names a cross-model consumer on the offering side.
pub fn is_cross_model_name(app: &str) -> bool {
    app.strip_prefix("remote-")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

// --- I2 ---

fn fail(what: &str, body: &Value) -> ! {
    let text = serde_json::to_string(body).unwrap_or_default();
    let cut: String = text.chars().take(4000).collect();
    panic!("{what}\nbody: {cut}");
}

/// I2 for one AuthorizationPolicy body.
pub fn check_body_valid(body: &Value) {
    let s = schemas();
    if let Err(e) = schema::validate(&s.verbatim, body) {
        fail(&format!("I2: invalid against the CRD schema: {e}"), body);
    }
    if let Err(e) = schema::validate(&s.strict, body) {
        fail(
            &format!("I2: a field the CRD does not know (it would be pruned): {e}"),
            body,
        );
    }
    if body.get("apiVersion") != Some(&json!(API_VERSION))
        || body.get("kind") != Some(&json!("AuthorizationPolicy"))
    {
        fail("I2: not a security.istio.io/v1 AuthorizationPolicy", body);
    }
    if body.get("status").is_some() {
        fail("I2: a generated object carries status", body);
    }
    let meta = body.get("metadata").and_then(Value::as_object);
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
    let ns = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str);
    if !name.is_some_and(is_dns1123_subdomain) {
        fail("I2: metadata.name is not a DNS-1123 subdomain", body);
    }
    if !ns.is_some_and(is_dns1123_label) {
        fail("I2: metadata.namespace is not a DNS-1123 label", body);
    }
    if let Some(labels) = meta.and_then(|m| m.get("labels")) {
        let Some(labels) = labels.as_object() else {
            fail("I2: metadata.labels is not an object", body)
        };
        for (k, v) in labels {
            if !is_label_key(k) || !v.as_str().is_some_and(is_label_value) {
                fail(&format!("I2: invalid label {k:?}: {v}"), body);
            }
        }
    }
    // The CEL rules (x-kubernetes-validations) of the CRD.
    let spec = body.get("spec").and_then(Value::as_object);
    let Some(spec) = spec else {
        fail("I2: no spec", body)
    };
    let targets = ["selector", "targetRef", "targetRefs"]
        .iter()
        .filter(|k| spec.contains_key(**k))
        .count();
    if targets > 1 {
        fail(
            "I2 (CEL): more than one of selector, targetRef, targetRefs",
            body,
        );
    }
    let refs = spec.get("targetRef").into_iter().chain(
        spec.get("targetRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    for r in refs {
        if r.get("namespace")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
        {
            fail("I2 (CEL): cross-namespace target reference", body);
        }
    }
    if let Some(labels) = spec
        .get("selector")
        .and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object)
    {
        for (k, v) in labels {
            let v = v.as_str().unwrap_or_default();
            if k.is_empty() || k.contains('*') || v.contains('*') {
                fail(
                    "I2 (CEL): empty key or wildcard in selector.matchLabels",
                    body,
                );
            }
        }
    }
}

// --- I3 ---

/// The workload a body targets: `Ok(name)` when it has exactly one of
/// `targetRefs == [{"group": "", "kind": "Service", "name": name}]` and
/// `selector.matchLabels` with `app.kubernetes.io/name: name`; `Err` otherwise.
pub fn pinned_target(body: &Value) -> Result<String, String> {
    let spec = body
        .get("spec")
        .and_then(Value::as_object)
        .ok_or("no spec")?;
    if spec.contains_key("targetRef") {
        return Err("spec.targetRef".into());
    }
    let by_ref = spec.get("targetRefs");
    let by_selector = spec.get("selector");
    match (by_ref, by_selector) {
        (Some(_), Some(_)) => Err("both targetRefs and selector".into()),
        (None, None) => Err("neither targetRefs nor selector: every workload".into()),
        (Some(refs), None) => match refs.as_array().map(Vec::as_slice) {
            Some([one]) => {
                let name = one.get("name").and_then(Value::as_str).unwrap_or_default();
                let want = json!({"group": "", "kind": "Service", "name": name});
                if *one == want && !name.is_empty() {
                    Ok(name.to_owned())
                } else {
                    Err(format!(
                        "targetRefs is not one Service of this namespace: {one}"
                    ))
                }
            }
            _ => Err(format!("targetRefs is not exactly one reference: {refs}")),
        },
        (None, Some(selector)) => selector
            .get("matchLabels")
            .and_then(|m| m.get(APP_LABEL))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| format!("selector does not pin {APP_LABEL}: {selector}")),
    }
}

/// `cmr_data` values of `app` that are valid: JSON with both names DNS-1123 labels.
fn valid_cmr(snap: &Snapshot, app: &str) -> Vec<CmrData> {
    snap.cmr
        .iter()
        .filter(|r| r.remote_app == app)
        .filter_map(|r| CmrData::parse(r.cmr_data.as_deref()?).ok())
        .filter(|d| is_dns1123_label(&d.app_name) && is_dns1123_label(&d.juju_model_name))
        .collect()
}

/// I3 for one consumer or own policy.
pub fn check_target(snap: &Snapshot, intent: &PolicyIntent, body: &Value) {
    let ns = body
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let pinned = pinned_target(body).unwrap_or_else(|why| fail(&format!("I3: {why}"), body));
    let Some(origin) = &intent.origin else {
        // The beacon's own metrics policy: the beacon's pods, in its model.
        if ns != snap.model || pinned != snap.app || body.pointer("/spec/selector").is_none() {
            fail(
                "I3: the beacon's own policy does not select the beacon's pods",
                body,
            );
        }
        return;
    };
    let relations: Vec<_> = snap
        .service_mesh
        .iter()
        .filter(|r| r.id == origin.relation_id)
        .collect();
    if relations.len() != 1 || relations[0].remote_app != origin.app {
        fail(
            &format!("I3: origin {origin} is not one service-mesh relation of the snapshot"),
            body,
        );
    }
    let app = origin.app.as_str();
    if !is_cross_model_name(app) {
        if ns != snap.model {
            fail(
                &format!(
                    "I3: same-model consumer {app:?} got namespace {ns:?}, not {:?}",
                    snap.model
                ),
                body,
            );
        }
        if pinned != app {
            fail(
                &format!("I3: same-model consumer {app:?} targets {pinned:?}"),
                body,
            );
        }
        return;
    }
    if ns == snap.model {
        fail(
            &format!("I3: cross-model consumer {app:?} in this model"),
            body,
        );
    }
    if !snap.config.cross_model_namespaces.iter().any(|n| n == ns) {
        fail(
            &format!("I3: cross-model consumer {app:?} in unlisted namespace {ns:?}"),
            body,
        );
    }
    let cmr = valid_cmr(snap, app);
    if !cmr.is_empty()
        && !cmr
            .iter()
            .any(|d| d.app_name == pinned && d.juju_model_name == ns)
    {
        fail(
            &format!(
                "I3: cross-model consumer {app:?} with cmr_data {cmr:?} targets {pinned:?} in {ns:?}"
            ),
            body,
        );
    }
}

/// What one `desired` run emitted and refused.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Consumer policies rendered.
    pub admitted: usize,
    /// Consumer policies (or whole `policies` values) skipped.
    pub refused: usize,
    /// The beacon's own policies and the modeloperator policy.
    pub own: usize,
}

/// I2 and I3 on everything `d` (the desired state of `snap`) would apply, and the
/// bookkeeping around it: one object per key, skips attributed to real relations.
pub fn check(snap: &Snapshot, d: &Desired) -> Counts {
    check_with(snap, d, &|_| {})
}

/// [`check`], also calling `more` on every AuthorizationPolicy body.
pub fn check_with(snap: &Snapshot, d: &Desired, more: &dyn Fn(&Value)) -> Counts {
    let mut counts = Counts::default();
    let mut keys = BTreeSet::new();
    if !snap.config.manage_authorization_policies
        && (!d.policies.is_empty() || !d.modeloperator.is_empty())
    {
        panic!("policies emitted with manage-authorization-policies off");
    }
    for intent in &d.policies {
        let Some(body) = intent.body(&d.owner_instance) else {
            panic!("intent {}/{} has no body", intent.namespace, intent.name);
        };
        check_body_valid(&body);
        more(&body);
        let meta = (
            body.pointer("/metadata/namespace").and_then(Value::as_str),
            body.pointer("/metadata/name").and_then(Value::as_str),
        );
        if meta != (Some(intent.namespace.as_str()), Some(intent.name.as_str())) {
            fail("the body's metadata is not the intent's key", &body);
        }
        if !keys.insert((intent.namespace.clone(), intent.name.clone())) {
            fail("two intents for one object", &body);
        }
        check_target(snap, intent, &body);
        match intent.origin {
            Some(_) => counts.admitted += 1,
            None => counts.own += 1,
        }
    }
    for body in &d.modeloperator {
        check_body_valid(body);
        more(body);
        let ns = body.pointer("/metadata/namespace").and_then(Value::as_str);
        let name = body.pointer("/metadata/name").and_then(Value::as_str);
        if ns != Some(snap.model.as_str()) {
            fail("the modeloperator policy is not in this model", body);
        }
        if !keys.insert((
            ns.unwrap_or_default().to_owned(),
            name.unwrap_or_default().to_owned(),
        )) {
            fail("the modeloperator policy shares a key with another", body);
        }
        let selector = body.pointer("/spec/selector/matchLabels");
        if selector != Some(&json!({"juju-modeloperator": "modeloperator"})) {
            fail("the modeloperator policy selects something else", body);
        }
        counts.own += 1;
    }
    for skip in &d.skipped {
        let rel = snap.service_mesh.iter().find(|r| r.id == skip.relation_id);
        if rel.map(|r| r.remote_app.as_str()) != Some(skip.remote_app.as_str()) {
            panic!("skip attributed to a relation that is not there: {skip}");
        }
        // Reasons are logged on every hook: a consumer's megabyte must not become one.
        if skip.reason.len() > beacon_core::desired::MAX_REASON_LEN + 64 {
            panic!("a skip reason of {} bytes", skip.reason.len());
        }
        counts.refused += 1;
    }
    counts
}

/// The bodies `d` would apply, as canonical JSON text, by object key.
pub fn bodies(d: &Desired) -> Map<String, Value> {
    d.policies
        .iter()
        .map(|i| {
            (
                format!("{}/{}", i.namespace, i.name),
                i.body(&d.owner_instance).unwrap_or(Value::Null),
            )
        })
        .collect()
}
