//! Issue "A hostile consumer can neither widen access nor stop the beacon", proven with
//! generated hostile inputs (proptest). The invariants, checked in `invariants/` (shared with
//! the cargo-fuzz target `fuzz/fuzz_targets/consumer_databags.rs`):
//!
//! - I1 `desired` never panics, whatever the `policies` and `cmr_data` strings, remote app
//!   names and config;
//! - I2 every AuthorizationPolicy it emits validates against the real CRD schema, CEL rules
//!   and metadata name rules included;
//! - I3 every consumer policy targets the consumer itself (same model), or a namespace the
//!   operator listed and the app the consumer published (cross model);
//! - I4 the policies of well-behaved consumers are byte for byte the same with and without
//!   any number of hostile consumers, and no skip of a hostile one is laid on another;
//! - I5 under every other `mesh-backend` (SMI, Consul, Linkerd): every object validates
//!   against its real CRD schema; every object is in the model or a listed cross-model
//!   namespace, and what it opens in the model (TrafficTarget and ServiceIntentions
//!   destination, Server pods) is a consumer itself or the beacon; every
//!   Linkerd authorization targets one of the rendered Servers or HTTPRoutes (never a
//!   Namespace), every route a rendered Server; and the well-behaved consumers' objects in
//!   the model are byte for byte the same with and without the hostile consumers (in a listed
//!   cross-model namespace a hostile consumer may claim the same app: the documented opt-in).
//!
//! The generators think like an attacker: targets naming other apps, the beacon, the
//! modeloperator, the waypoint, `kube-system`; names with spaces, NUL, `?`, `#`, `/`, `%2F`,
//! `..`, unicode, surrogate escapes, JSON escapes that spell a legitimate name; lengths
//! around 63 and 253; wrong JSON types, duplicated keys, deep nesting, odd ports, legacy
//! formats; `cmr_data` lying about the model and app; `remote-<hex>` spelt wrong.
//!
//! Cases: `HOSTILE_CASES` and `GARBAGE_CASES` (or `PROPTEST_CASES`); the seed is random per
//! run unless `PROPTEST_RNG_SEED` is set. Each property prints what it ran and how many
//! policies were admitted and refused.

mod invariants;

use std::cell::RefCell;
use std::collections::BTreeSet;

use beacon_core::desired::{Desired, MAX_POLICIES_LEN, desired};
use beacon_core::names::Names;
use beacon_core::snapshot::{CmrRelation, Config, MeshRelation, MetricsRelation, Snapshot};
use invariants::fuzz_input::BEACONS;
use invariants::{Counts, bodies, check_with, schema};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRunner};
use serde_json::{Value, json};
use service_mesh::traffic::MtlsMode;

const HOSTILE_CASES: u32 = 4_000;
/// Per backend.
const BACKEND_CASES: u32 = 600;
const GARBAGE_CASES: u32 = 3_000;

/// Namespaces a well-behaved cross-model consumer lives in (never a beacon's model).
const CROSS_NAMESPACES: [&str; 3] = ["team", "other-model", "cos"];
const LABEL: &str = "app.kubernetes.io/name";

fn names(model: &str, app: &str) -> Names {
    Names::new(model, app).expect("names")
}

/// JSON text of a string.
fn q(s: &str) -> String {
    serde_json::to_string(s).expect("string")
}

/// The same string with every character as a JSON `\u` escape (a surrogate pair beyond
/// the BMP): it parses to the very name it spells.
fn escaped(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        let mut buf = [0u16; 2];
        for unit in c.encode_utf16(&mut buf) {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
    out.push('"');
    out
}

// ------------------------------------------------------------------------------------------
// The case: a beacon, well-behaved consumers, hostile ones, scrapers and config.

#[derive(Debug, Clone)]
struct Consumer {
    app: String,
    /// The `policies` value (`None`: the key is absent).
    policies: Option<String>,
    /// `Some`: the app also relates on provide-cmr-mesh, with this `cmr_data`.
    cmr: Option<Option<String>>,
}

#[derive(Debug, Clone)]
struct Case {
    beacon: usize,
    config: Config,
    /// metrics-endpoint apps, and the `cmr_data` of those that are cross-model.
    metrics: Vec<(String, Option<String>)>,
    good: Vec<Consumer>,
    hostile: Vec<Consumer>,
    /// Where each hostile relation goes among the good ones.
    slots: Vec<usize>,
    /// Relation ids: good `i` has `ids[i]`, hostile `j` has `ids[good.len() + j]`.
    ids: Vec<u64>,
}

impl Case {
    fn model(&self) -> &'static str {
        BEACONS[self.beacon].0
    }
    fn app(&self) -> &'static str {
        BEACONS[self.beacon].1
    }
    fn good_ids(&self) -> BTreeSet<u64> {
        self.ids[..self.good.len()].iter().copied().collect()
    }
    fn hostile_ids(&self) -> BTreeSet<u64> {
        self.ids[self.good.len()..].iter().copied().collect()
    }

    /// The snapshot with the well-behaved consumers only, or with the hostile ones too.
    fn snapshot(&self, with_hostile: bool) -> Snapshot {
        let mut order: Vec<(u64, &Consumer)> = self
            .good
            .iter()
            .enumerate()
            .map(|(i, c)| (self.ids[i], c))
            .collect();
        if with_hostile {
            for (j, c) in self.hostile.iter().enumerate() {
                let at = self.slots[j] % (order.len() + 1);
                order.insert(at, (self.ids[self.good.len() + j], c));
            }
        }
        let mut cmr = Vec::new();
        let mut service_mesh = Vec::new();
        for (id, c) in order {
            service_mesh.push(MeshRelation {
                id,
                remote_app: c.app.clone(),
                policies: c.policies.clone(),
                traffic: None,
                derived: None,
            });
            if let Some(data) = &c.cmr {
                cmr.push(CmrRelation {
                    id: 1_000 + id,
                    remote_app: c.app.clone(),
                    cmr_data: data.clone(),
                });
            }
        }
        let mut metrics = Vec::new();
        for (k, (app, data)) in self.metrics.iter().enumerate() {
            let id = 2_000 + k as u64;
            metrics.push(MetricsRelation {
                id,
                remote_app: app.clone(),
                bind_address: Some("10.1.2.3".into()),
            });
            if data.is_some() {
                cmr.push(CmrRelation {
                    id: 3_000 + id,
                    remote_app: app.clone(),
                    cmr_data: data.clone(),
                });
            }
        }
        Snapshot {
            model: self.model().into(),
            model_uuid: "7b0e1c9e-0000-4000-8000-000000000001".into(),
            app: self.app().into(),
            unit: format!("{}/0", self.app()),
            leader: true,
            planned_units: 2,
            config: self.config.clone(),
            service_mesh,
            cmr,
            metrics,
            tracing: None,
            databags: Default::default(),
            published: None,
            remembered_stale: false,
        }
    }
}

fn run(snap: &Snapshot) -> Desired {
    desired(snap, &names(&snap.model, &snap.app))
}

/// The CRD schema, verbatim and strict, compiled by the `jsonschema` crate.
fn jsonschemas() -> &'static [jsonschema::Validator; 2] {
    static V: std::sync::OnceLock<[jsonschema::Validator; 2]> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let s = invariants::schemas();
        [&s.verbatim, &s.strict].map(|schema| {
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft4)
                .build(schema)
                .expect("schema compiles")
        })
    })
}

/// The dependency-free validator of `invariants/schema.rs` (what the fuzz target uses) and
/// the `jsonschema` crate agree on `body`, for the verbatim and the strict schema.
fn validators_agree(body: &Value) {
    let s = invariants::schemas();
    for (schema, crate_validator) in [&s.verbatim, &s.strict].into_iter().zip(jsonschemas()) {
        let ours = schema::validate(schema, body);
        let theirs = crate_validator.validate(body).map_err(|e| e.to_string());
        assert_eq!(
            ours.is_ok(),
            theirs.is_ok(),
            "validators disagree on {body}: ours {ours:?}, jsonschema {theirs:?}"
        );
    }
}

