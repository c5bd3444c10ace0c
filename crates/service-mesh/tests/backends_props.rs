//! Properties of the mesh backends (`service_mesh::backends`) against Istio, with generated
//! consumer policy sets and requests: Istio's decision comes from `service_mesh::authz` on the
//! Istio rendering (the oracle), each other backend's from its own evaluator on its own
//! objects.
//!
//! 1. Never wider: no backend allows a request the Istio rendering denies.
//! 2. Exact is exact: a policy a backend reports `Exact`, rendered alone, is decided as Istio
//!    decides it on every request; a set whose policies are all `Exact` likewise.
//!    And next to anything: a source whose every policy of a set is `Exact` is decided as
//!    Istio decides the set, on that source's requests, whatever the others render.
//! 3. Isolation: a policy's outcome does not depend on the other policies of the set.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::Value;
use service_mesh::backends::{
    self, APP_LABEL, Backend, HttpRequest, Identity, MeshRequest, Outcome, consul, linkerd, smi,
};

mod backends_gen;
use backends_gen::{APP, NS, policy};

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
    /// Exact policies with methods or paths.
    exact_l7: [AtomicUsize; 4],
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
    // BACKENDS_CASES=n for a longer run.
    let cases = std::env::var("BACKENDS_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
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
                for (p, o) in policies.iter().zip(&rendered.outcomes) {
                    let l7 = p.endpoints.iter().any(|e| {
                        e.methods.as_ref().is_some_and(|l| !l.is_empty())
                            || e.paths.as_ref().is_some_and(|l| !l.is_empty())
                    });
                    if l7 && *o == Outcome::Exact {
                        stats.exact_l7[i].fetch_add(1, Ordering::Relaxed);
                    }
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
                // 2b. Exact next to anything: a source whose every policy in the set is Exact
                // is decided as Istio decides the whole set on its requests, whatever the
                // other sources' policies (narrowed or refused) render.
                let exact_sources: Vec<(&str, &str)> = policies
                    .iter()
                    .map(|p| (p.source_namespace.as_str(), p.source_app_name.as_str()))
                    .filter(|s| {
                        policies.iter().zip(&rendered.outcomes).all(|(p, o)| {
                            (p.source_namespace.as_str(), p.source_app_name.as_str()) != *s
                                || *o == Outcome::Exact
                        })
                    })
                    .collect();
                for (r, want) in reqs.iter().zip(&oracle) {
                    let (Some(want), true) = (
                        want,
                        exact_sources.contains(&(
                            r.source.namespace.as_str(),
                            r.source.service_account.as_str(),
                        )),
                    ) else {
                        continue;
                    };
                    prop_assert_eq!(
                        decide(&b, &rendered.objects, r),
                        *want,
                        "{}: every policy of {:?} is Exact, yet {:?} is decided otherwise than Istio\npolicies: {:#?}\nobjects: {:#?}",
                        b.name(),
                        r.source,
                        r,
                        policies,
                        rendered.objects
                    );
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
            "  {:8} exact {e}/{n} ({:.0}%; {} with methods or paths), narrowed {nw} ({:.0}%), refused {} ({:.0}%); requests allowed {}",
            b.name(),
            100.0 * e as f64 / n as f64,
            stats.exact_l7[i].load(Ordering::Relaxed),
            100.0 * nw as f64 / n as f64,
            n - e - nw,
            100.0 * (n - e - nw) as f64 / n as f64,
            stats.allowed[i].load(Ordering::Relaxed),
        );
    }
}
