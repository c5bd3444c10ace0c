//! Every object every mesh backend renders for a representative policy set, applied to the
//! simulator's API server, which validates custom resources against the real CRD schemas
//! (charm-sim's default set: Istio 1.29.6, SMI from OSM v1.2.4, Consul from consul-k8s v2.0.3,
//! Linkerd 2.20 with its HTTPRoute): all are accepted and stored as sent; a bad value is
//! refused with 422. Also for generated policy sets: every object accepted, names DNS-1123
//! subdomains, one object per kind, namespace and name, and the same set renders the same
//! objects (deterministic).
#![cfg(feature = "kube")]

mod backends_gen;

use charm_sim::kube::{ApiServer, ApiServerConfig};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};
use service_mesh::backends::{APP_LABEL, Backend};
use service_mesh::{Endpoint, MeshPolicy, Method, PolicyTargetType, Port};

fn server() -> ApiServer {
    ApiServer::start(ApiServerConfig {
        crds: ApiServer::default_crds(),
        objects: ["prod", "other"]
            .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .to_vec(),
        faults: vec![],
    })
    .expect("start the simulated API server")
}

fn api(server: &ApiServer, backend: &Backend, obj: &Value) -> Api<DynamicObject> {
    let api_version = obj["apiVersion"].as_str().expect("apiVersion");
    let kind = obj["kind"].as_str().expect("kind");
    let (_, _, plural) = backend
        .kinds()
        .iter()
        .find(|(a, k, _)| *a == api_version && *k == kind)
        .unwrap_or_else(|| {
            panic!(
                "{} renders {api_version} {kind}, not in kinds()",
                backend.name()
            )
        });
    let (group, version) = api_version.split_once('/').expect("group/version");
    let url = server.url().parse().expect("server URL");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("kube client");
    let res =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    let ns = obj["metadata"]["namespace"].as_str().expect("namespace");
    Api::namespaced_with(client, ns, &res)
}

