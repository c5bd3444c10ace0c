//! Differential test of the Rust consumer library against the real Python one
//! (`charmlibs-interfaces-service-mesh` 1.0.1 in `.venv`, `tests/python/consumer/consumer_oracle.py`).
//!
//! A seeded generator makes consumer declarations (AppPolicy, UnitPolicy, the deprecated
//! Policy), relation states (in-model, peer, cross-model with valid, invalid and missing
//! `cmr_data`) and provider databags. For each, in one Python process:
//! - the `policies` value must be byte-identical to what the Python consumer writes;
//! - the Python provider (`ServiceMeshProvider.mesh_info`) must parse ours back unchanged;
//! - `cmr_data` must be byte-identical;
//! - a databag written by the Python provider must read back as the labels it was given,
//!   and arbitrary provider databags must read as Python reads them (except the one
//!   documented leniency: labels without `mesh_type`).
//!
//! `MESH_CONSUMER_DIFF_SEED` / `MESH_CONSUMER_DIFF_CASES` explore beyond the fixed default.

mod oracle;
use oracle::{env_num, run_oracle};

use serde_json::{Value, json};
use service_mesh::consumer::{
    AppPolicy, ConsumerPolicy, RelatedApp, UnitPolicy, build_mesh_policies, cmr_map,
    read_provider_data,
};
use service_mesh::{CmrData, Endpoint, MeshType, Method, Port, dump_policies};

/// splitmix64: small, seedable, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())].clone()
    }
}

const ENDPOINTS: &[&str] = &[
    "inbound",
    "inbound-unit",
    "peers",
    "metrics-endpoint",
    "database",
];
const APPS: &[&str] = &[
    "myapp",
    "prometheus",
    "sender",
    "remote-0123456789abcdef0123456789abcdef",
    "remote-fedcba9876543210fedcba9876543210",
    "tester",
    "caf\u{e9}",
    "a\"b\\c",
    "",
];
const MODELS: &[&str] = &["prod", "cos", "istio-system", "m\u{1F600}", ""];
const STRS: &[&str] = &[
    "/foo",
    "/bar/",
    "",
    "*.example.com",
    "/\u{e9}t\u{e9}",
    "tab\there",
    "quote\"d",
    "/path/*",
];

fn opt_list<T>(rng: &mut Rng, item: impl Fn(&mut Rng) -> T) -> Option<Vec<T>> {
    match rng.below(5) {
        0 => None,
        1 => Some(Vec::new()),
        _ => {
            let n = 1 + rng.below(3);
            Some((0..n).map(|_| item(rng)).collect())
        }
    }
}

fn gen_port(rng: &mut Rng) -> u16 {
    rng.pick(&[80, 443, 8080, 8081, 9090, 15090, 0, 65535, 1])
}

fn gen_endpoint(rng: &mut Rng) -> Endpoint {
    Endpoint {
        hosts: opt_list(rng, |r| r.pick(STRS).to_owned()),
        ports: opt_list(rng, |r| Port::from(gen_port(r))),
        methods: opt_list(rng, |r| r.pick(&Method::ALL)),
        paths: opt_list(rng, |r| r.pick(STRS).to_owned()),
    }
}

fn endpoint_json(e: &Endpoint) -> Value {
    let strs = |v: &Option<Vec<String>>| json!(v);
    json!({
        "hosts": strs(&e.hosts),
        "ports": e.ports.as_ref().map(|p| p.iter().map(|p| p.as_i64()).collect::<Vec<_>>()),
        "methods": e.methods.as_ref().map(|m| m.iter().map(|m| m.value()).collect::<Vec<_>>()),
        "paths": strs(&e.paths),
    })
}

/// A declared policy and its Python form.
fn gen_policy(rng: &mut Rng) -> (ConsumerPolicy, Value) {
    let relation = rng.pick(ENDPOINTS);
    if rng.chance(40) {
        let ports = opt_list(rng, gen_port);
        let policy = match &ports {
            Some(p) => UnitPolicy::new(relation, p.iter().copied()),
            None => UnitPolicy::any_port(relation),
        };
        let py = json!({"type": "unit", "relation": relation, "ports": ports});
        return (policy.into(), py);
    }
    let n = rng.below(3);
    let endpoints: Vec<Endpoint> = (0..n).map(|_| gen_endpoint(rng)).collect();
    let mut policy = AppPolicy::new(relation, endpoints.clone());
    let service = if rng.chance(30) {
        Some(rng.pick(&["svc", "mydb-api", ""]).to_owned())
    } else {
        None
    };
    if let Some(s) = &service {
        policy = policy.with_service(s.clone());
    }
    // The deprecated Policy builds exactly as AppPolicy; check that too.
    let ty = if rng.chance(20) { "policy" } else { "app" };
    let py = json!({
        "type": ty,
        "relation": relation,
        "endpoints": endpoints.iter().map(endpoint_json).collect::<Vec<_>>(),
        "service": service,
    });
    (policy.into(), py)
}