/// I2 and I3 ([`invariants::check`]), each body also validated by the `jsonschema` crate.
fn check(snap: &Snapshot, d: &Desired) -> Counts {
    check_with(snap, d, &validators_agree)
}

// ------------------------------------------------------------------------------------------
// Well-behaved consumers: what the real library sends for its own app.

/// A Kubernetes name a consumer may legitimately use (source app or namespace).
fn dns_name() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec!["myapp", "prometheus", "cos", "prod", "grafana", "a"]).prop_map(String::from),
        "[a-z]([a-z0-9-]{0,61}[a-z0-9])?",
    ]
}

fn good_port() -> impl Strategy<Value = Value> {
    prop_oneof![
        (1u16..=65535).prop_map(|p| json!(p)),
        (1u16..=65535).prop_map(|p| json!(p.to_string())),
    ]
}

fn good_endpoint(l7: bool) -> impl Strategy<Value = Value> {
    let ports = prop::option::of(prop::collection::vec(good_port(), 0..3));
    let methods = prop::option::of(prop::collection::vec(
        select(vec!["GET", "POST", "PUT", "DELETE", "HEAD"]),
        0..3,
    ));
    let paths = prop::option::of(prop::collection::vec("/[a-z0-9/]{0,20}", 0..3));
    let hosts = prop::option::of(prop::collection::vec("[a-z]{1,10}\\.example\\.com", 0..2));
    (ports, methods, paths, hosts).prop_map(move |(ports, methods, paths, hosts)| {
        if l7 {
            json!({"hosts": hosts, "ports": ports, "methods": methods, "paths": paths})
        } else {
            json!({"hosts": null, "ports": ports, "methods": null, "paths": null})
        }
    })
}

/// One policy on `owner`'s own workloads in `namespace`. `named`: the app may be named with
/// `target_app_name` (a cross-model consumer without `cmr_data` must).
fn good_policy(owner: String, namespace: String, named_only: bool) -> BoxedStrategy<Value> {
    let extra_labels = prop::collection::vec(
        ("[a-z]{1,8}(\\.[a-z]{2,5}/)?[a-z]{1,8}", "[a-zA-Z0-9]{0,10}"),
        0..2,
    );
    (
        dns_name(),
        dns_name(),
        0u8..5,
        prop::collection::vec(good_endpoint(true), 0..3),
        prop::collection::vec(good_endpoint(false), 0..3),
        extra_labels,
        any::<bool>(),
    )
        .prop_map(
            move |(src_ns, src_app, shape, app_eps, unit_eps, extra, legacy)| {
                let shape = if named_only { shape % 2 * 3 } else { shape };
                let mut p = match shape {
                    // app, by target_app_name (what the library sends)
                    0 => json!({"target_app_name": owner, "target_selector_labels": null,
                        "target_service": null, "target_type": "app", "endpoints": app_eps}),
                    // app, by its Service
                    1 => json!({"target_app_name": null, "target_service": owner,
                        "target_type": "app", "endpoints": app_eps}),
                    // app, both spelt out
                    2 => json!({"target_app_name": owner, "target_service": owner,
                        "target_type": "app", "endpoints": app_eps}),
                    // unit, by app name
                    3 => json!({"target_app_name": owner, "target_selector_labels": {},
                        "target_service": "", "target_type": "unit", "endpoints": unit_eps}),
                    // unit, by a selector pinning its pods
                    _ => {
                        let mut labels = serde_json::Map::new();
                        for (k, v) in extra {
                            labels.insert(k, json!(v));
                        }
                        labels.insert(LABEL.into(), json!(owner));
                        json!({"target_app_name": null, "target_selector_labels": labels,
                            "target_type": "unit", "endpoints": unit_eps})
                    }
                };
                let m = p.as_object_mut().expect("object");
                m.insert("source_namespace".into(), json!(src_ns));
                m.insert("source_app_name".into(), json!(src_app));
                m.insert("target_namespace".into(), json!(namespace));
                // Legacy databags have no target_type (an app policy).
                if legacy && m.get("target_type") == Some(&json!("app")) {
                    m.remove("target_type");
                }
                p
            },
        )
        .boxed()
}

/// A well-behaved consumer: same-model app `name`, or a cross-model one.
fn good_consumer(model: &'static str, name: String) -> BoxedStrategy<Consumer> {
    let same = prop::collection::vec(good_policy(name.clone(), model.into(), false), 0..4)
        .prop_map(move |ps| Consumer {
            app: name.clone(),
            policies: Some(Value::Array(ps).to_string()),
            cmr: None,
        });
    let cross = (
        "[0-9a-f]{32}",
        select(CROSS_NAMESPACES.to_vec()),
        dns_name(),
        any::<bool>(),
    )
        .prop_flat_map(|(hex, ns, cmr_app, with_cmr)| {
            let policies =
                prop::collection::vec(good_policy(cmr_app.clone(), ns.into(), !with_cmr), 0..3);
            (Just((hex, ns, cmr_app, with_cmr)), policies)
        })
        .prop_map(|((hex, ns, cmr_app, with_cmr), ps)| Consumer {
            app: format!("remote-{hex}"),
            policies: Some(Value::Array(ps).to_string()),
            cmr: with_cmr
                .then(|| Some(json!({"app_name": cmr_app, "juju_model_name": ns}).to_string())),
        });
    prop_oneof![4 => same, 1 => cross].boxed()
}

// ------------------------------------------------------------------------------------------
// Hostile consumers.

/// What a hostile consumer aims at: every name it might want to open.
#[derive(Debug, Clone)]
struct Aims {
    me: String,
    model: String,
    names: Vec<String>,
}

impl Aims {
    fn new(case_model: &str, case_app: &str, me: &str, others: &[String]) -> Aims {
        let n = names(case_model, case_app);
        let mut names: Vec<String> = others.to_vec();
        names.extend(
            [
                case_app,
                case_model,
                n.waypoint.as_str(),
                "modeloperator",
                "kube-system",
                "istio-system",
                "default",
                "team",
                "cos",
            ]
            .map(String::from),
        );
        Aims {
            me: me.to_owned(),
            model: case_model.to_owned(),
            names,
        }
    }
}

/// Strings no Kubernetes name may be.
fn weird_name() -> BoxedStrategy<String> {
    let fixed = vec![
        "",
        " ",
        "my db",
        " mydb",
        "mydb ",
        "a\u{0}b",
        "\u{0}",
        "?",
        "a?b",
        "a#b",
        "#",
        "a/b",
        "/",
        "%2F",
        "a%2Fb",
        "..",
        ".",
        "../kube-system",
        "MyDB",
        "ÿ",
        "é",
        "😀",
        "a\u{7f}",
        "\t",
        "a\nb",
        "-a",
        "a-",
        "a.b",
        "a_b",
        "*",
        "a*",
        "\u{202e}drow",
        "ａ",
        "\u{ad}",
    ];
    prop_oneof![
        select(fixed).prop_map(String::from),
        "[a-z0-9.-]{0,70}",
        "\\PC{0,12}",
        any::<String>(),
        select(vec![62usize, 63, 64, 253, 254, 300, 5_000]).prop_map(|n| "a".repeat(n)),
        select(vec![62usize, 63, 64]).prop_map(|n| format!("{}-x", "b".repeat(n))),
    ]
    .boxed()
}

