//! Examples of every backend's objects and outcomes, and of its evaluator.

use serde_json::json;

use super::*;
use crate::model::{Endpoint, Port};

fn endpoint(ports: &[u16], methods: &[Method], paths: &[&str]) -> Endpoint {
    let opt = |b: bool| b.then_some(());
    Endpoint {
        hosts: None,
        ports: opt(!ports.is_empty()).map(|_| ports.iter().map(|p| Port::from(*p)).collect()),
        methods: opt(!methods.is_empty()).map(|_| methods.to_vec()),
        paths: opt(!paths.is_empty()).map(|_| paths.iter().map(|p| p.to_string()).collect()),
    }
}

fn app_policy(src: &str, src_ns: &str, endpoints: Vec<Endpoint>) -> MeshPolicy {
    MeshPolicy {
        source_namespace: src_ns.into(),
        source_app_name: src.into(),
        target_namespace: "prod".into(),
        target_app_name: Some("mydb".into()),
        target_selector_labels: None,
        target_service: None,
        target_type: PolicyTargetType::App,
        endpoints,
    }
}

fn unit_policy(src: &str, selector: Option<LabelMap>, ports: &[u16]) -> MeshPolicy {
    MeshPolicy {
        target_app_name: selector.is_none().then(|| "mydb".into()),
        target_selector_labels: selector,
        target_type: PolicyTargetType::Unit,
        ..app_policy(src, "prod", vec![endpoint(ports, &[], &[])])
    }
}

fn request(src: &str, src_ns: &str, port: u16, http: Option<(&str, &str)>) -> MeshRequest {
    MeshRequest {
        source: Identity {
            namespace: src_ns.into(),
            service_account: src.into(),
        },
        namespace: "prod".into(),
        app: "mydb".into(),
        pod_labels: istio::pod_labels("mydb", &[]),
        port,
        http: http.map(|(m, p)| HttpRequest {
            method: m.into(),
            path: p.into(),
            host: "mydb".into(),
        }),
    }
}

#[test]
fn istio_backend_is_todays_builder_byte_for_byte() {
    let policies = vec![
        app_policy(
            "web",
            "prod",
            vec![endpoint(&[8080], &[Method::Get], &["/api*"])],
        ),
        unit_policy("web", None, &[9090]),
        // Refused by the builder: a unit policy with methods.
        MeshPolicy {
            endpoints: vec![endpoint(&[9090], &[Method::Get], &[])],
            ..unit_policy("api", None, &[])
        },
    ];
    let r = Backend::Istio.render("beacon", "ctl", &policies);
    let want: Vec<Value> = policies[..2]
        .iter()
        .map(|p| crate::istio::build_authorization_policy("beacon", "ctl", p).unwrap())
        .collect();
    assert_eq!(
        serde_json::to_string(&r.objects).unwrap(),
        serde_json::to_string(&want).unwrap()
    );
    assert_eq!(r.outcomes[..2], [Outcome::Exact, Outcome::Exact]);
    assert!(matches!(&r.outcomes[2], Outcome::Refused(m) if m.contains("UnitPolicy")));
}