async fn apply(server: &ApiServer, backend: &Backend, obj: &Value) -> Result<Value, kube::Error> {
    let name = obj["metadata"]["name"].as_str().expect("name").to_owned();
    let mut obj = obj.clone();
    // The caller's ownership labels.
    obj["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "istio-beacon-k8s"});
    let body: DynamicObject = serde_json::from_value(obj).expect("object");
    let pp = PatchParams::apply("istio-beacon-k8s").force();
    let stored = api(server, backend, &body_value(&body))
        .patch(&name, &pp, &Patch::Apply(body))
        .await?;
    Ok(serde_json::to_value(&stored).expect("json"))
}

fn body_value(o: &DynamicObject) -> Value {
    serde_json::to_value(o).expect("json")
}

fn ep(ports: &[u16], methods: &[Method], paths: &[&str], hosts: &[&str]) -> Endpoint {
    let some = |b: bool| b.then_some(());
    Endpoint {
        hosts: some(!hosts.is_empty()).map(|_| hosts.iter().map(|s| s.to_string()).collect()),
        ports: some(!ports.is_empty()).map(|_| ports.iter().map(|p| Port::from(*p)).collect()),
        methods: some(!methods.is_empty()).map(|_| methods.to_vec()),
        paths: some(!paths.is_empty()).map(|_| paths.iter().map(|s| s.to_string()).collect()),
    }
}

/// Sources in two models, app and unit targets, L4 and L7 endpoints, every path form.
fn representative() -> Vec<MeshPolicy> {
    let app = |src: &str, ns: &str, endpoints| MeshPolicy {
        source_namespace: ns.into(),
        source_app_name: src.into(),
        target_namespace: "prod".into(),
        target_app_name: Some("mydb".into()),
        target_selector_labels: None,
        target_service: None,
        target_type: PolicyTargetType::App,
        endpoints,
    };
    vec![
        app("web", "prod", vec![ep(&[8080, 9090], &[], &[], &[])]),
        app("api", "other", vec![ep(&[8080], &[], &[], &[])]),
        app(
            "web",
            "prod",
            vec![ep(
                &[],
                &[Method::Get, Method::Head],
                &["/api*", "/health", "*.png", "*"],
                &[],
            )],
        ),
        app(
            "cron",
            "other",
            vec![ep(&[], &[Method::Post], &["/jobs/{*}", "/jobs"], &[])],
        ),
        app(
            "grafana",
            "other",
            vec![ep(
                &[8080],
                &[Method::Get, Method::Head],
                &["/api*", "/health", "*.png", "/a.b"],
                &[],
            )],
        ),
        // 9 methods x 15 paths: Linkerd splits the matches over two routes (CRD maxItems).
        app(
            "batch",
            "prod",
            vec![ep(
                &[8080],
                &Method::ALL,
                &[
                    "/p0", "/p1", "/p2", "/p3", "/p4", "/p5", "/p6", "/p7", "/p8", "/p9", "/pa",
                    "/pb", "/pc", "/pd", "/pe*",
                ],
                &[],
            )],
        ),
        app(
            "probe",
            "prod",
            vec![
                ep(&[9090], &[Method::Get], &[], &[]),
                ep(&[9090], &[], &[], &[]),
            ],
        ),
        app(
            "ui",
            "prod",
            vec![ep(&[8080], &[Method::Get], &["/"], &["mydb.example.com"])],
        ),
        MeshPolicy {
            target_type: PolicyTargetType::Unit,
            endpoints: vec![ep(&[5432], &[], &[], &[])],
            ..app("backup", "prod", vec![])
        },
        MeshPolicy {
            target_type: PolicyTargetType::Unit,
            target_app_name: None,
            target_selector_labels: Some(vec![(APP_LABEL.into(), "mydb".into())]),
            endpoints: vec![ep(&[5432], &[], &[], &[])],
            ..app("metrics", "other", vec![])
        },
    ]
}

fn all_backends() -> Vec<Backend> {
    ["istio", "smi", "consul", "linkerd"]
        .iter()
        .map(|n| Backend::from_name(n).expect("backend"))
        .collect()
}

#[tokio::test]
async fn every_rendered_object_is_accepted_and_stored_as_sent() {
    let server = server();
    let policies = representative();
    for backend in all_backends() {
        let rendered = backend.render("istio-beacon-k8s", "ctl", &policies);
        assert!(
            rendered.outcomes.iter().any(|o| o.rendered()),
            "{}: {:?}",
            backend.name(),
            rendered.outcomes
        );
        // Every kind the backend names is rendered for this set.
        for (api_version, kind, _) in backend.kinds() {
            assert!(
                rendered
                    .objects
                    .iter()
                    .any(|o| o["apiVersion"] == *api_version && o["kind"] == *kind),
                "{}: no {kind} rendered",
                backend.name()
            );
        }
        for obj in &rendered.objects {
            let stored = apply(&server, &backend, obj)
                .await
                .unwrap_or_else(|e| panic!("{} {}: {e}\n{obj:#}", backend.name(), obj["kind"]));
            // Nothing pruned: every field sent is in the schema (defaults may be added).
            for (k, v) in obj["spec"].as_object().expect("spec") {
                assert_eq!(
                    &stored["spec"][k],
                    v,
                    "{} {}: spec.{k}",
                    backend.name(),
                    obj["kind"]
                );
            }
        }
    }
}

#[tokio::test]
async fn invalid_objects_are_refused_with_422() {
    let server = server();
    let policies = representative();
    type Spoil = fn(&mut Value);
    let cases: [(&str, &str, Spoil); 5] = [
        ("smi", "HTTPRouteGroup", |o| {
            o["spec"]["matches"][0]["methods"] = json!(["get"])
        }),
        ("consul", "ServiceIntentions", |o| {
            o["spec"]["sources"] = json!("web")
        }),
        ("linkerd", "AuthorizationPolicy", |o| {
            o["spec"]["targetRef"]["kind"] = json!("-bad")
        }),
        // The HTTPRoute method enum is upper-case; at most 8 matches per rule.
        ("linkerd", "HTTPRoute", |o| {
            o["spec"]["rules"][0]["matches"][0]["method"] = json!("get")
        }),
        ("linkerd", "HTTPRoute", |o| {
            let m = o["spec"]["rules"][0]["matches"][0].clone();
            o["spec"]["rules"][0]["matches"] = json!(vec![m; 9])
        }),
    ];
    for (name, kind, spoil) in cases {
        let backend = Backend::from_name(name).expect("backend");
        let rendered = backend.render("istio-beacon-k8s", "ctl", &policies);
        let mut obj = rendered
            .objects
            .iter()
            .find(|o| o["kind"] == kind)
            .expect("rendered")
            .clone();
        spoil(&mut obj);
        match apply(&server, &backend, &obj).await.expect_err("refused") {
            kube::Error::Api(s) => assert_eq!(s.code, 422, "{name} {kind}: {s:?}"),
            other => panic!("{name} {kind}: expected an API error, got {other:?}"),
        }
    }
}

#[test]
fn generated_policy_sets_render_admissible_objects_with_unique_names() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use std::collections::BTreeSet;

    let server = server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dns = |s: &str| {
        s.len() <= 253
            && s.split('.').all(|l| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
    };
    let applied = std::cell::Cell::new(0usize);
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &prop::collection::vec(backends_gen::policy(), 1..=4),
            |generated| {
                // Identical policies are one policy (Istio names them alike).
                let mut policies: Vec<MeshPolicy> = vec![];
                for p in generated {
                    if !policies.contains(&p) {
                        policies.push(p);
                    }
                }
                for backend in all_backends() {
                    let rendered = backend.render("istio-beacon-k8s", "ctl", &policies);
                    prop_assert_eq!(
                        &rendered,
                        &backend.render("istio-beacon-k8s", "ctl", &policies)
                    );
                    let mut keys = BTreeSet::new();
                    for obj in &rendered.objects {
                        let name = obj["metadata"]["name"].as_str().expect("name");
                        if backend != Backend::Istio {
                            // Istio's names are today's, unchanged (not sanitised).
                            prop_assert!(dns(name), "{name}");
                        }
                        prop_assert!(
                            keys.insert((
                                obj["kind"].to_string(),
                                obj["metadata"]["namespace"].to_string(),
                                name.to_string()
                            )),
                            "{} renders {} {name} twice",
                            backend.name(),
                            obj["kind"]
                        );
                        let stored = rt.block_on(apply(&server, &backend, obj));
                        prop_assert!(
                            stored.is_ok(),
                            "{} {}: {:?}\n{obj:#}",
                            backend.name(),
                            obj["kind"],
                            stored.err()
                        );
                        applied.set(applied.get() + 1);
                    }
                }
                Ok(())
            },
        )
        .unwrap();
    eprintln!(
        "backends_kube: {} generated objects accepted",
        applied.get()
    );
    assert!(applied.get() > 0);
}
