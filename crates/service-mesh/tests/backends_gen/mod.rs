//! Generated consumer policies for the backend tests (shared by `backends_props.rs` and
//! `backends_kube.rs`): sources in two models, app and unit targets (the app's own Service,
//! another Service, the app's pods, other pods), endpoints mixing ports, methods, Istio path
//! forms and hosts.
#![allow(dead_code)]

use proptest::prelude::*;
use service_mesh::backends::APP_LABEL;
use service_mesh::{Endpoint, MeshPolicy, Method, PolicyTargetType, Port};

pub const NS: &str = "prod";
pub const APP: &str = "mydb";

/// `None` (weight `none`), `[]` (1) or a non-empty subset (4).
pub fn subset<T: Clone + std::fmt::Debug + 'static>(
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

pub fn endpoint() -> impl Strategy<Value = Endpoint> {
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

pub fn labels(l: &[(&str, &str)]) -> Vec<(String, String)> {
    l.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn policy() -> impl Strategy<Value = MeshPolicy> {
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
