//! Properties of the mesh backends (`service_mesh::backends`) against Istio, with generated
//! consumer policy sets and requests: Istio's decision comes from `service_mesh::authz` on the
//! Istio rendering (the oracle), each other backend's from its own evaluator on its own
//! objects.
//!
//! 1. Never wider: no backend allows a request the Istio rendering denies.
//! 2. Exact is exact: a policy a backend reports `Exact`, rendered alone, is decided as Istio
//!    decides it on every request; a set whose policies are all `Exact` likewise.
//! 3. Isolation: a policy's outcome does not depend on the other policies of the set.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use service_mesh::backends::{
    self, APP_LABEL, Backend, HttpRequest, Identity, MeshRequest, Outcome, consul, linkerd, smi,
};
use service_mesh::{Endpoint, MeshPolicy, Method, PolicyTargetType, Port};

const NS: &str = "prod";
const APP: &str = "mydb";

fn backends() -> Vec<Backend> {
    vec![
        Backend::Smi,
        Backend::Consul(consul::ConsulOptions::default()),
        Backend::Linkerd(linkerd::LinkerdOptions::default()),
    ]
}

fn decide(backend: &Backend, objects: &[Value], r: &MeshRequest) -> bool {
    match backend {
        Backend::Istio => backends::istio::evaluate(objects, r).unwrap_or(false),
        Backend::Smi => smi::evaluate(objects, r),
        Backend::Consul(o) => consul::evaluate(o, objects, r),
        Backend::Linkerd(o) => linkerd::evaluate(o, linkerd::DefaultPolicy::Deny, objects, r),
    }
}

/// `None` (weight `none`), `[]` (1) or a non-empty subset (4).
fn subset<T: Clone + std::fmt::Debug + 'static>(
    items: Vec<T>,
    none: u32,
) -> impl Strategy<Value = Option<Vec<T>>> {
    let n = items.len();
    prop_oneof![
        none => Just(None),
        1 => Just(Some(vec![])),
        4 => proptest::sample::subsequence(items, 1..=n.min(3)).prop_map(Some),
    ]
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (
        subset(vec![80u16, 8080, 9090], 2),
        subset(vec![Method::Get, Method::Post, Method::Delete], 6),
        subset(
            ["/api", "/api*", "*.png", "*", "/a.b", "/u/{*}"]
                .map(String::from)
                .to_vec(),
            6,
        ),
        prop_oneof![
            12 => Just(None),
            1 => Just(Some(vec!["mydb".to_string()])),
            1 => Just(Some(vec!["*.example.com".to_string()])),
        ],
    )
        .prop_map(|(ports, methods, paths, hosts)| Endpoint {
            hosts,
            ports: ports.map(|p| p.into_iter().map(Port::from).collect()),
            methods,
            paths,
        })
        // An endpoint restricting nothing is refused by istiod ("to.operation must not be
        // empty"): the oracle cannot decide around it, so few are generated.
        .prop_filter("mostly restricting endpoints", |e| {
            let set = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|l| !l.is_empty());
            set(&e.hosts)
                || set(&e.paths)
                || e.ports.as_ref().is_some_and(|l| !l.is_empty())
                || e.methods.as_ref().is_some_and(|l| !l.is_empty())
        })
}