/// A name-valued field as JSON text: mostly a name it aims at, often its own (so that some
/// hostile policies are admitted), spelt oddly, or not a string at all.
fn name_text(aims: &Aims) -> BoxedStrategy<String> {
    let me = aims.me.clone();
    let me2 = aims.me.clone();
    let me3 = aims.me.clone();
    prop_oneof![
        6 => Just(q(&aims.me)),
        6 => select(aims.names.clone()).prop_map(|n| q(&n)),
        3 => weird_name().prop_map(|n| q(&n)),
        1 => Just(escaped(&me)),
        1 => select(vec!["", " ", "\u{0}", "/", "/..", ".", "-", "%2F", "A", ".svc", "\u{301}"])
            .prop_map(move |s| q(&format!("{me2}{s}"))),
        1 => Just(q(&me3.to_uppercase())),
        2 => select(vec![
            "null", "1", "-1", "true", "[]", "{}", "[\"x\"]", "1e400", "NaN", "0.5",
            r#""\ud83d\ude00""#, r#""\ud800""#, r#""\udc00\ud800""#, r#""\u0000""#,
            r#""a\/b""#, r#""\u0061""#,
        ])
        .prop_map(String::from),
    ]
    .boxed()
}

/// `{k: v, ...}` from entries, duplicates kept.
fn object(entries: &[(String, String)]) -> String {
    let inner: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", inner.join(", "))
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.join(", "))
}

fn selector_text(aims: &Aims) -> BoxedStrategy<String> {
    let key = prop_oneof![
        6 => Just(LABEL.to_owned()),
        1 => select(vec![
            "juju-modeloperator", "app", "*", "", "a/b/c", "istio.io/gateway-name",
            "gateway.networking.k8s.io/gateway-name", "app.kubernetes.io/name ",
            "APP.KUBERNETES.IO/NAME", "app.kubernetes.io/*", "-a", "a.b/", "/a",
        ])
        .prop_map(String::from),
        1 => "[a-zA-Z0-9./_-]{0,70}",
        1 => weird_name(),
    ];
    let value = prop_oneof![
        4 => name_text(aims),
        1 => select(vec!["modeloperator", "*", "", "ambient", "x.y_z"]).prop_map(q),
    ];
    let entries = prop::collection::vec((key.prop_map(|k| q(&k)), value), 0..4);
    prop_oneof![
        8 => entries.prop_map(|e| object(&e)),
        1 => select(vec!["null", "[]", "\"x\"", "{}", "1", r#"{"a": null}"#, r#"{"a": 1}"#])
            .prop_map(String::from),
    ]
    .boxed()
}

fn port_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (0u32..70_000).prop_map(|p| p.to_string()),
        1 => any::<i64>().prop_map(|p| p.to_string()),
        2 => select(vec![
            "-1", "0", "65535", "65536", "4294967296", "99999999999999999999999999",
            "1e400", "-1e400", "NaN", "Infinity", "\"80\"", "\" 80 \"", "\"1_000\"", "80.0",
            "80.5", "true", "false", "null", "\"0x50\"", "-0.0", "\"\"", "\"-80\"",
            "\"+0080\"", "[80]", "{\"port\": 80}", "1e2", "\"80.00\"", "\"\u{0660}\"",
        ])
        .prop_map(String::from),
        1 => (300usize..5_000).prop_map(|n| "9".repeat(n)),
    ]
    .boxed()
}

fn strings_text() -> BoxedStrategy<String> {
    let item = prop_oneof![
        3 => select(vec!["/api", "/", "*", "", "/a b", "/%2F..", "x.example.com", "GET"])
            .prop_map(q),
        1 => weird_name().prop_map(|s| q(&s)),
        1 => select(vec!["null", "1", "[]"]).prop_map(String::from),
    ];
    prop_oneof![
        4 => prop::collection::vec(item, 0..4).prop_map(|v| list(&v)),
        1 => select(vec!["null", "\"x\"", "{}", "1"]).prop_map(String::from),
    ]
    .boxed()
}

fn endpoints_text() -> BoxedStrategy<String> {
    let methods_item = select(vec![
        "\"GET\"", "\"POST\"", "\"get\"", "\"FOO\"", "\"\"", "1", "null", "\"GET \"",
    ])
    .prop_map(String::from);
    let methods = prop_oneof![
        4 => prop::collection::vec(methods_item, 0..3).prop_map(|v| list(&v)),
        1 => select(vec!["null", "\"GET\"", "{}"]).prop_map(String::from),
    ];
    let ports = prop_oneof![
        6 => prop::collection::vec(port_text(), 0..4).prop_map(|v| list(&v)),
        1 => select(vec!["null", "80", "\"80\"", "{}"]).prop_map(String::from),
    ];
    let endpoint = (
        prop::option::of(ports),
        prop::option::of(strings_text()),
        prop::option::of(methods),
        prop::option::of(strings_text()),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(ports, hosts, methods, paths, bogus)| {
            let mut e = Vec::new();
            for (k, v) in [
                ("ports", ports),
                ("hosts", hosts),
                ("methods", methods),
                ("paths", paths),
            ] {
                if let Some(v) = v {
                    e.push((q(k), v));
                }
            }
            if bogus {
                e.push((q("notPorts"), "[\"1\"]".into()));
            }
            object(&e)
        });
    let endpoint = prop_oneof![
        8 => endpoint,
        1 => select(vec!["null", "1", "[]", "\"x\""]).prop_map(String::from),
    ];
    prop_oneof![
        6 => prop::collection::vec(endpoint, 0..4).prop_map(|v| list(&v)),
        1 => select(vec!["null", "{}", "\"x\"", "[[]]"]).prop_map(String::from),
    ]
    .boxed()
}

/// One hostile `policies` element: a policy object with attacker's field values, keys in
/// any order, some missing, some duplicated (the last one counts, as in Python).
fn hostile_policy(aims: &Aims) -> BoxedStrategy<String> {
    let name = name_text(aims);
    let target_type = select(vec![
        "\"app\"", "\"unit\"", "\"unit\"", "\"APP\"", "\"Unit\"", "1", "null", "\"\"",
    ])
    .prop_map(String::from);
    let fields = (
        prop::option::weighted(0.97, name.clone()),
        prop::option::weighted(0.97, name.clone()),
        prop::option::weighted(0.97, name.clone()),
        prop::option::weighted(0.8, name.clone()),
        prop::option::weighted(0.5, selector_text(aims)),
        prop::option::weighted(0.5, name.clone()),
        prop::option::weighted(0.8, target_type),
        prop::option::weighted(0.9, endpoints_text()),
    );
    let keys = [
        "source_namespace",
        "source_app_name",
        "target_namespace",
        "target_app_name",
        "target_selector_labels",
        "target_service",
        "target_type",
        "endpoints",
    ];
    let dup_key = select(keys[3..].to_vec());
    let dups = prop::collection::vec((dup_key, name), 0..2);
    (fields, dups, any::<bool>(), any::<u64>())
        .prop_map(move |(f, dups, reorder, seed)| {
            let values = [f.0, f.1, f.2, f.3, f.4, f.5, f.6, f.7];
            let mut entries: Vec<(String, String)> = keys
                .iter()
                .zip(values)
                .filter_map(|(k, v)| Some((q(k), v?)))
                .collect();
            for (k, v) in dups {
                entries.push((q(k), v));
            }
            if reorder {
                // A cheap deterministic shuffle (the seed is generated, so it shrinks).
                let n = entries.len();
                for i in (1..n).rev() {
                    let j = (seed.wrapping_mul(i as u64 + 7) >> 7) as usize % (i + 1);
                    entries.swap(i, j);
                }
            }
            object(&entries)
        })
        .boxed()
}

