//! `check-access` under a `mesh-backend` evaluates every object of the backend's kinds in a
//! namespace, whoever wrote them. Hostile or broken objects (a field of the wrong type, a
//! regex that does not compile or is huge, a reference to nothing) must not make an
//! evaluator panic: each backend's rendering of generated policies, with one subtree
//! replaced by a hostile value, is evaluated on requests of every shape.

mod backends_gen;

use std::collections::BTreeMap;

use backends_gen::{APP, NS, policy};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use service_mesh::backends::{
    APP_LABEL, Backend, HttpRequest, Identity, MeshRequest, consul, linkerd, smi,
};

/// Values an attacker (or a typo) puts where the evaluators expect something else.
fn hostile() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(-1)),
        Just(json!(1e308)),
        Just(json!(65536)),
        Just(json!([])),
        Just(json!({})),
        Just(json!("*")),
        Just(json!("(((")),
        Just(json!("a{99999}{99999}")),
        Just(json!("^.*$")),
        Just(json!("*.*")),
        Just(json!([null, 1, "x", {"a": []}])),
        Just(json!({"name": 7, "kind": ["Server"]})),
        "\\PC{0,40}".prop_map(Value::String),
    ]
}

/// Every JSON pointer inside `v`.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

fn requests() -> Vec<MeshRequest> {
    let mut out = Vec::new();
    for source in ["web", "mydb"] {
        for port in [80u16, 8080, 9090] {
            for http in [
                None,
                Some(("GET", "/api")),
                Some(("POST", "/x.png")),
                Some(("get", "/")),
            ] {
                out.push(MeshRequest {
                    source: Identity {
                        namespace: NS.into(),
                        service_account: source.into(),
                    },
                    namespace: NS.into(),
                    app: APP.into(),
                    pod_labels: BTreeMap::from([(APP_LABEL.to_string(), APP.to_string())]),
                    port,
                    http: http.map(|(method, path)| HttpRequest {
                        method: method.into(),
                        path: path.into(),
                        host: APP.into(),
                    }),
                });
            }
        }
    }
    out
}

fn evaluate_all(backend: &Backend, objects: &[Value], requests: &[MeshRequest]) -> usize {
    let mut allowed = 0;
    for r in requests {
        let decisions = match backend {
            Backend::Smi => vec![smi::evaluate(objects, r)],
            Backend::Consul(o) => vec![consul::evaluate(o, objects, r)],
            Backend::Linkerd(o) => [
                linkerd::DefaultPolicy::Deny,
                linkerd::DefaultPolicy::AllAuthenticated,
                linkerd::DefaultPolicy::AllUnauthenticated,
                linkerd::DefaultPolicy::Audit,
            ]
            .into_iter()
            .map(|d| linkerd::evaluate(o, d, objects, r))
            .collect(),
            Backend::Istio => vec![],
        };
        allowed += decisions.into_iter().filter(|d| *d).count();
    }
    allowed
}

#[test]
fn evaluators_survive_hostile_foreign_objects() {
    let requests = requests();
    for name in ["smi", "consul", "linkerd"] {
        let backend = Backend::from_name(name).expect("backend");
        let mutated = std::cell::Cell::new(0u64);
        let mut runner = TestRunner::new(Config {
            cases: 400,
            failure_persistence: None,
            ..Config::default()
        });
        let strategy = (
            prop::collection::vec(policy(), 1..4),
            prop::collection::vec(
                (
                    any::<prop::sample::Index>(),
                    any::<prop::sample::Index>(),
                    hostile(),
                ),
                1..4,
            ),
        );
        runner
            .run(&strategy, |(policies, edits)| {
                let mut objects = backend.render("b", "m", &policies).objects;
                for (which, at, value) in edits {
                    let which = which.index(objects.len().max(1));
                    let Some(object) = objects.get_mut(which) else {
                        continue;
                    };
                    let mut places = Vec::new();
                    pointers(object, String::new(), &mut places);
                    if places.is_empty() {
                        continue;
                    }
                    let place = &places[at.index(places.len())];
                    if let Some(slot) = object.pointer_mut(place) {
                        *slot = value;
                        mutated.set(mutated.get() + 1);
                    }
                }
                // No panic, whatever the objects say; the count only keeps the work observable.
                std::hint::black_box(evaluate_all(&backend, &objects, &requests));
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mutated = mutated.get();
        eprintln!("{name}: {mutated} hostile edits evaluated");
        assert!(mutated >= 25, "{name}: the edits reached the objects");
    }
}