fn gen_cmr_value(rng: &mut Rng) -> Option<String> {
    let app = rng.pick(APPS);
    let model = rng.pick(MODELS);
    let v = match rng.below(8) {
        0 => return None,
        1 => "not json".to_owned(),
        2 => json!({"app_name": app}).to_string(),
        3 => json!({"app_name": 1, "juju_model_name": model}).to_string(),
        4 => json!({"juju_model_name": model, "app_name": app, "extra": [1]}).to_string(),
        5 => "[]".to_owned(),
        _ => CmrData {
            app_name: app.to_owned(),
            juju_model_name: model.to_owned(),
        }
        .to_json(),
    };
    Some(v)
}

struct Case {
    request: Value,
    /// What the Rust side says; compared field by field with the answer.
    check: Check,
}

enum Check {
    /// Our `policies` value; Python's must be equal, and its provider must parse ours back.
    Build(String),
    ProviderParse(String),
    CmrSend(String),
    ProviderWrite(Vec<(String, String)>),
    ConsumerRead(Value),
}

fn build_case(rng: &mut Rng) -> Vec<Case> {
    let target_app = rng.pick(&["mydb", "tester", "caf\u{e9}"]).to_owned();
    let target_ns = rng.pick(MODELS).to_owned();
    let (policies, py_policies): (Vec<_>, Vec<_>) =
        (0..rng.below(4)).map(|_| gen_policy(rng)).unzip();
    let mut relations = Vec::new();
    for _ in 0..rng.below(6) {
        let endpoint = rng.pick(ENDPOINTS);
        let app = if endpoint == "peers" {
            target_app.clone()
        } else {
            rng.pick(APPS).to_owned()
        };
        relations.push(RelatedApp::new(endpoint, app));
    }
    let cmr: Vec<(String, Option<String>)> = (0..rng.below(4))
        .map(|_| (rng.pick(APPS).to_owned(), gen_cmr_value(rng)))
        .collect();
    let map = cmr_map(cmr.iter().map(|(a, d)| (a.as_str(), d.as_deref())));
    let ours = dump_policies(&build_mesh_policies(
        &relations,
        &target_app,
        &target_ns,
        &policies,
        &map,
    ));
    vec![
        Case {
            request: json!({
                "kind": "build",
                "relations": relations.iter().map(|r| [&r.endpoint, &r.app]).collect::<Vec<_>>(),
                "cmr": cmr,
                "target_app": target_app,
                "target_namespace": target_ns,
                "policies": py_policies,
            }),
            check: Check::Build(ours.clone()),
        },
        Case {
            request: json!({"kind": "provider_parse", "policies": ours}),
            check: Check::ProviderParse(ours),
        },
    ]
}

fn cmr_send_case(rng: &mut Rng) -> Vec<Case> {
    let (app, model) = (rng.pick(APPS), rng.pick(MODELS));
    let ours = CmrData {
        app_name: app.to_owned(),
        juju_model_name: model.to_owned(),
    }
    .to_json();
    vec![Case {
        request: json!({"kind": "cmr_send", "app": app, "model": model}),
        check: Check::CmrSend(ours),
    }]
}

fn gen_labels(rng: &mut Rng) -> Vec<(String, String)> {
    let keys = [
        "istio.io/dataplane-mode",
        "istio.io/use-waypoint",
        "istio.io/use-waypoint-namespace",
        "caf\u{e9}",
        "k",
    ];
    let mut out: Vec<(String, String)> = Vec::new();
    for _ in 0..rng.below(4) {
        let k = rng.pick(&keys).to_owned();
        if !out.iter().any(|(x, _)| *x == k) {
            out.push((k, rng.pick(STRS).to_owned()));
        }
    }
    out
}

fn provider_write_case(rng: &mut Rng) -> Vec<Case> {
    let labels = gen_labels(rng);
    vec![Case {
        request: json!({"kind": "provider_write", "labels": labels}),
        check: Check::ProviderWrite(labels),
    }]
}

fn read_to_json(bag: &[(String, String)]) -> Value {
    match read_provider_data(bag.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Err(_) => json!({"error": true}),
        Ok(None) => json!({"labels": [], "mesh_type": null}),
        Ok(Some(info)) => json!({
            "labels": info.labels,
            "mesh_type": info.mesh_type.map(MeshType::value),
        }),
    }
}