/// A hostile `policies` value.
fn hostile_policies(aims: &Aims) -> BoxedStrategy<Option<String>> {
    let me = aims.me.clone();
    let element = prop_oneof![
        6 => hostile_policy(aims),
        // A valid policy on itself: hostile consumers get some admitted too.
        2 => good_policy(me, aims.model.clone(), false).prop_map(|v| v.to_string()),
        1 => select(vec!["1", "null", "\"x\"", "[]", "{}", "true", "[{}]"]).prop_map(String::from),
    ];
    let elements = prop::collection::vec(element, 0..5);
    let listed = elements.clone().prop_map(|e| list(&e));
    let truncated = (elements, any::<prop::sample::Index>()).prop_map(|(e, at)| {
        let text = list(&e);
        let cut = at.index(text.len() + 1);
        let mut cut = cut.min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text[..cut].to_owned()
    });
    let deep = select(vec![10usize, 499, 500, 501, 5_000, 100_000]).prop_flat_map(|depth| {
        select(vec![
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
            "[".repeat(depth),
            format!(
                r#"[{{"source_namespace": {}"prod"{}}}]"#,
                "[".repeat(depth),
                "]".repeat(depth)
            ),
            format!("[{}1{}]", "{\"a\": ".repeat(depth), "}".repeat(depth)),
        ])
    });
    let junk = prop_oneof![
        select(vec![
            "",
            " ",
            "null",
            "{}",
            "\"[]\"",
            "1",
            "true",
            "[",
            "]",
            "[1,]",
            "[,]",
            "\u{feff}[]",
            "[] []",
            "NaN",
            "[NaN]",
            "[\"\\ud800\"]",
            "[\"\\x\"]",
            "[\"\u{0}\"]",
            "[\"\\u00\"]",
            "[1e99999]",
            "[-]",
            "[01]",
            "[1.]",
            "[.5]",
        ])
        .prop_map(String::from),
        any::<String>(),
        "\\PC{0,200}",
    ];
    let value = prop_oneof![
        12 => listed,
        2 => truncated,
        1 => deep,
        3 => junk,
        1 => select(vec![" ", "\n", "\t", "\r"]).prop_flat_map(move |ws| {
            Just(format!("{ws}[{}]{ws}", json!({"source_namespace": "prod"})))
        }),
    ];
    prop::option::weighted(0.95, value).boxed()
}

/// A hostile `cmr_data`: lying about its model and app, or not data at all.
fn hostile_cmr(aims: &Aims) -> BoxedStrategy<Option<Option<String>>> {
    let name = name_text(aims);
    let object = (
        prop::option::weighted(0.9, name.clone()),
        prop::option::weighted(0.9, name.clone()),
        prop::option::of(name),
        any::<bool>(),
    )
        .prop_map(|(app, model, dup, extra)| {
            let mut e = Vec::new();
            if let Some(v) = app {
                e.push((q("app_name"), v));
            }
            if let Some(v) = model {
                e.push((q("juju_model_name"), v));
            }
            if let Some(v) = dup {
                e.push((q("app_name"), v));
            }
            if extra {
                e.push((q("juju_model_uuid"), q("x")));
            }
            object(&e)
        });
    let data = prop_oneof![
        6 => object,
        1 => select(vec!["", "null", "[]", "\"x\"", "{", "{\"app_name\": 1}"]).prop_map(String::from),
        1 => any::<String>(),
    ];
    prop::option::weighted(0.5, prop::option::weighted(0.9, data)).boxed()
}

/// Hostile app names: same-model apps, real and misspelt `remote-<hex>`, and names no Juju
/// app has (for I1–I3; I4 keeps them distinct from everyone else's).
fn hostile_app() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "evil[0-9]{0,2}",
        3 => "remote-[0-9a-f]{32}",
        1 => "remote-[0-9a-f]{31}",
        1 => "remote-[0-9a-f]{33}",
        1 => "remote-[0-9A-F]{32}",
        1 => "remote-[g-z]{32}",
        1 => "remote-[0-9a-f]{32}[a-z]",
        1 => select(vec!["remote-", "remote", "Remote-0123456789abcdef0123456789abcdef",
            "remote_0123456789abcdef0123456789abcdef", "remote-0123456789abcdef0123456789abcdef/0"])
            .prop_map(String::from),
        1 => weird_name(),
    ]
    .boxed()
}

fn hostile_consumer(aims: Aims) -> BoxedStrategy<Consumer> {
    let app = aims.me.clone();
    (hostile_policies(&aims), hostile_cmr(&aims))
        .prop_map(move |(policies, cmr)| Consumer {
            app: app.clone(),
            policies,
            cmr,
        })
        .boxed()
}

