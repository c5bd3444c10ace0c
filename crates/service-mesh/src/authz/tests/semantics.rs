//! The beacon's own policies (beacon-contract §4 example) read through the evaluator, the
//! operator-facing text, and how policies the crate does not understand are reported.

use serde_json::json;

use super::*;

const WAYPOINT: &str = "prod-istio-beacon-k8s-waypoint";
const APP_POLICY: &str = "istio-beacon-k8s-prod-policy-myapp-prod-mydb-a6cb41c3";

/// The three policies of beacon-contract.md §4 (example reconcile).
fn beacon_example() -> Vec<Value> {
    vec![
        ap(
            "prod",
            APP_POLICY,
            json!({"targetRefs": [{"group": "", "kind": "Service", "name": "mydb"}],
                   "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/prod/sa/myapp"]}}],
                              "to": [{"operation": {"ports": ["5432", "8080"], "methods": ["GET", "POST"], "paths": ["/api", "/health"]}}]}]}),
        ),
        ap(
            "prod",
            "istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a",
            json!({"selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
                   "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/cos/sa/prometheus"]}}],
                              "to": [{"operation": {"ports": ["9090"]}}]}]}),
        ),
        ap(
            "prod",
            "istio-beacon-k8s-prod-policy-otel-collector-prod-istio-beacon-k8s-7d3e1c59",
            json!({"selector": {"matchLabels": {"app.kubernetes.io/name": "istio-beacon-k8s"}},
                   "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/prod/sa/otel-collector"]}}],
                              "to": [{"operation": {"ports": ["15090"]}}]}]}),
        ),
    ]
}

fn mydb() -> Target {
    Target {
        namespace: "prod".into(),
        service: Some("mydb".into()),
        pod_labels: labels(&[("app.kubernetes.io/name", "mydb")]),
        service_account: "mydb".into(),
        waypoint: Some(Waypoint::named("prod", WAYPOINT)),
        auto_allow_waypoint: true,
    }
}

#[test]
fn authz_beacon_example_denied_method_reads_like_an_answer() {
    let r = http(
        Peer::workload("prod", "myapp"),
        Destination::Service,
        8080,
        "DELETE",
        "/api",
    );
    let e = eval(&beacon_example(), &mydb(), &r);
    assert_eq!(e.verdict(), Verdict::Deny);
    assert_eq!(
        e.to_string(),
        format!(
            "denied at waypoint prod/{WAYPOINT} for cluster.local/ns/prod/sa/myapp: 1 ALLOW policy \
             applies to Service prod/mydb (prod/{APP_POLICY}) and none matches; closest: \
             prod/{APP_POLICY} rule 0 allows from cluster.local/ns/prod/sa/myapp GET, POST on \
             /api, /health port 5432, 8080, but method DELETE not in [GET, POST]\n\
             not reached: ztunnel (destination prod, service account mydb)"
        )
    );
}

#[test]
fn authz_beacon_example_allowed_paths() {
    let r = http(
        Peer::workload("prod", "myapp"),
        Destination::Service,
        8080,
        "GET",
        "/health",
    );
    let e = eval(&beacon_example(), &mydb(), &r);
    assert_eq!(
        e.waypoint().unwrap().reason,
        Reason::AllowedBy(rule("prod", APP_POLICY, 0))
    );
    // Behind the waypoint, ztunnel sees the waypoint: the synthetic auto-allow lets it in.
    let z = e.ztunnel().unwrap();
    assert_eq!(
        z.reason,
        Reason::AllowedBy(rule(
            "prod",
            &format!("istio_allow_waypoint_prod_{WAYPOINT}"),
            0
        ))
    );
    assert_eq!(
        e.to_string().lines().nth(1).unwrap(),
        format!(
            "allowed at ztunnel (destination prod, service account mydb) for \
             cluster.local/ns/prod/sa/{WAYPOINT} (the waypoint): \
             prod/istio_allow_waypoint_prod_{WAYPOINT} rule 0 allows it"
        )
    );
}