#[test]
fn linkerd_one_server_per_app_and_port_shared_by_clients() {
    let policies = vec![
        app_policy("web", "prod", vec![endpoint(&[8080, 9090], &[], &[])]),
        unit_policy(
            "api",
            Some(vec![(APP_LABEL.into(), "mydb".into())]),
            &[8080],
        ),
        // Refused: methods need an HTTPRoute. Its refusal leaves the others intact.
        app_policy("bad", "prod", vec![endpoint(&[8080], &[Method::Get], &[])]),
        // Narrowed: the endpoint without ports is dropped.
        app_policy(
            "cron",
            "other",
            vec![
                endpoint(&[9090], &[], &[]),
                endpoint(&[], &[Method::Get], &[]),
            ],
        ),
    ];
    let backend = Backend::Linkerd(linkerd::LinkerdOptions::default());
    let r = backend.render("beacon", "ctl", &policies);
    assert_eq!(r.outcomes[0], Outcome::Exact);
    assert_eq!(r.outcomes[1], Outcome::Exact);
    assert!(matches!(&r.outcomes[2], Outcome::Refused(m) if m.contains("HTTPRoute")));
    // cron's HTTP endpoint makes its port endpoint HTTP-only in Istio: both dropped.
    assert!(
        matches!(&r.outcomes[3], Outcome::Refused(_)),
        "{:?}",
        r.outcomes[3]
    );
    assert_eq!(
        r.objects,
        vec![
            json!({"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server",
                   "metadata": {"name": "beacon-ctl-mydb-8080", "namespace": "prod"},
                   "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
                            "port": 8080, "accessPolicy": "deny"}}),
            json!({"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "MeshTLSAuthentication",
                   "metadata": {"name": "beacon-ctl-mydb-8080", "namespace": "prod"},
                   "spec": {"identities": [
                       "api.prod.serviceaccount.identity.linkerd.cluster.local",
                       "web.prod.serviceaccount.identity.linkerd.cluster.local"]}}),
            json!({"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "AuthorizationPolicy",
                   "metadata": {"name": "beacon-ctl-mydb-8080", "namespace": "prod"},
                   "spec": {"targetRef": {"group": "policy.linkerd.io", "kind": "Server",
                                          "name": "beacon-ctl-mydb-8080"},
                            "requiredAuthenticationRefs": [{"group": "policy.linkerd.io",
                                "kind": "MeshTLSAuthentication", "name": "beacon-ctl-mydb-8080"}]}}),
            json!({"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server",
                   "metadata": {"name": "beacon-ctl-mydb-9090", "namespace": "prod"},
                   "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
                            "port": 9090, "accessPolicy": "deny"}}),
            json!({"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "MeshTLSAuthentication",
                   "metadata": {"name": "beacon-ctl-mydb-9090", "namespace": "prod"},
                   "spec": {"identities": ["web.prod.serviceaccount.identity.linkerd.cluster.local"]}}),
            json!({"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "AuthorizationPolicy",
                   "metadata": {"name": "beacon-ctl-mydb-9090", "namespace": "prod"},
                   "spec": {"targetRef": {"group": "policy.linkerd.io", "kind": "Server",
                                          "name": "beacon-ctl-mydb-9090"},
                            "requiredAuthenticationRefs": [{"group": "policy.linkerd.io",
                                "kind": "MeshTLSAuthentication", "name": "beacon-ctl-mydb-9090"}]}}),
        ]
    );
    let o = linkerd::LinkerdOptions::default();
    let deny = linkerd::DefaultPolicy::Deny;
    let ev = |src: &str, port: u16| {
        linkerd::evaluate(&o, deny, &r.objects, &request(src, "prod", port, None))
    };
    assert!(ev("web", 8080) && ev("web", 9090) && ev("api", 8080));
    assert!(!ev("api", 9090) && !ev("bad", 8080) && !ev("web", 443));
    // A port without a Server gets the default policy.
    assert!(linkerd::evaluate(
        &o,
        linkerd::DefaultPolicy::AllAuthenticated,
        &r.objects,
        &request("bad", "prod", 443, None)
    ));
    // Other control planes and trust domains.
    let o2 = linkerd::LinkerdOptions {
        control_plane_namespace: "l5d".into(),
        trust_domain: "example.org".into(),
    };
    assert_eq!(
        o2.identity("prod", "web"),
        "web.prod.serviceaccount.identity.l5d.example.org"
    );
}