fn config(model: &'static str, good: &[Consumer]) -> BoxedStrategy<Config> {
    // Namespaces of the well-behaved cross-model consumers are always listed.
    let needed: BTreeSet<String> = good
        .iter()
        .filter(|c| c.app.starts_with("remote-"))
        .flat_map(|c| {
            let v: Value = serde_json::from_str(c.policies.as_deref().unwrap_or("[]"))
                .expect("generated JSON");
            v.as_array()
                .expect("a list")
                .iter()
                .map(|p| {
                    p["target_namespace"]
                        .as_str()
                        .expect("a namespace")
                        .to_owned()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let extra = prop::collection::vec(
        select(vec![
            model,
            "kube-system",
            "istio-system",
            "team",
            "cos",
            "Bad NS",
            "",
            " team",
            "*",
        ]),
        0..3,
    );
    (prop::bool::weighted(0.9), any::<bool>(), extra)
        .prop_map(move |(manage, on_mesh, extra)| {
            let mut namespaces: Vec<String> = needed.iter().cloned().collect();
            namespaces.extend(extra.into_iter().map(String::from));
            Config {
                manage_authorization_policies: manage,
                model_on_mesh: on_mesh,
                cross_model_namespaces: namespaces,
                mtls_mode: None,
                ..Config::default()
            }
        })
        .boxed()
}

fn case() -> impl Strategy<Value = Case> {
    let good_names = prop::collection::btree_set("[a-d][a-z0-9]{0,8}", 0..4);
    let metrics = prop::collection::vec(
        prop_oneof![
            select(vec!["prometheus", "otel-collector"]).prop_map(|a| (a.to_owned(), None)),
            ("[0-9a-f]{32}", dns_name(), dns_name()).prop_map(|(hex, app, model)| {
                let data = json!({"app_name": app, "juju_model_name": model}).to_string();
                (format!("remote-{hex}"), Some(data))
            }),
        ],
        0..2,
    );
    let hostile_apps = prop::collection::vec(hostile_app(), 0..6);
    (0..BEACONS.len(), good_names, metrics, hostile_apps)
        .prop_flat_map(|(beacon, good_names, metrics, hostile_apps)| {
            let model = BEACONS[beacon].0;
            let good: Vec<_> = good_names
                .into_iter()
                .map(|n| good_consumer(model, n))
                .collect();
            (Just((beacon, metrics, hostile_apps)), good)
        })
        .prop_flat_map(|((beacon, metrics, hostile_apps), good)| {
            let (model, app) = BEACONS[beacon];
            let taken: BTreeSet<&str> = good
                .iter()
                .map(|c| c.app.as_str())
                .chain(metrics.iter().map(|(a, _)| a.as_str()))
                .chain([app])
                .collect();
            let mut others: Vec<String> = taken.iter().map(|s| (*s).to_owned()).collect();
            for c in &good {
                if let Some(Some(data)) = &c.cmr {
                    let v: Value = serde_json::from_str(data).expect("generated JSON");
                    others.push(v["app_name"].as_str().expect("an app").to_owned());
                }
            }
            let hostile_apps: Vec<String> = hostile_apps
                .into_iter()
                .filter(|h| !taken.contains(h.as_str()))
                .collect();
            let hostile: Vec<_> = hostile_apps
                .iter()
                .map(|h| hostile_consumer(Aims::new(model, app, h, &others)))
                .collect();
            let n = good.len() + hostile.len();
            let slots = prop::collection::vec(0usize..8, hostile.len());
            let ids = Just((0..n as u64).map(|i| i * 3 + 1).collect::<Vec<_>>()).prop_shuffle();
            let config = config(model, &good);
            (Just((beacon, metrics, good)), hostile, slots, ids, config)
        })
        .prop_map(
            |((beacon, metrics, good), hostile, slots, ids, config)| Case {
                beacon,
                config,
                metrics,
                good,
                hostile,
                slots,
                ids,
            },
        )
}

// ------------------------------------------------------------------------------------------
// The properties.

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn text(v: &Value) -> String {
    serde_json::to_string(v).expect("json")
}

/// I4: `b` is `a` plus hostile consumers.
fn check_isolation(case: &Case, a: &Desired, b: &Desired) {
    let good = case.good_ids();
    let hostile = case.hostile_ids();
    let (bodies_a, bodies_b) = (bodies(a), bodies(b));
    for (key, body) in &bodies_a {
        let Some(other) = bodies_b.get(key) else {
            panic!("I4: {key} is gone with hostile consumers around");
        };
        assert_eq!(text(body), text(other), "I4: {key} changed");
    }
    for intent in &b.policies {
        let key = format!("{}/{}", intent.namespace, intent.name);
        if bodies_a.contains_key(&key) {
            // Same object: its origin is the same consumer, or a hostile one that asked for
            // the identical policy first (one object for both).
            let origin_a = a.policies.iter().find(|i| i.key() == intent.key());
            let same = origin_a.map(|i| &i.origin) == Some(&intent.origin);
            let by_hostile = intent
                .origin
                .as_ref()
                .is_some_and(|o| hostile.contains(&o.relation_id));
            assert!(same || by_hostile, "I4: {key} changed origin");
        } else {
            let o = intent.origin.as_ref();
            assert!(
                o.is_some_and(|o| hostile.contains(&o.relation_id)),
                "I4: {key} appears with hostile consumers but is not theirs: {o:?}"
            );
        }
    }
    // Skips: the well-behaved consumers' are the same; the rest are the hostile ones'.
    let good_skips: Vec<_> = b
        .skipped
        .iter()
        .filter(|s| !hostile.contains(&s.relation_id))
        .collect();
    assert_eq!(
        good_skips,
        a.skipped.iter().collect::<Vec<_>>(),
        "I4: skips"
    );
    for s in &b.skipped {
        assert!(
            good.contains(&s.relation_id) || hostile.contains(&s.relation_id),
            "I4: skip of an unknown relation: {s}"
        );
    }
    for w in &a.warnings {
        assert!(b.warnings.contains(w), "I4: warning lost: {w}");
    }
    // Nothing else the beacon does changes.
    assert_eq!(a.waypoint, b.waypoint, "I4: waypoint");
    assert_eq!(a.modeloperator, b.modeloperator, "I4: modeloperator policy");
    assert_eq!(a.namespace, b.namespace, "I4: namespace");
    assert_eq!(a.charm_labels, b.charm_labels, "I4: charm labels");
    assert_eq!(a.pebble, b.pebble, "I4: pebble");
    assert_eq!(a.telemetry_databags, b.telemetry_databags, "I4: telemetry");
    let good_bags: Vec<_> = b
        .provider_databags
        .iter()
        .filter(|w| good.contains(&w.relation_id))
        .collect();
    assert_eq!(
        good_bags,
        a.provider_databags.iter().collect::<Vec<_>>(),
        "I4: provider databags"
    );
}

/// The next hook, with what this one derived remembered: the same policies and skips.
fn check_memo(snap: &Snapshot, d: &Desired) {
    let Some(memo) = &d.consumer_memo else {
        return;
    };
    let mut next = snap.clone();
    // Only consumer policies are remembered; without scrapers the run skips the alert rules.
    next.metrics.clear();
    for rel in &mut next.service_mesh {
        rel.derived = memo.relations.get(&rel.id).and_then(|e| e.derived.clone());
    }
    let again = run(&next);
    let texts = |d: &Desired| -> Vec<(String, String)> {
        d.policies
            .iter()
            .filter(|i| i.origin.is_some())
            .map(|i| {
                (
                    i.name.clone(),
                    text(&i.body(&d.owner_instance).unwrap_or_default()),
                )
            })
            .collect()
    };
    assert_eq!(
        texts(d),
        texts(&again),
        "the remembered path builds other bodies"
    );
    assert_eq!(
        d.skipped, again.skipped,
        "the remembered path skips otherwise"
    );
}

#[derive(Default)]
struct Tally {
    cases: u64,
    hostile_consumers: u64,
    good_admitted: u64,
    hostile_admitted: u64,
    refused: u64,
    own: u64,
}

#[test]
fn hostile_consumers_neither_widen_access_nor_stop_the_beacon() {
    let tally = RefCell::new(Tally::default());
    let config = RunnerConfig {
        cases: cases(HOSTILE_CASES),
        failure_persistence: None,
        // ChaCha took a fifth of the time; these cases need no cryptographic randomness.
        rng_algorithm: RngAlgorithm::XorShift,
        ..RunnerConfig::default()
    };
    let mut runner = TestRunner::new(config.clone());
    let result = runner.run(&case(), |case| {
        let without = case.snapshot(false);
        let with = case.snapshot(true);
        let a = run(&without); // I1: no panic
        let b = run(&with);
        let counts_a: Counts = check(&without, &a); // I2, I3
        let counts_b: Counts = check(&with, &b);
        if case.config.manage_authorization_policies {
            // The well-behaved consumers ask only for what they may have.
            assert!(
                a.skipped.is_empty(),
                "a well-behaved policy was refused: {:?}",
                a.skipped
            );
            assert!(a.warnings.is_empty(), "{:?}", a.warnings);
        }
        check_isolation(&case, &a, &b); // I4
        check_memo(&with, &b);
        let mut t = tally.borrow_mut();
        t.cases += 1;
        t.hostile_consumers += case.hostile.len() as u64;
        t.good_admitted += counts_a.admitted as u64;
        t.hostile_admitted += (counts_b.admitted - counts_a.admitted) as u64;
        t.refused += counts_b.refused as u64;
        t.own += counts_b.own as u64;
        Ok(())
    });
    let t = tally.into_inner();
    eprintln!(
        "hostile: {} cases ({} hostile consumers); policies admitted: {} well-behaved, {} hostile \
         (on themselves); refused: {}; beacon's own: {}",
        t.cases, t.hostile_consumers, t.good_admitted, t.hostile_admitted, t.refused, t.own
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(t.cases >= u64::from(config.cases.min(100)));
    // The generators reach both sides: a property that admits or refuses nothing is vacuous.
    assert!(t.hostile_admitted > 0 && t.refused > 0 && t.good_admitted > 0);
}

/// Inputs with no structure at all: any strings for the remote apps, `policies`,
/// `cmr_data` and the config's namespaces.
#[derive(Debug, Clone)]
struct Garbage {
    beacon: usize,
    manage: bool,
    on_mesh: bool,
    namespaces: Vec<String>,
    consumers: Vec<(String, Option<String>, Option<Option<String>>)>,
    metrics: Vec<String>,
    /// The consumers' `traffic` values (another key of their databag) and `mtls-mode`.
    traffic: Vec<Option<String>>,
    mtls: u8,
}

/// A `traffic` value: mostly the shape of a traffic intent, with odd values.
fn traffic_text() -> BoxedStrategy<String> {
    let value = prop_oneof![
        select(vec![
            "1",
            "0",
            "-1",
            "65536",
            "2147483648",
            "1e400",
            "null",
            "true",
            "\"\"",
            "\"10s\"",
            "\"0s\"",
            "\"8761h\"",
            "\"1m30s\"",
            "\"STRICT\"",
            "\"LEAST_REQUEST\"",
            "[]",
            "{}",
            "{\"simple\": \"RANDOM\"}",
            "{\"http_cookie\": {\"name\": \"a b\"}}",
            "[{\"port\": 8080}]",
            "[{\"port\": 0}]",
            "{\"mode\": \"MUTUAL\"}",
            "{\"tcp\": {\"max_connections\": 0}}",
            "\"a.b\"",
            "\"\\ud800\"",
        ])
        .prop_map(String::from),
        weird_name().prop_map(|s| q(&s)),
    ];
    let key = select(vec![
        "version",
        "service",
        "load_balancer",
        "connection_pool",
        "outlier_detection",
        "tls",
        "ports",
        "mtls",
        "bogus",
    ]);
    prop_oneof![
        4 => prop::collection::vec((key, value), 0..5).prop_map(|entries| {
            let entries: Vec<(String, String)> =
                entries.into_iter().map(|(k, v)| (q(k), v)).collect();
            object(&entries)
        }),
        1 => any::<String>(),
    ]
    .boxed()
}

fn garbage() -> impl Strategy<Value = Garbage> {
    let s = prop_oneof![
        any::<String>(),
        weird_name(),
        "remote-[0-9a-f]{32}",
        "[a-z]{1,5}"
    ];
    let policies = prop_oneof![
        any::<String>(),
        "\\[\\{(\"[a-z_]{0,25}\": (\"[a-z-]{0,10}\"|null|\\[\\]|\\{\\}|[0-9]{1,3}), ){0,9}\\}\\]",
        "[\\[\\]{}\",:0-9a-z _-]{0,80}",
    ];
    let cmr = prop_oneof![
        any::<String>(),
        "\\{(\"(app_name|juju_model_name)\": \"[a-z-]{0,10}\"(, )?){0,3}\\}",
    ];
    (
        0..BEACONS.len(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(s.clone(), 0..3),
        prop::collection::vec(
            (
                s.clone(),
                prop::option::of(policies),
                prop::option::of(prop::option::of(cmr)),
            ),
            0..5,
        ),
        prop::collection::vec(s, 0..2),
        prop::collection::vec(prop::option::of(traffic_text()), 5),
        0u8..5,
    )
        .prop_map(
            |(beacon, manage, on_mesh, namespaces, consumers, metrics, traffic, mtls)| Garbage {
                beacon,
                manage,
                on_mesh,
                namespaces,
                consumers,
                metrics,
                traffic,
                mtls,
            },
        )
}

#[test]
fn no_input_panics_or_emits_an_invalid_policy() {
    let tally = RefCell::new((0u64, Counts::default()));
    let mut runner = TestRunner::new(RunnerConfig {
        cases: cases(GARBAGE_CASES),
        failure_persistence: None,
        // ChaCha took a fifth of the time; these cases need no cryptographic randomness.
        rng_algorithm: RngAlgorithm::XorShift,
        ..RunnerConfig::default()
    });
    let result = runner.run(&garbage(), |g| {
        let (model, app) = BEACONS[g.beacon];
        let case = Case {
            beacon: g.beacon,
            config: Config {
                manage_authorization_policies: g.manage,
                model_on_mesh: g.on_mesh,
                cross_model_namespaces: g.namespaces.clone(),
                mtls_mode: None,
                ..Config::default()
            },
            metrics: g.metrics.iter().map(|m| (m.clone(), None)).collect(),
            good: g
                .consumers
                .iter()
                .map(|(app, policies, cmr)| Consumer {
                    app: app.clone(),
                    policies: policies.clone(),
                    cmr: cmr.clone(),
                })
                .collect(),
            hostile: vec![],
            slots: vec![],
            ids: (0..g.consumers.len() as u64).collect(),
        };
        let _ = (model, app);
        let mut snap = case.snapshot(false);
        for (rel, traffic) in snap.service_mesh.iter_mut().zip(&g.traffic) {
            rel.traffic = traffic.clone();
        }
        snap.config.mtls_mode = [
            MtlsMode::Unset,
            MtlsMode::Disable,
            MtlsMode::Permissive,
            MtlsMode::Strict,
        ]
        .get(usize::from(g.mtls))
        .copied();
        let d = run(&snap);
        let counts = check(&snap, &d);
        let mut t = tally.borrow_mut();
        t.0 += 1;
        t.1.admitted += counts.admitted;
        t.1.refused += counts.refused;
        Ok(())
    });
    let (n, counts) = tally.into_inner();
    eprintln!(
        "garbage: {n} cases; policies admitted: {}, refused: {}",
        counts.admitted, counts.refused
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

// ------------------------------------------------------------------------------------------
// Fixed cases: the limits, and the checkers themselves.

/// One policy of `mydb` on itself, as JSON text.
fn mydb_policy(source: &str) -> String {
    json!({"source_namespace": "prod", "source_app_name": source, "target_namespace": "prod",
        "target_app_name": "mydb", "target_type": "app", "endpoints": [{"ports": [8080]}]})
    .to_string()
}

fn one_consumer(app: &str, policies: String) -> Snapshot {
    Case {
        beacon: 0,
        config: Config::default(),
        metrics: vec![],
        good: vec![Consumer {
            app: app.into(),
            policies: Some(policies),
            cmr: None,
        }],
        hostile: vec![],
        slots: vec![],
        ids: vec![3],
    }
    .snapshot(false)
}

#[test]
fn a_megabyte_of_policies_is_served_and_one_byte_more_is_refused() {
    let element = mydb_policy("myapp");
    // Just under the limit: all the same policy, so one object; the value is used.
    let n = (MAX_POLICIES_LEN - 2) / (element.len() + 2);
    let under = format!("[{}]", vec![element.as_str(); n].join(", "));
    assert!(under.len() <= MAX_POLICIES_LEN);
    let snap = one_consumer("mydb", under);
    let d = run(&snap);
    assert_eq!(check(&snap, &d).admitted, 1);
    assert!(d.skipped.is_empty());
    // One byte over: refused as a whole, attributed to that relation only.
    let over = format!(
        "{}{}",
        " ".repeat(MAX_POLICIES_LEN + 1 - element.len() - 2),
        list(&[element])
    );
    assert_eq!(over.len(), MAX_POLICIES_LEN + 1);
    let snap = one_consumer("mydb", over);
    let d = run(&snap);
    assert!(d.policies.is_empty());
    assert_eq!(d.skipped.len(), 1);
    assert_eq!((d.skipped[0].relation_id, d.skipped[0].index), (3, None));
}

#[test]
fn a_json_escape_spelling_the_consumer_is_the_consumer() {
    // `"\u006d\u0079\u0064\u0062"` is "mydb": the check reads values, not spellings.
    let p = mydb_policy("myapp").replace(
        "\"target_app_name\":\"mydb\"",
        &format!("\"target_app_name\":{}", escaped("mydb")),
    );
    assert!(p.contains("\\u006d"));
    let snap = one_consumer("mydb", list(&[p]));
    let d = run(&snap);
    assert_eq!(check(&snap, &d).admitted, 1);
}

#[test]
fn a_duplicated_key_counts_its_last_value() {
    // Python keeps the last value of a duplicated key: the target is "other", refused.
    let p = mydb_policy("myapp").replace(
        "\"target_app_name\":\"mydb\"",
        "\"target_app_name\":\"mydb\",\"target_app_name\":\"other\"",
    );
    let snap = one_consumer("mydb", list(&[p]));
    let d = run(&snap);
    check(&snap, &d);
    assert!(d.policies.is_empty(), "{:?}", d.policies);
    assert_eq!(d.skipped.len(), 1);
}

/// Whether `f` panics (the checkers report a violation by panicking).
fn violates(f: impl FnOnce()) -> bool {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
}

#[test]
fn the_checkers_catch_what_they_are_for() {
    let snap = one_consumer("mydb", list(&[mydb_policy("myapp")]));
    let d = run(&snap);
    let intent = (*d.policies[0]).clone();
    let body = intent.body(&d.owner_instance).expect("body");
    invariants::check_body_valid(&body);
    invariants::check_target(&snap, &intent, &body);
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut b = body.clone();
        f(&mut b);
        b
    };
    // I2: schema, strictness, CEL, metadata.
    let i2 = [
        edit(&|b| b["spec"]["action"] = json!("FOO")),
        edit(&|b| b["spec"]["rules"][0]["to"][0]["operation"]["ports"] = json!([8080])),
        edit(&|b| b["spec"]["rules"][0]["to"][0]["operation"]["port"] = json!(["8080"])),
        edit(&|b| b["spec"]["selector"] = json!({"matchLabels": {LABEL: "mydb"}})),
        edit(&|b| b["spec"]["targetRefs"][0]["namespace"] = json!("kube-system")),
        edit(&|b| b["metadata"]["name"] = json!("Not_A_Name")),
        edit(&|b| b["metadata"]["name"] = json!("a".repeat(254))),
        edit(&|b| b["metadata"]["namespace"] = json!("a.b")),
        edit(&|b| b["metadata"]["labels"]["bad key!"] = json!("x")),
        edit(&|b| b["metadata"]["labels"]["k"] = json!("-x")),
        edit(&|b| b["apiVersion"] = json!("security.istio.io/v1beta1")),
        edit(&|b| b["status"] = json!({})),
    ];
    for bad in i2 {
        assert!(
            violates(|| invariants::check_body_valid(&bad)),
            "I2 missed: {bad}"
        );
        validators_agree(&bad);
    }
    // The schema verdicts of both validators, on more broken bodies.
    let schema_breaks = [
        edit(&|b| b["spec"]["targetRefs"][0]["kind"] = json!("")),
        edit(&|b| b["spec"]["targetRefs"][0]["kind"] = json!("1Service")),
        edit(&|b| b["spec"]["targetRefs"][0]["kind"] = json!("Servi_ce")),
        edit(&|b| b["spec"]["targetRefs"][0]["group"] = json!("Apps")),
        edit(&|b| b["spec"]["targetRefs"][0]["group"] = json!("a..b")),
        edit(&|b| b["spec"]["targetRefs"][0]["group"] = json!("gateway.networking.k8s.io")),
        edit(&|b| b["spec"]["targetRefs"][0]["name"] = json!("")),
        edit(&|b| b["spec"]["targetRefs"][0]["name"] = json!("é".repeat(253))),
        edit(&|b| b["spec"]["targetRefs"][0]["name"] = json!("é".repeat(254))),
        edit(&|b| {
            b["spec"]["targetRefs"] = json!(vec![json!({"kind": "Service", "name": "x"}); 17])
        }),
        edit(&|b| {
            b["spec"]["targetRefs"] = json!(vec![json!({"kind": "Service", "name": "x"}); 16])
        }),
        edit(&|b| b["spec"]["targetRefs"][0] = json!({"name": "x"})),
        edit(&|b| b["spec"]["rules"] = json!("x")),
        edit(&|b| b["spec"]["rules"][0]["when"] = json!([{"values": ["a"]}])),
        edit(&|b| {
            b["spec"]["rules"][0]["from"][0]["source"]["serviceAccounts"] = json!(["a".repeat(321)])
        }),
        edit(&|b| b["spec"]["provider"] = json!({"name": 1})),
        edit(&|b| b["spec"]["provider"] = json!({"name": "x"})),
        edit(&|b| b["spec"]["action"] = json!("DENY")),
        edit(&|b| b["spec"]["selector"] = json!({"matchLabels": {"a": "b".repeat(64)}})),
        edit(&|b| b["spec"]["selector"] = json!({"matchLabels": {"a": 1}})),
        edit(&|b| b["spec"]["bogus"] = json!(1)),
        edit(&|b| b["metadata"]["labels"] = json!({"a": 1})),
        edit(&|b| b["metadata"]["annotations"] = json!({})),
        edit(&|b| b["status"] = json!({"observedGeneration": 1.5})),
        edit(&|b| b["status"] = json!({"observedGeneration": "1", "conditions": [{"type": "x"}]})),
        json!([]),
        json!({"spec": []}),
    ];
    let strict = &invariants::schemas().strict;
    let mut refused = 0;
    for bad in &schema_breaks {
        validators_agree(bad);
        refused += usize::from(schema::validate(strict, bad).is_err());
    }
    // Most are refused; six are not (another group, a 253-character name, 16 targetRefs, a
    // provider, DENY, a status of the right shape).
    assert_eq!((refused, schema_breaks.len()), (21, 27));
    let mut unit = body.clone();
    let spec = unit["spec"].as_object_mut().unwrap();
    spec.remove("targetRefs");
    spec.insert("selector".into(), json!({"matchLabels": {"*": "x"}}));
    assert!(violates(|| invariants::check_body_valid(&unit)));
    // I3: other targets, both, neither, other namespaces.
    let i3 = [
        edit(&|b| b["spec"]["targetRefs"][0]["name"] = json!("other")),
        edit(&|b| b["spec"]["targetRefs"][0]["kind"] = json!("Gateway")),
        edit(
            &|b| b["spec"]["targetRefs"] = json!([{"group": "", "kind": "Service", "name": "mydb"}, {"group": "", "kind": "Service", "name": "x"}]),
        ),
        edit(&|b| b["spec"]["selector"] = json!({"matchLabels": {LABEL: "mydb"}})),
        edit(&|b| {
            b["spec"].as_object_mut().unwrap().remove("targetRefs");
        }),
        edit(&|b| {
            b["spec"].as_object_mut().unwrap().remove("targetRefs");
            b["spec"]["selector"] = json!({"matchLabels": {"juju-modeloperator": "modeloperator"}});
        }),
        edit(&|b| b["metadata"]["namespace"] = json!("kube-system")),
    ];
    for bad in i3 {
        assert!(
            violates(|| invariants::check_target(&snap, &intent, &bad)),
            "I3 missed: {bad}"
        );
    }
    // A cross-model consumer is held to its namespace list and its cmr_data.
    let mut cross = snap.clone();
    let remote = "remote-0123456789abcdef0123456789abcdef";
    cross.service_mesh[0].remote_app = remote.into();
    let mut from_remote = intent.clone();
    from_remote.origin.as_mut().unwrap().app = remote.into();
    let in_team = edit(&|b| b["metadata"]["namespace"] = json!("team"));
    assert!(violates(|| invariants::check_target(
        &cross,
        &from_remote,
        &in_team
    )));
    cross.config.cross_model_namespaces = vec!["team".into()];
    invariants::check_target(&cross, &from_remote, &in_team);
    assert!(violates(|| invariants::check_target(
        &cross,
        &from_remote,
        &body
    )));
    cross.cmr.push(CmrRelation {
        id: 9,
        remote_app: remote.into(),
        cmr_data: Some(r#"{"app_name": "other", "juju_model_name": "team"}"#.into()),
    });
    assert!(violates(|| invariants::check_target(
        &cross,
        &from_remote,
        &in_team
    )));
    // I4 fails when a well-behaved body changes.
    let case = Case {
        beacon: 0,
        config: Config::default(),
        metrics: vec![],
        good: vec![Consumer {
            app: "mydb".into(),
            policies: Some(list(&[mydb_policy("myapp")])),
            cmr: None,
        }],
        hostile: vec![],
        slots: vec![],
        ids: vec![3],
    };
    let a = run(&case.snapshot(false));
    let mut changed = case.clone();
    changed.good[0].policies = Some(list(&[mydb_policy("other")]));
    let b = run(&changed.snapshot(false));
    check_isolation(&case, &a, &a);
    assert!(violates(|| check_isolation(&case, &a, &b)));
}

/// The fuzz target's committed seeds (real databags of tests/scenarios and the contract
/// vectors, and any crash input added there) hold the invariants on stable too.
#[test]
fn the_fuzz_seeds_hold_the_invariants() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/consumer_databags");
    let mut total = Counts::default();
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("seeds") {
        let data = std::fs::read(entry.expect("entry").path()).expect("seed");
        let snap = invariants::fuzz_input::snapshot(&data);
        let counts = check(&snap, &run(&snap));
        total.admitted += counts.admitted;
        total.refused += counts.refused;
        n += 1;
    }
    eprintln!(
        "fuzz seeds: {n}; policies admitted: {}, refused: {}",
        total.admitted, total.refused
    );
    assert!(n >= 10 && total.admitted > 0 && total.refused > 0);
}

#[test]
fn the_beacons_of_the_cases_have_names() {
    for (model, app) in BEACONS {
        names(model, app);
    }
}

// ------------------------------------------------------------------------------------------
// I5: the other meshes.

/// The served versions' schemas of the charm-sim CRDs (the real ones, see their sources), by
/// (apiVersion, kind), compiled.
fn crd_validators() -> &'static std::collections::HashMap<(String, String), jsonschema::Validator> {
    static V: std::sync::OnceLock<
        std::collections::HashMap<(String, String), jsonschema::Validator>,
    > = std::sync::OnceLock::new();
    V.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../charm-sim/crds");
        let mut out = std::collections::HashMap::new();
        for entry in std::fs::read_dir(&dir).expect("charm-sim CRDs") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("CRD");
            let crd: Value = serde_yaml_ng::from_str(&text).expect("CRD YAML");
            let group = crd["spec"]["group"].as_str().unwrap_or_default().to_owned();
            let kind = crd["spec"]["names"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
                let Some(schema) = version.pointer("/schema/openAPIV3Schema") else {
                    continue;
                };
                let api = format!("{group}/{}", version["name"].as_str().unwrap_or_default());
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft4)
                    .build(schema)
                    .expect("schema compiles");
                out.insert((api, kind.clone()), validator);
            }
        }
        out
    })
}

fn str_at<'a>(o: &'a Value, pointer: &str) -> &'a str {
    o.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The (namespace, app) an object opens, for the kinds that name it.
fn opens(o: &Value) -> Option<(String, String)> {
    let ns = str_at(o, "/metadata/namespace").to_owned();
    let app = match o["kind"].as_str()? {
        "TrafficTarget" | "ServiceIntentions" => str_at(o, "/spec/destination/name"),
        "Server" => str_at(
            o,
            &format!("/spec/podSelector/matchLabels/{}", LABEL.replace('/', "~1")),
        ),
        _ => return None,
    };
    Some((ns, app.to_owned()))
}

/// I5 on one rendering: schemas, targets, Linkerd references. Returns the object count.
fn check_backend_objects(snap: &Snapshot, d: &Desired) -> usize {
    let validators = crd_validators();
    // Whom a policy may open in the model: a consumer itself, or the beacon (its own
    // metrics policy).
    let mut apps: BTreeSet<String> = snap
        .service_mesh
        .iter()
        .map(|r| r.remote_app.clone())
        .collect();
    apps.insert(snap.app.clone());
    let mut servers = BTreeSet::new();
    let mut routes = BTreeSet::new();
    for o in &d.backend_objects {
        let api = str_at(o, "/apiVersion").to_owned();
        let kind = str_at(o, "/kind").to_owned();
        let validator = validators
            .get(&(api.clone(), kind.clone()))
            .unwrap_or_else(|| panic!("I5: no CRD serves {api} {kind}"));
        let errors: Vec<String> = validator.iter_errors(o).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "I5: {kind} invalid: {errors:?}\n{o}");
        let ns = str_at(o, "/metadata/namespace");
        let name = str_at(o, "/metadata/name");
        beacon_core::admission::dns1123_subdomain(name)
            .unwrap_or_else(|why| panic!("I5: {kind} name {name:?} {why}"));
        if ns != snap.model {
            assert!(
                snap.config.cross_model_namespaces.iter().any(|n| n == ns),
                "I5: {kind} {name} in {ns:?}, neither the model nor a listed namespace"
            );
        }
        // In a listed namespace a cross-model consumer without cmr_data may open any app
        // (the documented opt-in, as I3): only the namespace is checked there (above).
        if let Some((ns, app)) = opens(o)
            && ns == snap.model
        {
            assert!(
                apps.contains(&app),
                "I5: {kind} {name} opens {ns}/{app}: {o}"
            );
        }
        match kind.as_str() {
            "Server" => {
                servers.insert((ns.to_owned(), name.to_owned()));
            }
            "HTTPRoute" => {
                routes.insert((ns.to_owned(), name.to_owned()));
            }
            _ => {}
        }
    }
    for o in &d.backend_objects {
        let ns = str_at(o, "/metadata/namespace").to_owned();
        match str_at(o, "/kind") {
            "AuthorizationPolicy" => {
                let target = (ns, str_at(o, "/spec/targetRef/name").to_owned());
                let ok = match str_at(o, "/spec/targetRef/kind") {
                    "Server" => servers.contains(&target),
                    "HTTPRoute" => routes.contains(&target),
                    _ => false,
                };
                assert!(
                    ok,
                    "I5: a Linkerd authorization of no rendered Server or route: {o}"
                );
            }
            "HTTPRoute" => {
                for parent in o["spec"]["parentRefs"].as_array().into_iter().flatten() {
                    let target = (ns.clone(), str_at(parent, "/name").to_owned());
                    assert!(
                        parent["kind"] == "Server" && servers.contains(&target),
                        "I5: a route on no rendered Server: {o}"
                    );
                }
            }
            _ => {}
        }
    }
    d.backend_objects.len()
}