#[test]
fn authz_beacon_unit_policy_lets_prometheus_scrape_pods_only() {
    let prom = Peer::workload("cos", "prometheus");
    // Pod IP on 9090: the unit (selector) policy.
    let e = eval(
        &beacon_example(),
        &mydb(),
        &tcp(prom.clone(), Destination::Pod, 9090),
    );
    assert_eq!(e.verdict(), Verdict::Allow);
    // Another port on the pod: the auto-allow policy makes the pod default-deny.
    let e = eval(
        &beacon_example(),
        &mydb(),
        &tcp(prom.clone(), Destination::Pod, 8080),
    );
    let z = e.ztunnel().unwrap();
    assert_eq!(z.verdict, Verdict::Deny);
    assert_eq!(
        z.closest.as_ref().unwrap().failed,
        vec!["port 8080 not in [9090]".to_string()]
    );
    // Through the Service, the app policy (which does not list prometheus) applies.
    let r = http(prom, Destination::Service, 9090, "GET", "/metrics");
    assert_eq!(
        eval(&beacon_example(), &mydb(), &r)
            .waypoint()
            .unwrap()
            .verdict,
        Verdict::Deny
    );
}

#[test]
fn authz_tcp_through_the_waypoint_skips_allow_rules_with_http_fields() {
    // builder.go / model.go: on a TCP chain an ALLOW rule with an HTTP-only attribute is
    // skipped ("is HTTP only"), so the Service's TCP port is denied.
    let r = tcp(Peer::workload("prod", "myapp"), Destination::Service, 5432);
    let e = eval(&beacon_example(), &mydb(), &r);
    let w = e.waypoint().unwrap();
    assert_eq!(w.verdict, Verdict::Deny);
    assert_eq!(w.closest, None);
    assert!(
        w.notes[0].contains("HTTP-only attributes (methods, paths) on a TCP connection"),
        "{:?}",
        w.notes
    );
}

