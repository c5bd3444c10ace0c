//! Examples of every backend's objects and outcomes, and of its evaluator.

use std::collections::BTreeSet;

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
        // Refused: a Server is one port. Its refusal leaves the others intact.
        app_policy("bad", "prod", vec![endpoint(&[], &[Method::Get], &[])]),
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
    assert!(matches!(&r.outcomes[2], Outcome::Refused(m) if m.contains("one port")));
    // cron's HTTP endpoint has no port: dropped; it makes its port endpoint HTTP-only in
    // Istio, which an HTTPRoute says (below).
    assert!(
        matches!(&r.outcomes[3], Outcome::Narrowed(m) if m.contains("one port")),
        "{:?}",
        r.outcomes[3]
    );
    let l4: Vec<&Value> = r
        .objects
        .iter()
        .filter(|o| {
            o["kind"] != "HTTPRoute" && !o["metadata"]["name"].as_str().unwrap().contains("-http-")
        })
        .collect();
    assert_eq!(
        l4,
        [
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
        .iter()
        .collect::<Vec<_>>()
    );
    let o = linkerd::LinkerdOptions::default();
    let deny = linkerd::DefaultPolicy::Deny;
    let ev = |src: &str, src_ns: &str, port: u16, http: Option<(&str, &str)>| {
        linkerd::evaluate(&o, deny, &r.objects, &request(src, src_ns, port, http))
    };
    assert!(ev("web", "prod", 8080, None) && ev("web", "prod", 9090, None));
    assert!(ev("api", "prod", 8080, None));
    assert!(!ev("api", "prod", 9090, None) && !ev("bad", "prod", 8080, None));
    assert!(!ev("web", "prod", 443, None));
    // Port 9090 has routes now (cron's HTTP-only access): web keeps every HTTP request (the
    // catch-all route), cron has HTTP only.
    assert!(ev("web", "prod", 9090, Some(("PUT", "/x"))));
    assert!(ev("cron", "other", 9090, Some(("PUT", "/x"))));
    assert!(!ev("cron", "other", 9090, None));
    assert!(!ev("api", "prod", 9090, Some(("GET", "/"))));
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

/// Decisions of one rendering, Linkerd's against Istio's, on `requests`.
fn linkerd_vs_istio(policies: &[MeshPolicy], requests: &[MeshRequest]) -> Vec<(bool, bool)> {
    let l = Backend::Linkerd(linkerd::LinkerdOptions::default()).render("beacon", "ctl", policies);
    let i = Backend::Istio.render("beacon", "ctl", policies);
    requests
        .iter()
        .map(|r| {
            (
                linkerd::evaluate(
                    &linkerd::LinkerdOptions::default(),
                    linkerd::DefaultPolicy::Deny,
                    &l.objects,
                    r,
                ),
                istio::evaluate(&i.objects, r).expect("decided"),
            )
        })
        .collect()
}

#[test]
fn linkerd_methods_and_http_only_ports_are_exact_routes() {
    let policies = vec![
        // GET and HEAD on any path of 8080: exact.
        app_policy(
            "web",
            "prod",
            vec![endpoint(&[8080], &[Method::Get, Method::Head], &[])],
        ),
        // Any HTTP request on 8080 (a port endpoint next to an HTTP one) and POST /jobs:
        // narrowed (a path), yet the port endpoint is exact.
        app_policy(
            "cron",
            "other",
            vec![
                endpoint(&[8080], &[], &[]),
                endpoint(&[9090], &[Method::Post], &["/jobs"]),
            ],
        ),
        // Any connection on 8080.
        app_policy("backup", "prod", vec![endpoint(&[8080], &[], &[])]),
    ];
    let backend = Backend::Linkerd(linkerd::LinkerdOptions::default());
    let r = backend.render("beacon", "ctl", &policies);
    assert_eq!(r.outcomes[0], Outcome::Exact);
    assert!(matches!(&r.outcomes[1], Outcome::Narrowed(m) if m.contains("best-matching")));
    assert_eq!(r.outcomes[2], Outcome::Exact);
    let routes: Vec<&Value> = r
        .objects
        .iter()
        .filter(|o| o["kind"] == "HTTPRoute")
        .collect();
    // 8080: web's GET/HEAD route (cron too: any HTTP), and the catch-all (cron); 9090: cron's
    // POST /jobs and the catch-all (nobody).
    assert_eq!(routes.len(), 4, "{routes:#?}");
    for route in &routes {
        let parent = &route["spec"]["parentRefs"][0];
        assert_eq!(parent["kind"], "Server");
        assert_eq!(parent["group"], "policy.linkerd.io");
        assert!(
            parent["name"]
                .as_str()
                .unwrap()
                .starts_with("beacon-ctl-mydb-")
        );
    }
    let web_route = routes
        .iter()
        .find(|r| r["spec"]["rules"][0]["matches"][0]["method"] == "GET")
        .expect("web's route");
    assert_eq!(
        web_route["spec"]["rules"],
        json!([{"matches": [
            {"path": {"type": "PathPrefix", "value": "/"}, "method": "GET"},
            {"path": {"type": "PathPrefix", "value": "/"}, "method": "HEAD"},
        ]}])
    );
    let authn = r
        .objects
        .iter()
        .find(|o| {
            o["kind"] == "MeshTLSAuthentication"
                && o["metadata"]["name"] == web_route["metadata"]["name"]
        })
        .expect("the route's clients");
    assert_eq!(
        authn["spec"]["identities"],
        json!([
            "cron.other.serviceaccount.identity.linkerd.cluster.local",
            "web.prod.serviceaccount.identity.linkerd.cluster.local"
        ])
    );
    let reqs: Vec<MeshRequest> = [
        ("web", "prod", 8080, Some(("GET", "/x"))),
        ("web", "prod", 8080, Some(("HEAD", "/"))),
        ("web", "prod", 8080, Some(("POST", "/x"))),
        ("web", "prod", 8080, Some(("get", "/x"))),
        ("web", "prod", 8080, None),
        ("cron", "other", 8080, Some(("DELETE", "/x"))),
        ("cron", "other", 8080, None),
        ("cron", "other", 9090, Some(("POST", "/jobs"))),
        ("cron", "other", 9090, Some(("POST", "/jobs/1"))),
        ("cron", "other", 9090, Some(("GET", "/jobs"))),
        ("backup", "prod", 8080, Some(("PATCH", "/y"))),
        ("backup", "prod", 8080, None),
        ("backup", "prod", 9090, None),
    ]
    .into_iter()
    .map(|(s, n, p, h)| request(s, n, p, h))
    .collect();
    for ((l, i), r) in linkerd_vs_istio(&policies, &reqs).into_iter().zip(&reqs) {
        assert_eq!(l, i, "{r:?}");
    }
}

#[test]
fn linkerd_paths_render_as_exact_or_escaped_regex_and_never_widen() {
    let policies = vec![
        // Method-only: exact next to any path client.
        app_policy("web", "prod", vec![endpoint(&[8080], &[Method::Get], &[])]),
        app_policy(
            "api",
            "prod",
            vec![endpoint(
                &[8080],
                &[],
                &["/api*", "/a.b", "*.png", "/u/{*}"],
            )],
        ),
        app_policy(
            "ui",
            "other",
            vec![endpoint(&[8080], &[Method::Post], &["/api"])],
        ),
    ];
    let backend = Backend::Linkerd(linkerd::LinkerdOptions::default());
    let r = backend.render("beacon", "ctl", &policies);
    assert_eq!(r.outcomes[0], Outcome::Exact);
    assert!(matches!(&r.outcomes[1], Outcome::Narrowed(m) if m.contains("{*}")));
    assert!(matches!(&r.outcomes[2], Outcome::Narrowed(_)));
    let paths: BTreeSet<String> = r
        .objects
        .iter()
        .filter(|o| o["kind"] == "HTTPRoute")
        .flat_map(|o| o["spec"]["rules"].as_array().unwrap().clone())
        .flat_map(|rule| rule["matches"].as_array().unwrap().clone())
        .map(|m| {
            let value = m["path"]["value"].as_str().unwrap();
            format!("{} {} {value}", m["method"], m["path"]["type"])
        })
        .collect();
    assert_eq!(
        paths,
        [
            r#""GET" "Exact" /a.b"#,
            r#""GET" "PathPrefix" /"#,
            r#""GET" "RegularExpression" (?s)^.*\.png$"#,
            r#""GET" "RegularExpression" (?s)^/api.*$"#,
            r#""POST" "Exact" /api"#,
            r#"null "Exact" /a.b"#,
            r#"null "PathPrefix" /"#,
            r#"null "RegularExpression" (?s)^.*\.png$"#,
            r#"null "RegularExpression" (?s)^/api.*$"#,
        ]
        .map(String::from)
        .into()
    );
    let reqs: Vec<MeshRequest> = ["web", "api", "ui"]
        .into_iter()
        .flat_map(|s| {
            [
                ("GET", "/api"),
                ("GET", "/apix/y.png"),
                ("POST", "/api"),
                ("POST", "/aXb"),
                ("PUT", "/a.b"),
                ("GET", "/"),
                ("DELETE", "/x.png"),
                ("GET", "/u/1"),
            ]
            .map(|h| request(s, if s == "ui" { "other" } else { "prod" }, 8080, Some(h)))
        })
        .collect();
    let decisions = linkerd_vs_istio(&policies, &reqs);
    for ((l, i), r) in decisions.iter().zip(&reqs) {
        assert!(!l || *i, "wider than Istio: {r:?}");
        // web (GET on any path) is exact whatever the path clients render.
        if r.source.service_account == "web" {
            assert_eq!(l, i, "{r:?}");
        }
    }
    // `/a.b` is matched exactly, the `.` is no wildcard.
    let allowed = |s: &str, m: &str, p: &str| {
        let ns = if s == "ui" { "other" } else { "prod" };
        linkerd::evaluate(
            &linkerd::LinkerdOptions::default(),
            linkerd::DefaultPolicy::Deny,
            &r.objects,
            &request(s, ns, 8080, Some((m, p))),
        )
    };
    assert!(allowed("api", "PUT", "/a.b") && !allowed("api", "PUT", "/aXb"));
    assert!(allowed("api", "DELETE", "/x.png") && allowed("api", "GET", "/apix"));
    assert!(!allowed("api", "GET", "/u/1") && !allowed("ui", "GET", "/api"));
}

#[test]
fn linkerd_routes_split_at_the_crd_limits_and_drop_nothing() {
    // 9 methods x 15 paths: 135 matches for one set of clients, more than one route holds
    // (16 rules of 8 matches).
    let paths: Vec<String> = (0..15).map(|i| format!("/p{i}")).collect();
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let policies = vec![app_policy(
        "web",
        "prod",
        vec![endpoint(&[8080], &Method::ALL, &paths)],
    )];
    let backend = Backend::Linkerd(linkerd::LinkerdOptions::default());
    let r = backend.render("beacon", "ctl", &policies);
    assert!(matches!(&r.outcomes[0], Outcome::Narrowed(_)));
    let routes: Vec<&Value> = r
        .objects
        .iter()
        .filter(|o| o["kind"] == "HTTPRoute")
        .collect();
    // Two routes for web's matches, and the catch-all.
    assert_eq!(routes.len(), 3);
    let mut matches = 0;
    for route in &routes {
        let rules = route["spec"]["rules"].as_array().unwrap();
        assert!(rules.len() <= 16);
        for rule in rules {
            let m = rule["matches"].as_array().unwrap();
            assert!(!m.is_empty() && m.len() <= 8);
            matches += m.len();
        }
        // Each route of web's is authorized by its own policy, with the one authentication.
        let name = route["metadata"]["name"].as_str().unwrap();
        let policy = r
            .objects
            .iter()
            .find(|o| o["kind"] == "AuthorizationPolicy" && o["metadata"]["name"] == name);
        if route["spec"]["rules"][0]["matches"][0]["method"].is_string() {
            let policy = policy.expect("authorized");
            assert_eq!(policy["spec"]["targetRef"]["kind"], "HTTPRoute");
            assert!(name.ends_with("-0") || name.ends_with("-1"), "{name}");
        } else {
            assert!(policy.is_none(), "the catch-all authorizes nobody");
        }
    }
    assert_eq!(matches, 135 + 1);
    let o = linkerd::LinkerdOptions::default();
    for (m, p, want) in [
        ("TRACE", "/p14", true),
        ("GET", "/p0", true),
        ("GET", "/p15", false),
    ] {
        assert_eq!(
            linkerd::evaluate(
                &o,
                linkerd::DefaultPolicy::Deny,
                &r.objects,
                &request("web", "prod", 8080, Some((m, p)))
            ),
            want,
            "{m} {p}"
        );
    }
}

#[test]
fn linkerd_evaluator_follows_route_precedence() {
    let o = linkerd::LinkerdOptions::default();
    let server = json!({"apiVersion": "policy.linkerd.io/v1beta3", "kind": "Server",
        "metadata": {"name": "s", "namespace": "prod"},
        "spec": {"podSelector": {"matchLabels": {APP_LABEL: "mydb"}}, "port": 80}});
    let route = |name: &str, matches: Value| {
        json!({"apiVersion": "policy.linkerd.io/v1beta3", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "prod"},
            "spec": {"parentRefs": [{"group": "policy.linkerd.io", "kind": "Server", "name": "s"}],
                     "rules": [{"matches": matches}]}})
    };
    let allow = |target: &str, sa: &str| {
        vec![
            json!({"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "AuthorizationPolicy",
                "metadata": {"name": target, "namespace": "prod"},
                "spec": {"targetRef": {"group": "policy.linkerd.io", "kind": "HTTPRoute", "name": target},
                         "requiredAuthenticationRefs": [{"group": "policy.linkerd.io",
                             "kind": "MeshTLSAuthentication", "name": target}]}}),
            json!({"apiVersion": "policy.linkerd.io/v1alpha1", "kind": "MeshTLSAuthentication",
                "metadata": {"name": target, "namespace": "prod"},
                "spec": {"identities": [o.identity("prod", sa)]}}),
        ]
    };
    let mut objects = vec![
        server,
        route(
            "a-prefix",
            json!([{"path": {"type": "PathPrefix", "value": "/foo/"}}]),
        ),
        route(
            "b-exact",
            json!([{"path": {"type": "Exact", "value": "/foo/bar"}}]),
        ),
        route(
            "c-get",
            json!([{"path": {"type": "PathPrefix", "value": "/"}, "method": "GET"}]),
        ),
    ];
    objects.extend(allow("a-prefix", "pfx"));
    objects.extend(allow("b-exact", "exact"));
    objects.extend(allow("c-get", "get"));
    let ev = |sa: &str, m: &str, p: &str| {
        linkerd::evaluate(
            &o,
            linkerd::DefaultPolicy::Deny,
            &objects,
            &request(sa, "prod", 80, Some((m, p))),
        )
    };
    // PathPrefix is segment-wise: /foo/ matches /foo and /foo/x, not /foobar.
    assert!(ev("pfx", "PUT", "/foo") && ev("pfx", "PUT", "/foo/x"));
    assert!(!ev("pfx", "PUT", "/foobar"));
    // The longest path match wins: /foo/bar goes to the exact route only.
    assert!(ev("exact", "PUT", "/foo/bar") && !ev("pfx", "PUT", "/foo/bar"));
    // A method match ranks below a longer path match, above an equal one.
    assert!(!ev("get", "GET", "/foo/x") && ev("get", "GET", "/other"));
    // No route matches: 404 for everyone.
    assert!(!ev("pfx", "PUT", "/other"));
    // Not HTTP: the Server's authorizations only.
    assert!(!linkerd::evaluate(
        &o,
        linkerd::DefaultPolicy::Deny,
        &objects,
        &request("pfx", "prod", 80, None)
    ));
    // A parentRef with a port voids the route: back to the default route (Server authz).
    let mut voided = objects.clone();
    for r in voided.iter_mut().filter(|o| o["kind"] == "HTTPRoute") {
        r["spec"]["parentRefs"][0]["port"] = json!(80);
    }
    assert!(!linkerd::evaluate(
        &o,
        linkerd::DefaultPolicy::Deny,
        &voided,
        &request("pfx", "prod", 80, Some(("PUT", "/foo")))
    ));
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