/// I5 isolation: the well-behaved consumers' objects in the model, unchanged.
fn check_backend_isolation(case: &Case, a: &Desired, b: &Desired) {
    let key = |o: &Value| {
        format!(
            "{} {}/{}",
            str_at(o, "/kind"),
            str_at(o, "/metadata/namespace"),
            str_at(o, "/metadata/name")
        )
    };
    let with: std::collections::HashMap<String, &Value> =
        b.backend_objects.iter().map(|o| (key(o), o)).collect();
    for o in &a.backend_objects {
        if str_at(o, "/metadata/namespace") != case.model() {
            continue;
        }
        let k = key(o);
        let other = with
            .get(&k)
            .unwrap_or_else(|| panic!("I5: {k} is gone with hostile consumers around"));
        assert_eq!(text(o), text(other), "I5: {k} changed");
    }
}

#[test]
fn hostile_consumers_never_widen_access_under_any_mesh_backend() {
    for backend in ["smi", "consul", "linkerd"] {
        let tally = RefCell::new((0u64, 0usize, 0usize));
        let config = RunnerConfig {
            cases: cases(BACKEND_CASES),
            failure_persistence: None,
            rng_algorithm: RngAlgorithm::XorShift,
            ..RunnerConfig::default()
        };
        let mut runner = TestRunner::new(config.clone());
        let result = runner.run(&case(), |mut case| {
            case.config.mesh_backend =
                service_mesh::backends::Backend::from_name(backend).expect("backend");
            let (without, with) = (case.snapshot(false), case.snapshot(true));
            let (a, b) = (run(&without), run(&with));
            let na = check_backend_objects(&without, &a);
            let nb = check_backend_objects(&with, &b);
            check_backend_isolation(&case, &a, &b);
            // Nothing of Istio's is rendered instead.
            assert!(b.policies.is_empty() && b.modeloperator.is_empty());
            let mut t = tally.borrow_mut();
            t.0 += 1;
            t.1 += na;
            t.2 += nb - na.min(nb);
            Ok(())
        });
        let tally = tally.into_inner();
        eprintln!(
            "hostile under {backend}: {} cases; objects: {} for well-behaved consumers, {} more with hostile ones",
            tally.0, tally.1, tally.2
        );
        if let Err(e) = result {
            panic!("{backend}: {e}");
        }
        // Not vacuous: objects were rendered, with and without hostile consumers.
        assert!(tally.1 > 0 && tally.2 > 0, "{backend}: {tally:?}");
    }
}