#[test]
fn authz_hardened_mode_needs_explicit_allows() {
    // istio-k8s hardened mode (beacon-contract §3.13): root allow-nothing for ztunnel and for all
    // waypoints. The app policy still allows myapp through the waypoint.
    let mut p = beacon_example();
    p.push(ap(
        "istio-system",
        "istio-k8s-policy-global-allow-nothing-ztunnel",
        json!({}),
    ));
    p.push(ap(
        "istio-system",
        "istio-k8s-policy-global-allow-nothing-waypoint",
        json!({"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "GatewayClass", "name": "istio-waypoint"}]}),
    ));
    let ok = http(
        Peer::workload("prod", "myapp"),
        Destination::Service,
        8080,
        "POST",
        "/api",
    );
    assert_eq!(verdict(&p, &mydb(), &ok), Verdict::Allow);
    // Without auto-allow, the waypoint's own traffic needs an explicit ztunnel allow.
    let t = Target {
        auto_allow_waypoint: false,
        ..mydb()
    };
    let e = eval(&p, &t, &ok);
    assert_eq!(e.waypoint().unwrap().verdict, Verdict::Allow);
    assert_eq!(e.ztunnel().unwrap().verdict, Verdict::Deny);
    assert_eq!(
        e.ztunnel().unwrap().allow_policies,
        vec![
            "prod/istio-beacon-k8s-prod-policy-prometheus-cos-mydb-8b6b794a".to_string(),
            "istio-system/istio-k8s-policy-global-allow-nothing-ztunnel".to_string(),
        ]
    );
}

#[test]
fn authz_principal_wildcards_and_trust_domains() {
    // proto (Rule): "Any string field in the rule supports Exact, Prefix, Suffix and Presence".
    let t = pod("prod", "db", &[]);
    let allow = |principal: &str| {
        [ap(
            "prod",
            "p",
            json!({"rules": [{"from": [{"source": {"principals": [principal]}}]}]}),
        )]
    };
    let other_td = Peer::Workload {
        namespace: "prod".into(),
        service_account: "app".into(),
        trust_domain: Some("other.td".into()),
    };
    let app = Peer::workload("prod", "app");
    let r = |p: Peer| tcp(p, Destination::Pod, 80);
    assert_eq!(
        verdict(&allow("*/ns/prod/sa/app"), &t, &r(other_td.clone())),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&allow("cluster.local/ns/prod/sa/app"), &t, &r(other_td)),
        Verdict::Deny
    );
    assert_eq!(
        verdict(&allow("cluster.local/ns/prod/*"), &t, &r(app.clone())),
        Verdict::Allow
    );
    assert_eq!(
        verdict(
            &allow("cluster.local/ns/prod/*"),
            &t,
            &r(Peer::workload("dev", "app"))
        ),
        Verdict::Deny
    );
    assert_eq!(verdict(&allow("*"), &t, &r(app)), Verdict::Allow);
    assert_eq!(verdict(&allow("*"), &t, &r(Peer::Plaintext)), Verdict::Deny);
}

#[test]
fn authz_not_understood_policies_are_reported_and_never_allow() {
    let t = pod("prod", "db", &[("app", "db")]);
    let r = tcp(Peer::workload("prod", "app"), Destination::Pod, 80);
    // An unknown field: the policy's attachment cannot be trusted either.
    let typo = ap("prod", "typo", json!({"rulez": [{}]}));
    let e = eval(std::slice::from_ref(&typo), &t, &r);
    assert_eq!(e.verdict(), Verdict::Undetermined);
    assert_eq!(e.not_understood.len(), 1);
    assert!(
        e.not_understood[0].reasons[0].contains("unknown field `rulez`"),
        "{:?}",
        e.not_understood
    );
    // Not understood but attached elsewhere (selector app=other): no effect here.
    let elsewhere = ap(
        "prod",
        "elsewhere",
        json!({"selector": {"matchLabels": {"app": "other"}}, "rules": [{"when": [{"key": "no.such.key", "values": ["x"]}]}]}),
    );
    assert_eq!(
        verdict(std::slice::from_ref(&elsewhere), &t, &r),
        Verdict::Allow
    );
    // A matching DENY decides whatever the unknown policy says.
    let deny = ap("prod", "deny", json!({"action": "DENY", "rules": [{}]}));
    assert_eq!(verdict(&[typo.clone(), deny], &t, &r), Verdict::Deny);
    // An allow by rule stands next to an unknown ALLOW, not next to an unknown DENY.
    let allow = ap("prod", "allow", json!({"rules": [{}]}));
    let unknown_allow = ap(
        "prod",
        "u",
        json!({"rules": [{"to": [{"operation": {"ports": ["http"]}}]}]}),
    );
    assert_eq!(
        verdict(&[allow.clone(), unknown_allow], &t, &r),
        Verdict::Allow
    );
    let unknown_deny = ap(
        "prod",
        "u",
        json!({"action": "DENY", "rules": [{"to": [{"operation": {"ports": ["http"]}}]}]}),
    );
    let e = eval(&[allow, unknown_deny], &t, &r);
    assert_eq!(e.verdict(), Verdict::Undetermined);
    assert_eq!(
        e.ztunnel().unwrap().reason,
        Reason::Undetermined(vec![
            "prod/u applies here but is not understood (rule 0: ports: \"http\" is not a port number)"
                .to_string(),
            "otherwise prod/allow rule 0 allows it".to_string(),
        ])
    );
}

#[test]
fn authz_webhook_refusals_are_not_understood() {
    // SOURCES §3 / validation.go: each of these is refused at admission.
    let cases = [
        (
            json!({"rules": [{"to": [{"operation": {"ports": []}}]}]}),
            "to.operation must not be empty",
        ),
        (
            json!({"rules": [{"from": [{"source": {}}]}]}),
            "from.source must not be empty",
        ),
        (json!({"action": "DENY"}), "DENY action without rules"),
        (
            json!({"action": "CUSTOM", "rules": [{}]}),
            "CUSTOM action without provider.name",
        ),
        (
            json!({"rules": [{"when": [{"key": "source.ip"}]}]}),
            "needs values or notValues",
        ),
        (
            json!({"rules": [{"from": [{"source": {"serviceAccounts": ["a"], "principals": ["b"]}}]}]}),
            "cannot set serviceAccounts with namespaces or principals",
        ),
        (
            json!({"selector": {"matchLabels": {"a": "b"}}, "targetRefs": [{"kind": "Service", "name": "s"}]}),
            "only one of targetRefs or selector",
        ),
        (
            json!({"rules": [{"from": [{"source": {"ipBlocks": ["10.0.0.0/33"]}}]}]}),
            "is not an IP or CIDR",
        ),
    ];
    for (spec, why) in cases {
        let nu = parse_policy(&ap("ns", "p", spec.clone())).unwrap_err();
        assert!(
            nu.reasons.iter().any(|r| r.contains(why)),
            "{spec}: {:?}",
            nu.reasons
        );
    }
    // `to: []` is "no to" (SOURCES §3): it matches every operation.
    let p = parse_policy(&ap("ns", "p", json!({"rules": [{"to": []}]}))).unwrap();
    assert_eq!(p.rules, vec![Rule::default()]);
}

#[test]
fn authz_gateway_and_service_attachment_rules() {
    // policyattachment.go ShouldAttachPolicy: a Service ref binds in the Service's namespace
    // only; a Gateway ref needs the gateway API group and the waypoint's namespace; a
    // GatewayClass ref only from the root namespace.
    let t = behind_waypoint("apps", "svc", false);
    let r = http(
        Peer::workload("apps", "a"),
        Destination::Service,
        80,
        "GET",
        "/",
    );
    let deny_all = |ns: &str, refs: serde_json::Value| [ap(ns, "p", json!({"targetRefs": refs}))];
    let svc = json!([{"kind": "Service", "name": "svc"}]);
    assert_eq!(
        verdict(&deny_all("apps", svc.clone()), &t, &r),
        Verdict::Deny
    );
    assert_eq!(verdict(&deny_all("other", svc), &t, &r), Verdict::Allow);
    assert_eq!(
        verdict(
            &deny_all(
                "apps",
                json!([{"group": "core", "kind": "Service", "name": "svc2"}])
            ),
            &t,
            &r
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict(
            &deny_all("apps", json!([{"kind": "Gateway", "name": WP}])),
            &t,
            &r
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&deny_all("apps", to_waypoint()), &t, &r),
        Verdict::Deny
    );
    let class = json!([{"group": "gateway.networking.k8s.io", "kind": "GatewayClass", "name": "istio-waypoint"}]);
    assert_eq!(
        verdict(&deny_all("apps", class.clone()), &t, &r),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&deny_all("istio-system", class), &t, &r),
        Verdict::Deny
    );
    // Plaintext clients do not go through the waypoint.
    let e = eval(
        &deny_all("apps", to_waypoint()),
        &t,
        &tcp(Peer::Plaintext, Destination::Service, 80),
    );
    assert!(e.waypoint().is_none());
    assert_eq!(e.verdict(), Verdict::Allow);
}

#[test]
fn authz_waypoint_ref_from_labels_follows_istiod() {
    // waypoints.go getUseWaypoint / fetchWaypointForTarget.
    let none = BTreeMap::new();
    let svc = labels(&[("istio.io/use-waypoint", "wp")]);
    let ns = labels(&[
        ("istio.io/use-waypoint", "ns-wp"),
        ("istio.io/use-waypoint-namespace", "infra"),
    ]);
    assert_eq!(
        waypoint_ref_from_labels("apps", &svc, &ns),
        Some(("apps".into(), "wp".into()))
    );
    assert_eq!(
        waypoint_ref_from_labels("apps", &none, &ns),
        Some(("infra".into(), "ns-wp".into()))
    );
    let opt_out = labels(&[("istio.io/use-waypoint", "none")]);
    assert_eq!(waypoint_ref_from_labels("apps", &opt_out, &ns), None);
    assert_eq!(waypoint_ref_from_labels("apps", &none, &none), None);
}

#[test]
fn authz_ip_rules_at_the_waypoint_are_undetermined() {
    // istio/istio#46982: behind HBONE the waypoint's RBAC sees `envoy://internal_client_address/`
    // as the source IP, so the evaluator does not decide an ipBlocks rule there; ztunnel, on a
    // direct connection, sees the client's address.
    let rules = json!([{"from": [{"source": {"ipBlocks": ["10.1.0.0/16"]}}]}]);
    let ip = Some("10.1.2.3".parse().unwrap());
    let w = [ap(
        "apps",
        "p",
        json!({"targetRefs": to_waypoint(), "rules": rules.clone()}),
    )];
    let r = Request {
        source_ip: ip,
        ..tcp(Peer::workload("apps", "a"), Destination::Service, 80)
    };
    let e = eval(&w, &behind_waypoint("apps", "svc", false), &r);
    assert_eq!(e.waypoint().unwrap().verdict, Verdict::Undetermined);
    assert!(
        e.to_string().contains(
            "source IP unknown (the client address as the waypoint sees it is not modelled)"
        ),
        "{e}"
    );
    let z = [ap("apps", "p", json!({"rules": rules}))];
    let r = Request {
        source_ip: ip,
        ..tcp(Peer::workload("apps", "a"), Destination::Pod, 80)
    };
    assert_eq!(verdict(&z, &pod("apps", "svc", &[]), &r), Verdict::Allow);
    let r = Request {
        source_ip: None,
        ..r
    };
    assert_eq!(
        verdict(&z, &pod("apps", "svc", &[]), &r),
        Verdict::Undetermined
    );
}

#[test]
fn authz_policy_without_namespace_may_apply_anywhere() {
    // An object whose metadata cannot be read is not understood, and where it applies is unknown.
    let nameless = json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                          "metadata": {}, "spec": {"action": "DENY", "rules": [{}]}});
    let e = eval(
        &[nameless],
        &pod("prod", "db", &[]),
        &tcp(Peer::workload("prod", "a"), Destination::Pod, 80),
    );
    assert_eq!(e.verdict(), Verdict::Undetermined);
    assert!(
        e.not_understood[0].reasons[0]
            .contains("metadata.namespace and metadata.name are required")
    );
}