#[test]
fn smi_traffic_target_per_source_with_routes() {
    let policies = vec![
        app_policy(
            "web",
            "prod",
            vec![endpoint(
                &[],
                &[Method::Get, Method::Post],
                &["/api*", "/a.b", "/u/{*}"],
            )],
        ),
        app_policy("web", "prod", vec![endpoint(&[5432], &[], &[])]),
        // Refused: HTTP attributes limited to ports.
        app_policy("api", "prod", vec![endpoint(&[8080], &[Method::Get], &[])]),
        // Refused: a Service other than the app's.
        MeshPolicy {
            target_service: Some("mydb-admin".into()),
            ..app_policy("api", "prod", vec![endpoint(&[5432], &[], &[])])
        },
    ];
    let r = Backend::Smi.render("beacon", "ctl", &policies);
    assert!(
        matches!(&r.outcomes[0], Outcome::Narrowed(m) if m.contains("/u/{*}")),
        "{:?}",
        r.outcomes
    );
    assert_eq!(r.outcomes[1], Outcome::Exact);
    assert!(matches!(&r.outcomes[2], Outcome::Refused(m) if m.contains("ports")));
    assert!(matches!(&r.outcomes[3], Outcome::Refused(_)));
    let meta = json!({"name": "beacon-ctl-mydb-web-prod", "namespace": "prod"});
    assert_eq!(
        r.objects,
        vec![
            json!({"apiVersion": "specs.smi-spec.io/v1alpha4", "kind": "TCPRoute", "metadata": meta,
                   "spec": {"matches": {"ports": [5432]}}}),
            json!({"apiVersion": "specs.smi-spec.io/v1alpha4", "kind": "HTTPRouteGroup", "metadata": meta,
                   "spec": {"matches": [
                       {"name": "m0", "pathRegex": "^/a\\.b$", "methods": ["GET", "POST"]},
                       {"name": "m1", "pathRegex": "^/api.*$", "methods": ["GET", "POST"]}]}}),
            json!({"apiVersion": "access.smi-spec.io/v1alpha3", "kind": "TrafficTarget", "metadata": meta,
                   "spec": {"destination": {"kind": "ServiceAccount", "name": "mydb", "namespace": "prod"},
                            "rules": [{"kind": "TCPRoute", "name": "beacon-ctl-mydb-web-prod"},
                                      {"kind": "HTTPRouteGroup", "name": "beacon-ctl-mydb-web-prod",
                                       "matches": ["m0", "m1"]}],
                            "sources": [{"kind": "ServiceAccount", "name": "web", "namespace": "prod"}]}}),
        ]
    );
    let ev =
        |src: &str, port: u16, http| smi::evaluate(&r.objects, &request(src, "prod", port, http));
    assert!(ev("web", 5432, None));
    assert!(ev("web", 8080, Some(("GET", "/api/v1"))));
    assert!(ev("web", 8080, Some(("POST", "/a.b"))));
    assert!(!ev("web", 8080, Some(("POST", "/aXb"))));
    assert!(!ev("web", 8080, Some(("DELETE", "/api"))));
    assert!(!ev("web", 8080, None));
    assert!(!ev("api", 5432, None));
}