fn labels(l: &[(&str, &str)]) -> Vec<(String, String)> {
    l.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn policy() -> impl Strategy<Value = MeshPolicy> {
    let source = (
        prop::sample::select(vec![NS, "other"]),
        prop::sample::select(vec!["web", "api"]),
    );
    // (target type, app name, selector, service)
    let target = prop_oneof![
        Just((PolicyTargetType::App, Some(APP), None, None)),
        Just((PolicyTargetType::App, Some(APP), None, Some(APP))),
        Just((PolicyTargetType::App, Some(APP), None, Some("mydb-admin"))),
        Just((PolicyTargetType::App, None, None, Some(APP))),
        Just((PolicyTargetType::Unit, Some(APP), None, None)),
        Just((
            PolicyTargetType::Unit,
            None,
            Some(labels(&[(APP_LABEL, APP)])),
            None
        )),
        Just((
            PolicyTargetType::Unit,
            None,
            Some(labels(&[("unit", "0")])),
            None
        )),
    ];
    let l4 = prop::collection::vec(
        subset(vec![80u16, 8080, 9090], 1).prop_map(|ports| Endpoint {
            ports: ports.map(|p| p.into_iter().map(Port::from).collect()),
            ..Endpoint::default()
        }),
        1..=2,
    );
    (source, target, prop::collection::vec(endpoint(), 1..=3), l4).prop_map(
        |((sns, sapp), (tt, app, sel, svc), eps, l4)| MeshPolicy {
            source_namespace: sns.into(),
            source_app_name: sapp.into(),
            target_namespace: NS.into(),
            target_app_name: app.map(String::from),
            target_selector_labels: sel,
            target_service: svc.map(String::from),
            target_type: tt,
            // Unit policies mostly carry ports only, as Istio requires.
            endpoints: if tt == PolicyTargetType::Unit && l4.len() == 1 {
                l4
            } else {
                eps
            },
        },
    )
}

fn requests() -> Vec<MeshRequest> {
    let mut out = vec![];
    let https: Vec<Option<HttpRequest>> = std::iter::once(None)
        .chain(
            [
                ("GET", "/api"),
                ("GET", "/api/v1"),
                ("POST", "/apix"),
                ("DELETE", "/x.png"),
                ("GET", "/a.b"),
                ("GET", "/aXb"),
                ("get", "/"),
                ("POST", "/u/x"),
            ]
            .iter()
            .flat_map(|(m, p)| {
                ["mydb", "a.example.com"].map(|h| {
                    Some(HttpRequest {
                        method: m.to_string(),
                        path: p.to_string(),
                        host: h.to_string(),
                    })
                })
            }),
        )
        .collect();
    for (sns, ssa) in [(NS, "web"), (NS, "api"), ("other", "web"), (NS, "mydb")] {
        for extra in [None, Some("0"), Some("1")] {
            for port in [80u16, 8080, 9090, 443] {
                for http in &https {
                    let mut pod_labels = BTreeMap::from([(APP_LABEL.to_string(), APP.to_string())]);
                    if let Some(u) = extra {
                        pod_labels.insert("unit".into(), u.into());
                    }
                    out.push(MeshRequest {
                        source: Identity {
                            namespace: sns.into(),
                            service_account: ssa.into(),
                        },
                        namespace: NS.into(),
                        app: APP.into(),
                        pod_labels,
                        port,
                        http: http.clone(),
                    });
                }
            }
        }
    }
    out
}

#[derive(Default)]
struct Stats {
    policies: AtomicUsize,
    exact: [AtomicUsize; 4],
    narrowed: [AtomicUsize; 4],
    allowed: [AtomicUsize; 4],
    undetermined: AtomicUsize,
    compared: AtomicUsize,
}

fn idx(b: &Backend) -> usize {
    match b {
        Backend::Istio => 0,
        Backend::Smi => 1,
        Backend::Consul(_) => 2,
        Backend::Linkerd(_) => 3,
    }
}

#[test]
fn no_backend_is_wider_than_istio_and_exact_means_equal() {
    let stats = Stats::default();
    let reqs = requests();
    let cases = 256;
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(policy(), 1..=4), |policies| {
            let istio = Backend::Istio.render("beacon", "ctl", &policies);
            let oracle: Vec<Option<bool>> = reqs
                .iter()
                .map(|r| backends::istio::evaluate(&istio.objects, r))
                .collect();
            stats.policies.fetch_add(policies.len(), Ordering::Relaxed);
            for b in backends() {
                let rendered = b.render("beacon", "ctl", &policies);
                prop_assert_eq!(rendered.outcomes.len(), policies.len());
                let i = idx(&b);
                for o in &rendered.outcomes {
                    match o {
                        Outcome::Exact => stats.exact[i].fetch_add(1, Ordering::Relaxed),
                        Outcome::Narrowed(_) => stats.narrowed[i].fetch_add(1, Ordering::Relaxed),
                        Outcome::Refused(_) => 0,
                    };
                }
                // 1. Never wider.
                for (r, want) in reqs.iter().zip(&oracle) {
                    let Some(want) = want else {
                        stats.undetermined.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    stats.compared.fetch_add(1, Ordering::Relaxed);
                    let got = decide(&b, &rendered.objects, r);
                    if got {
                        stats.allowed[i].fetch_add(1, Ordering::Relaxed);
                    }
                    prop_assert!(
                        !got || *want,
                        "{} allows what Istio denies: {r:?}\nobjects: {:#?}",
                        b.name(),
                        rendered.objects
                    );
                }
                // 2. Exact: the whole set, and each exact policy alone.
                let all_exact = rendered.outcomes.iter().all(|o| *o == Outcome::Exact);
                let mut sets = vec![];
                if all_exact {
                    sets.push(policies.clone());
                }
                for (p, o) in policies.iter().zip(&rendered.outcomes) {
                    if *o == Outcome::Exact {
                        sets.push(vec![p.clone()]);
                    }
                }
                for set in sets {
                    let ours = b.render("beacon", "ctl", &set);
                    let theirs = Backend::Istio.render("beacon", "ctl", &set);
                    for r in &reqs {
                        let Some(want) = backends::istio::evaluate(&theirs.objects, r) else {
                            continue;
                        };
                        prop_assert_eq!(
                            decide(&b, &ours.objects, r),
                            want,
                            "{} reports Exact but decides {:?} otherwise than Istio\npolicies: {:#?}\nobjects: {:#?}",
                            b.name(),
                            r,
                            set,
                            ours.objects
                        );
                    }
                }
                // 3. Isolation: each policy's outcome alone equals its outcome in the set.
                for (p, o) in policies.iter().zip(&rendered.outcomes) {
                    let alone = b.render("beacon", "ctl", std::slice::from_ref(p));
                    prop_assert_eq!(&alone.outcomes[0], o);
                }
            }
            Ok(())
        })
        .unwrap();
    let n = stats.policies.load(Ordering::Relaxed);
    eprintln!(
        "backends: {cases} policy sets, {n} policies, {} requests compared ({} undetermined by the oracle, skipped)",
        stats.compared.load(Ordering::Relaxed),
        stats.undetermined.load(Ordering::Relaxed)
    );
    for b in backends() {
        let i = idx(&b);
        let e = stats.exact[i].load(Ordering::Relaxed);
        let nw = stats.narrowed[i].load(Ordering::Relaxed);
        eprintln!(
            "  {:8} exact {e}/{n} ({:.0}%), narrowed {nw} ({:.0}%), refused {} ({:.0}%); requests allowed {}",
            b.name(),
            100.0 * e as f64 / n as f64,
            100.0 * nw as f64 / n as f64,
            n - e - nw,
            100.0 * (n - e - nw) as f64 / n as f64,
            stats.allowed[i].load(Ordering::Relaxed),
        );
    }
}