fn consumer_read_case(rng: &mut Rng) -> Vec<Case> {
    let labels = gen_labels(rng);
    let labels_json = Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
    .to_string();
    let mut bag: Vec<(String, String)> = Vec::new();
    match rng.below(7) {
        0 => {}
        1 => bag.push(("labels".into(), labels_json)),
        2 => bag.push(("mesh_type".into(), "\"istio\"".into())),
        3 => {
            bag.push(("labels".into(), labels_json));
            bag.push((
                "mesh_type".into(),
                rng.pick(&["\"linkerd\"", "istio", "1"]).into(),
            ));
        }
        4 => {
            bag.push(("labels".into(), "{\"a\": 1}".into()));
            bag.push(("mesh_type".into(), "\"istio\"".into()));
        }
        _ => {
            bag.push(("labels".into(), labels_json));
            bag.push(("mesh_type".into(), "\"istio\"".into()));
            if rng.chance(30) {
                bag.push(("future_key".into(), "[1, 2]".into()));
            }
        }
    }
    let databag: serde_json::Map<String, Value> = bag
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let ours = read_to_json(&bag);
    vec![Case {
        request: json!({"kind": "consumer_read", "databag": databag}),
        check: Check::ConsumerRead(ours),
    }]
}

#[test]
fn rust_consumer_matches_python_library() {
    let mut rng = Rng(env_num("MESH_CONSUMER_DIFF_SEED", 0xC0_45E7));
    let cases = env_num("MESH_CONSUMER_DIFF_CASES", 2000);
    let gens: [fn(&mut Rng) -> Vec<Case>; 4] = [
        build_case,
        cmr_send_case,
        provider_write_case,
        consumer_read_case,
    ];
    let mut all: Vec<Case> = Vec::new();
    for i in 0..cases {
        // Half of the cases are policy builds: that is where the logic is.
        let g = if i % 2 == 0 { 0 } else { rng.below(gens.len()) };
        all.extend(gens[g](&mut rng));
    }
    for (id, c) in all.iter_mut().enumerate() {
        c.request["id"] = json!(id);
    }
    let requests: Vec<Value> = all.iter().map(|c| c.request.clone()).collect();
    let answers = run_oracle("tests/python/consumer/consumer_oracle.py", &requests);
    assert_eq!(answers.len(), all.len(), "one answer per request");

    let (mut builds, mut crashed, mut lenient, mut nonempty) = (0, 0, 0, 0);
    for (case, answer) in all.iter().zip(&answers) {
        let ctx = || format!("request {}\nanswer {}", case.request, answer);
        match &case.check {
            Check::Build(ours) => {
                builds += 1;
                if answer["crashed"] == json!(true) {
                    crashed += 1;
                }
                if ours != "[]" {
                    nonempty += 1;
                }
                assert_eq!(
                    answer["policies"].as_str(),
                    Some(ours.as_str()),
                    "{}",
                    ctx()
                );
            }
            Check::ProviderParse(ours) => {
                assert_eq!(
                    answer["policies"].as_str(),
                    Some(ours.as_str()),
                    "{}",
                    ctx()
                );
            }
            Check::CmrSend(ours) => {
                assert_eq!(
                    answer["cmr_data"].as_str(),
                    Some(ours.as_str()),
                    "{}",
                    ctx()
                );
            }
            Check::ProviderWrite(labels) => {
                let bag: Vec<(String, String)> = answer["databag"]
                    .as_object()
                    .expect("databag object")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect();
                let read = read_to_json(&bag);
                assert_eq!(read["labels"], json!(labels), "{}", ctx());
                assert_eq!(read["mesh_type"], json!("istio"), "{}", ctx());
            }
            Check::ConsumerRead(ours) => {
                let bag = &case.request["databag"];
                let legacy = bag.get("labels").is_some() && bag.get("mesh_type").is_none();
                if legacy && answer.get("error").is_some() && ours.get("error").is_none() {
                    // Documented leniency: an old provider's labels are accepted.
                    lenient += 1;
                    assert_eq!(ours["mesh_type"], Value::Null, "{}", ctx());
                    continue;
                }
                assert_eq!(
                    answer.get("error").is_some(),
                    ours.get("error").is_some(),
                    "{}",
                    ctx()
                );
                if ours.get("error").is_none() {
                    assert_eq!(answer["labels"], ours["labels"], "{}", ctx());
                    assert_eq!(answer["mesh_type"], ours["mesh_type"], "{}", ctx());
                }
            }
        }
    }
    // The generator must actually reach the interesting paths.
    assert!(
        builds > 100 && nonempty > 50,
        "builds {builds}, non-empty {nonempty}"
    );
    assert!(crashed > 0, "no non-JSON cmr_data case was generated");
    assert!(lenient > 0, "no legacy provider case was generated");
}