#[test]
fn consul_one_intentions_per_destination() {
    let policies = vec![
        app_policy(
            "web",
            "prod",
            vec![endpoint(
                &[],
                &[Method::Get],
                &["/api*", "/health", "*.png", "*"],
            )],
        ),
        app_policy("web", "prod", vec![endpoint(&[], &[Method::Post], &[])]),
        app_policy("api", "other", vec![endpoint(&[8080], &[Method::Get], &[])]),
        unit_policy("api", None, &[9090]),
    ];
    let backend = Backend::Consul(consul::ConsulOptions {
        namespace_prefix: "k8s-".into(),
    });
    let r = backend.render("beacon", "ctl", &policies);
    assert_eq!(r.outcomes[..2], [Outcome::Exact, Outcome::Exact]);
    assert!(matches!(&r.outcomes[2], Outcome::Refused(m) if m.contains("no ports")));
    assert!(matches!(&r.outcomes[3], Outcome::Refused(m) if m.contains("per service")));
    assert_eq!(
        r.objects,
        vec![json!({
            "apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceIntentions",
            "metadata": {"name": "beacon-ctl-mydb", "namespace": "prod"},
            "spec": {
                "destination": {"name": "mydb", "namespace": "k8s-prod"},
                "sources": [{"name": "web", "namespace": "k8s-prod", "permissions": [
                    {"action": "allow", "http": {"pathPrefix": "/api", "methods": ["GET"]}},
                    {"action": "allow", "http": {"pathExact": "/health", "methods": ["GET"]}},
                    {"action": "allow", "http": {"pathRegex": "^.*\\.png$", "methods": ["GET"]}},
                    {"action": "allow", "http": {"methods": ["GET"]}},
                    {"action": "allow", "http": {"methods": ["POST"]}},
                ]}],
            },
        })]
    );
    let Backend::Consul(o) = &backend else {
        unreachable!()
    };
    let ev =
        |src: &str, ns: &str, http| consul::evaluate(o, &r.objects, &request(src, ns, 8080, http));
    assert!(ev("web", "prod", Some(("GET", "/anything"))));
    assert!(ev("web", "prod", Some(("POST", "/x"))));
    assert!(!ev("web", "prod", Some(("DELETE", "/api"))));
    assert!(!ev("web", "prod", None));
    assert!(!ev("web", "other", Some(("GET", "/api"))));
    // A `*` source yields to an exact one (precedence), and an L4 action decides alone.
    let extra = json!({"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceIntentions",
        "metadata": {"name": "x", "namespace": "prod"},
        "spec": {"destination": {"name": "mydb"}, "sources": [
            {"name": "*", "namespace": "*", "action": "allow"}]}});
    let mut objs = r.objects.clone();
    objs.push(extra);
    let req = request("web", "prod", 8080, Some(("DELETE", "/api")));
    assert!(!consul::evaluate(o, &objs, &req));
    assert!(consul::evaluate(
        o,
        &objs,
        &request("api", "other", 1, None)
    ));
}

#[test]
fn names_are_dns_subdomains_and_distinct() {
    assert_eq!(
        object_name(&["beacon", "ctl", "mydb", "8080"], 253),
        "beacon-ctl-mydb-8080"
    );
    let long = "a".repeat(200);
    let a = object_name(&["beacon", "ctl", &long, "web", "prod"], 253);
    let b = object_name(&["beacon", "ctl", &long, "web", "prod2"], 253);
    assert!(a.len() <= 253 && is_dns_subdomain(&a) && a != b, "{a}");
    let c = object_name(&["Beacon", "ctl", "my_db"], 63);
    assert!(
        is_dns_subdomain(&c) && c.starts_with("beacon-ctl-mydb-"),
        "{c}"
    );
    assert!(is_dns_subdomain(&object_name(&["-", "_"], 63)));
}

#[test]
fn istio_paths_read_and_become_regexes() {
    assert_eq!(PathMatch::parse("*"), PathMatch::Any);
    assert_eq!(PathMatch::parse("/a*"), PathMatch::Prefix("/a".into()));
    assert_eq!(PathMatch::parse("*.png"), PathMatch::Suffix(".png".into()));
    assert_eq!(PathMatch::parse("/a/b"), PathMatch::Exact("/a/b".into()));
    for p in ["/a/{*}", "/a/{**}", "/a*b", "*a*"] {
        assert!(matches!(PathMatch::parse(p), PathMatch::Other(_)), "{p}");
    }
    assert_eq!(PathMatch::parse("/a.b").to_regex().unwrap(), "^/a\\.b$");
}

#[test]
fn backend_names_round_trip() {
    for n in ["istio", "smi", "consul", "linkerd"] {
        assert_eq!(Backend::from_name(n).unwrap().name(), n);
    }
    assert_eq!(Backend::from_name("cilium"), None);
    assert_eq!(Backend::default(), Backend::Istio);
}
