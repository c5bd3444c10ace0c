//! Expected results taken from Istio's documentation and tests. Each case names its source;
//! "proto" is istio/api `security/v1beta1/authorization_policy.proto` at v1.29.6, "baseline" is
//! istio/istio `tests/integration/ambient/baseline_test.go` at 1.29.6, "authz_test" is
//! istio/istio `tests/integration/security/authz_test.go` at 1.29.6, "rbac.rs" is
//! istio/ztunnel `src/rbac.rs` at 1.29.6.

use serde_json::json;

use super::*;

fn sleep() -> Peer {
    Peer::workload("default", "sleep")
}

// === proto examples ===

#[test]
fn authz_proto_allow_nothing_in_namespace_denies_every_workload_there() {
    // proto: "applies to all workloads in namespace `foo`. It allows nothing and effectively
    // denies all requests to workloads in namespace `foo`" (`spec: {}`).
    let p = [ap("foo", "allow-nothing", json!({}))];
    let e = eval(
        &p,
        &pod("foo", "httpbin", &[("app", "httpbin")]),
        &tcp(sleep(), Destination::Pod, 80),
    );
    let z = e.ztunnel().unwrap();
    assert_eq!(z.verdict, Verdict::Deny);
    assert_eq!(z.reason, Reason::NoAllowMatched);
    assert_eq!(z.closest, None);
    assert_eq!(z.allow_policies, vec!["foo/allow-nothing".to_string()]);
    // Other namespaces are untouched.
    let other = pod("bar", "httpbin", &[("app", "httpbin")]);
    assert_eq!(
        verdict(&p, &other, &tcp(sleep(), Destination::Pod, 80)),
        Verdict::Allow
    );
}

#[test]
fn authz_proto_allow_all_rule_allows_even_plaintext() {
    // proto: "The following authorization policy allows all requests to workloads in namespace
    // `foo`" (`rules: [{}]`).
    let p = [ap("foo", "allow-all", json!({"rules": [{}]}))];
    let t = pod("foo", "httpbin", &[("app", "httpbin")]);
    for peer in [sleep(), Peer::Plaintext] {
        let e = eval(&p, &t, &tcp(peer, Destination::Pod, 80));
        assert_eq!(
            e.ztunnel().unwrap().reason,
            Reason::AllowedBy(rule("foo", "allow-all", 0))
        );
    }
}

#[test]
fn authz_proto_allow_nothing_selector_applies_to_selected_pods_of_its_namespace() {
    // proto: allow-nothing with `selector: app: httpbin` in `bar` "denies all requests to the
    // selected workloads".
    let p = [ap(
        "bar",
        "allow-nothing",
        json!({"selector": {"matchLabels": {"app": "httpbin"}}}),
    )];
    let r = tcp(sleep(), Destination::Pod, 80);
    assert_eq!(
        verdict(
            &p,
            &pod("bar", "httpbin", &[("app", "httpbin"), ("v", "1")]),
            &r
        ),
        Verdict::Deny
    );
    assert_eq!(
        verdict(&p, &pod("bar", "other", &[("app", "other")]), &r),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&p, &pod("foo", "httpbin", &[("app", "httpbin")]), &r),
        Verdict::Allow
    );
}

#[test]
fn authz_proto_root_namespace_selector_applies_in_all_namespaces() {
    // proto: "applies to workloads containing label `version: v1` in all namespaces in the mesh
    // (Assuming the root namespace is configured to `istio-system`)".
    let p = [ap(
        "istio-system",
        "allow-nothing",
        json!({"selector": {"matchLabels": {"version": "v1"}}}),
    )];
    let r = tcp(sleep(), Destination::Pod, 80);
    for ns in ["foo", "bar", "istio-system"] {
        assert_eq!(
            verdict(&p, &pod(ns, "a", &[("version", "v1")]), &r),
            Verdict::Deny,
            "{ns}"
        );
        assert_eq!(
            verdict(&p, &pod(ns, "a", &[("version", "v2")]), &r),
            Verdict::Allow,
            "{ns}"
        );
    }
}

#[test]
fn authz_proto_deny_post_from_dev_at_the_waypoint() {
    // proto: "denies requests from the `dev` namespace to the `POST` method" (here attached to
    // the waypoint, where methods are enforced).
    let p = [ap(
        "foo",
        "httpbin",
        json!({"targetRefs": to_waypoint(), "action": "DENY", "rules": [{
            "from": [{"source": {"namespaces": ["dev"]}}],
            "to": [{"operation": {"methods": ["POST"]}}]}]}),
    )];
    let t = behind_waypoint("foo", "httpbin", false);
    let dev = Peer::workload("dev", "client");
    let e = eval(
        &p,
        &t,
        &http(dev.clone(), Destination::Service, 80, "POST", "/"),
    );
    assert_eq!(
        e.waypoint().unwrap().reason,
        Reason::DeniedBy(rule("foo", "httpbin", 0))
    );
    assert_eq!(
        verdict(&p, &t, &http(dev, Destination::Service, 80, "GET", "/")),
        Verdict::Allow
    );
    let prod = Peer::workload("prod", "client");
    assert_eq!(
        verdict(&p, &t, &http(prod, Destination::Service, 80, "POST", "/")),
        Verdict::Allow
    );
}

#[test]
fn authz_proto_deny_post_on_8080_denies_all_tcp_on_8080() {
    // proto: "When this rule is applied to TCP traffic, the `method` field ... cannot be
    // processed. For a `DENY` rule, missing attributes are treated as matches. This means all TCP
    // traffic on port `8080` would be denied".
    let spec = |attach: serde_json::Value| {
        let mut s = json!({"action": "DENY", "rules": [{"to": [{"operation": {"methods": ["POST"], "ports": ["8080"]}}]}]});
        if !attach.is_null() {
            s["targetRefs"] = attach;
        }
        s
    };
    // At the waypoint, a TCP Service port.
    let p = [ap("foo", "httpbin", spec(to_waypoint()))];
    let t = behind_waypoint("foo", "httpbin", false);
    let c = Peer::workload("foo", "client");
    assert_eq!(
        verdict(&p, &t, &tcp(c.clone(), Destination::Service, 8080)),
        Verdict::Deny
    );
    assert_eq!(
        verdict(&p, &t, &tcp(c.clone(), Destination::Service, 9090)),
        Verdict::Allow
    );
    // At ztunnel (namespace-wide policy), istiod keeps the DENY rule's port (authorization.go
    // handleRule: "For DENY they will always match, so it is more restrictive").
    let p = [ap("foo", "httpbin", spec(serde_json::Value::Null))];
    let t = pod("foo", "httpbin", &[]);
    let e = eval(&p, &t, &http(c.clone(), Destination::Pod, 8080, "GET", "/"));
    assert_eq!(
        e.ztunnel().unwrap().reason,
        Reason::DeniedBy(rule("foo", "httpbin", 0))
    );
    assert_eq!(
        verdict(&p, &t, &tcp(c, Destination::Pod, 9090)),
        Verdict::Allow
    );
}

fn proto_httpbin_example() -> serde_json::Value {
    // proto: the first example (sleep or namespace test; GET /info* or POST /data; when
    // request.auth.claims[iss]), attached to the waypoint.
    ap(
        "foo",
        "httpbin",
        json!({"targetRefs": to_waypoint(), "action": "ALLOW", "rules": [{
            "from": [{"source": {"principals": ["cluster.local/ns/default/sa/sleep"]}},
                     {"source": {"namespaces": ["test"]}}],
            "to": [{"operation": {"methods": ["GET"], "paths": ["/info*"]}},
                   {"operation": {"methods": ["POST"], "paths": ["/data"]}}],
            "when": [{"key": "request.auth.claims[iss]", "values": ["https://accounts.google.com"]}]}]}),
    )
}

#[test]
fn authz_proto_first_example_needs_the_jwt_to_decide_and_denies_other_operations() {
    let p = [proto_httpbin_example()];
    let t = behind_waypoint("foo", "httpbin", false);
    // The JWT's issuer decides: the evaluator does not guess.
    let e = eval(
        &p,
        &t,
        &http(sleep(), Destination::Service, 80, "GET", "/info/x"),
    );
    assert_eq!(e.waypoint().unwrap().verdict, Verdict::Undetermined);
    assert_eq!(e.verdict(), Verdict::Undetermined);
    // "Any other requests will be denied": a DELETE fails whatever the JWT says.
    let e = eval(
        &p,
        &t,
        &http(
            Peer::workload("test", "x"),
            Destination::Service,
            80,
            "DELETE",
            "/data",
        ),
    );
    let w = e.waypoint().unwrap();
    assert_eq!(w.verdict, Verdict::Deny);
    let c = w.closest.as_ref().unwrap();
    assert_eq!(c.rule, rule("foo", "httpbin", 0));
    assert_eq!(c.failed, vec!["method DELETE not in [POST]".to_string()]);
    // Neither the principal nor the namespace: denied.
    let e = eval(
        &p,
        &t,
        &http(
            Peer::workload("prod", "x"),
            Destination::Service,
            80,
            "GET",
            "/info",
        ),
    );
    assert_eq!(e.verdict(), Verdict::Deny);
}

#[test]
fn authz_proto_dry_run_policy_is_not_enforced() {
    // proto: the `istio.io/dry-run: "true"` example (DENY /headers) is not enforced.
    let mut p = ap(
        "foo",
        "dry-run-example",
        json!({"targetRefs": to_waypoint(), "action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/headers"]}}]}]}),
    );
    p["metadata"]["annotations"] = json!({"istio.io/dry-run": "true"});
    let t = behind_waypoint("foo", "httpbin", false);
    let e = eval(
        &[p.clone()],
        &t,
        &http(sleep(), Destination::Service, 80, "GET", "/headers"),
    );
    assert_eq!(e.verdict(), Verdict::Allow);
    assert!(e.waypoint().unwrap().notes[0].contains("dry-run"));
    // The same policy without the annotation denies.
    p["metadata"]["annotations"] = json!({});
    assert_eq!(
        verdict(
            &[p],
            &t,
            &http(sleep(), Destination::Service, 80, "GET", "/headers")
        ),
        Verdict::Deny
    );
}

#[test]
fn authz_proto_operation_example_hosts_methods_not_paths() {
    // proto (Operation): "matches if the host has suffix `.example.com` and the method is `GET`
    // or `HEAD` and the path doesn't have prefix `/admin`"; hosts match case-insensitively.
    let p = [ap(
        "foo",
        "op",
        json!({"targetRefs": to_waypoint(), "rules": [{"to": [{"operation": {
            "hosts": ["*.example.com"], "methods": ["GET", "HEAD"], "notPaths": ["/admin*"]}}]}]}),
    )];
    let t = behind_waypoint("foo", "httpbin", false);
    let req = |m: &str, host: &str, path: &str| Request {
        http: Some(Http::new(m, path, host)),
        ..Request::new(sleep(), Destination::Service, 80)
    };
    assert_eq!(
        verdict(&p, &t, &req("GET", "api.example.com", "/x")),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&p, &t, &req("HEAD", "API.EXAMPLE.COM", "/x")),
        Verdict::Allow
    );
    let e = eval(&p, &t, &req("GET", "api.example.com", "/admin/users"));
    assert_eq!(
        e.waypoint().unwrap().closest.as_ref().unwrap().failed,
        vec!["path /admin/users in notPaths [/admin*]".to_string()]
    );
    assert_eq!(
        verdict(&p, &t, &req("POST", "api.example.com", "/x")),
        Verdict::Deny
    );
    assert_eq!(
        verdict(&p, &t, &req("GET", "example.org", "/x")),
        Verdict::Deny
    );
}

// === istio.io docs/ambient/usage/l4-policy ===

fn allow_sleep_to_httpbin(extra_to: Option<serde_json::Value>) -> serde_json::Value {
    let mut rule =
        json!({"from": [{"source": {"principals": ["cluster.local/ns/ambient-demo/sa/sleep"]}}]});
    if let Some(to) = extra_to {
        rule["to"] = to;
    }
    ap(
        "ambient-demo",
        "allow-sleep-to-httpbin",
        json!({"selector": {"matchLabels": {"app": "httpbin"}}, "action": "ALLOW", "rules": [rule]}),
    )
}

#[test]
fn authz_docs_l4_policy_allows_only_sleep() {
    // l4-policy: "pods with the label `app: httpbin` only allow traffic from sources with an
    // identity principal of `cluster.local/ns/ambient-demo/sa/sleep`".
    let p = [allow_sleep_to_httpbin(None)];
    let t = pod("ambient-demo", "httpbin", &[("app", "httpbin")]);
    let ok = tcp(
        Peer::workload("ambient-demo", "sleep"),
        Destination::Pod,
        8000,
    );
    assert_eq!(verdict(&p, &t, &ok), Verdict::Allow);
    let e = eval(
        &p,
        &t,
        &tcp(
            Peer::workload("ambient-demo", "notsleep"),
            Destination::Pod,
            8000,
        ),
    );
    let z = e.ztunnel().unwrap();
    assert_eq!(z.verdict, Verdict::Deny);
    assert_eq!(
        z.closest.as_ref().unwrap().failed,
        vec![
            "principal cluster.local/ns/ambient-demo/sa/notsleep not in [cluster.local/ns/ambient-demo/sa/sleep]"
                .to_string()
        ]
    );
}

#[test]
fn authz_docs_l4_policy_with_l7_method_denies_at_ztunnel() {
    // l4-policy: adding `methods: ["GET"]` makes ztunnel deny even sleep ("command terminated
    // with exit code 56").
    let p = [allow_sleep_to_httpbin(Some(
        json!([{"operation": {"methods": ["GET"]}}]),
    ))];
    let t = pod("ambient-demo", "httpbin", &[("app", "httpbin")]);
    let r = http(
        Peer::workload("ambient-demo", "sleep"),
        Destination::Pod,
        8000,
        "GET",
        "/",
    );
    let e = eval(&p, &t, &r);
    let z = e.ztunnel().unwrap();
    assert_eq!(z.verdict, Verdict::Deny);
    assert_eq!(z.closest, None);
    assert!(
        z.notes
            .iter()
            .any(|n| n.contains("HTTP attributes (methods)")),
        "{:?}",
        z.notes
    );
}

#[test]
fn authz_docs_selector_policy_sees_the_waypoint_identity() {
    // l4-policy table: with a waypoint, a Selector policy is enforced by the destination
    // ztunnel and sees the waypoint's identity; without one, the client pod's.
    let p = [ap(
        "ns",
        "p",
        json!({"selector": {"matchLabels": {"app": "svc"}}, "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/ns/sa/client"]}}]}]}),
    )];
    let t = behind_waypoint("ns", "svc", false);
    let client = Peer::workload("ns", "client");
    let e = eval(&p, &t, &tcp(client.clone(), Destination::Service, 80));
    assert_eq!(e.waypoint().unwrap().verdict, Verdict::Allow);
    let z = e.ztunnel().unwrap();
    assert_eq!(z.peer, "cluster.local/ns/ns/sa/waypoint (the waypoint)");
    assert_eq!(z.verdict, Verdict::Deny);
    // Pod-addressed traffic skips a `waypoint-for: service` waypoint.
    let e = eval(&p, &t, &tcp(client, Destination::Pod, 80));
    assert!(e.waypoint().is_none());
    assert_eq!(e.verdict(), Verdict::Allow);
}

// === baseline_test.go ===

#[test]
fn authz_baseline_authorization_l4() {
    // baseline TestAuthorizationL4: the same rules on a waypoint policy (targetRefs Service,
    // group core) and a selector policy; "allow" lists the source and the waypoint, "not allow"
    // something/else.
    let both = |rules: serde_json::Value| {
        vec![
            ap(
                "apps",
                "policy-waypoint",
                json!({"targetRefs": [{"kind": "Service", "group": "core", "name": "svc"}], "rules": rules.clone()}),
            ),
            ap(
                "apps",
                "policy",
                json!({"selector": {"matchLabels": {"app": "svc"}}, "rules": rules}),
            ),
        ]
    };
    let allow = both(
        json!([{"from": [{"source": {"principals": ["cluster.local/ns/apps/sa/src", "cluster.local/ns/apps/sa/waypoint"]}}]}]),
    );
    let deny = both(
        json!([{"from": [{"source": {"principals": ["cluster.local/ns/something/sa/else"]}}]}]),
    );
    let src = Peer::workload("apps", "src");
    for t in [
        behind_waypoint("apps", "svc", false),
        pod("apps", "svc", &[("app", "svc")]),
    ] {
        let dest = if t.waypoint.is_some() {
            Destination::Service
        } else {
            Destination::Pod
        };
        assert_eq!(
            verdict(&allow, &t, &tcp(src.clone(), dest, 80)),
            Verdict::Allow
        );
        assert_eq!(
            verdict(&deny, &t, &tcp(src.clone(), dest, 80)),
            Verdict::Deny
        );
    }
    // Through the waypoint, the deny happens there and ztunnel is not reached.
    let e = eval(
        &deny,
        &behind_waypoint("apps", "svc", false),
        &tcp(src, Destination::Service, 80),
    );
    assert_eq!(e.waypoint().unwrap().verdict, Verdict::Deny);
    assert!(!e.ztunnel().unwrap().reached);
}

#[test]
fn authz_baseline_authorization_service_attached() {
    // baseline TestAuthorizationServiceAttached: a Service-attached policy binds only that
    // Service even when another Service uses the same waypoint.
    let p = [ap(
        "apps",
        "policy-waypoint",
        json!({"targetRefs": [{"kind": "Service", "group": "core", "name": "authz-dst"}],
               "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/something/sa/else"]}}]}]}),
    )];
    let src = Peer::workload("apps", "captured");
    let r = http(src.clone(), Destination::Service, 80, "GET", "/");
    assert_eq!(
        verdict(&p, &behind_waypoint("apps", "authz-dst", false), &r),
        Verdict::Deny
    );
    assert_eq!(
        verdict(&p, &behind_waypoint("apps", "other-dst", false), &r),
        Verdict::Allow
    );

    // Subtest "header": group "" and a request.headers condition.
    let p = [ap(
        "apps",
        "policy-header-match",
        json!({"targetRefs": [{"kind": "Service", "group": "", "name": "authz-dst"}], "action": "ALLOW",
               "rules": [{"when": [{"key": "request.headers[x-foo]", "values": ["x-bar"]}]}]}),
    )];
    let t = behind_waypoint("apps", "authz-dst", false);
    assert_eq!(
        verdict(&p, &t, &with_header(r.clone(), "x-foo", "x-bar")),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&p, &t, &with_header(r, "x-foo", "wrong-value")),
        Verdict::Deny
    );
}

#[test]
fn authz_baseline_waypoint_default_deny() {
    // baseline TestAuthorizationWaypointDefaultDeny, step by step (the test runs without
    // PILOT_AUTO_ALLOW_WAYPOINT_POLICY, whose default is false: pilot/pkg/features/ambient.go).
    let t = behind_waypoint("apps", "svc", false);
    let r = http(
        Peer::workload("apps", "src"),
        Destination::Service,
        80,
        "GET",
        "/",
    );
    let mut p = vec![ap("istio-system", "allow-nothing", json!({}))];
    // "allow-nothing": denied (by ztunnel; the waypoint has no policy).
    let e = eval(&p, &t, &r);
    assert_eq!(e.waypoint().unwrap().verdict, Verdict::Allow);
    assert_eq!(e.ztunnel().unwrap().verdict, Verdict::Deny);
    // "workload-allow-from-waypoint": a namespace policy for the waypoint's identity.
    p.push(ap(
        "apps",
        "allow-from-waypoint",
        json!({"action": "ALLOW", "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/apps/sa/waypoint"]}}]}]}),
    ));
    assert_eq!(verdict(&p, &t, &r), Verdict::Allow);
    // "allow-nothing-waypoint": GatewayClass istio-waypoint from the root namespace.
    p.push(ap(
        "istio-system",
        "allow-nothing-waypoint",
        json!({"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "GatewayClass", "name": "istio-waypoint"}]}),
    ));
    let e = eval(&p, &t, &r);
    assert_eq!(e.waypoint().unwrap().reason, Reason::NoAllowMatched);
    assert_eq!(e.verdict(), Verdict::Deny);
}

#[test]
fn authz_auto_allow_waypoint_lets_the_waypoint_through_and_denies_bypass() {
    // pilot/pkg/features/ambient.go PILOT_AUTO_ALLOW_WAYPOINT_POLICY: "zTunnel will receive
    // synthetic authorization policies for each workload ALLOW the Waypoint's identity. Unless
    // other ALLOW policies are created, this effectively denies traffic that doesn't go through
    // the waypoint."
    let t = behind_waypoint("apps", "svc", true);
    let src = Peer::workload("apps", "src");
    let e = eval(
        &[],
        &t,
        &http(src.clone(), Destination::Service, 80, "GET", "/"),
    );
    assert_eq!(
        e.ztunnel().unwrap().reason,
        Reason::AllowedBy(rule("apps", "istio_allow_waypoint_apps_waypoint", 0))
    );
    let e = eval(&[], &t, &tcp(src, Destination::Pod, 80));
    assert_eq!(e.ztunnel().unwrap().reason, Reason::NoAllowMatched);
    // Root allow-nothing (istio-k8s hardened mode) does not block the waypoint's traffic then.
    let p = [ap("istio-system", "allow-nothing", json!({}))];
    let r = http(
        Peer::workload("apps", "src"),
        Destination::Service,
        80,
        "GET",
        "/",
    );
    assert_eq!(verdict(&p, &t, &r), Verdict::Allow);
}

fn l7_policies() -> Vec<serde_json::Value> {
    // baseline TestAuthorizationL7: policySpec and denySpec, on the waypoint (targetRefs Gateway
    // `waypoint`) and, for the workload behind it, policySpecWL (the waypoint's identity).
    let spec = json!([
        {"to": [{"operation": {"paths": ["/allowed"], "methods": ["GET"]}}]},
        {"from": [{"source": {"principals": ["cluster.local/ns/apps/sa/src"]}}],
         "to": [{"operation": {"paths": ["/allowed-identity"], "methods": ["GET"]}}]},
        {"from": [{"source": {"principals": ["cluster.local/ns/apps/sa/someone-else"]}}],
         "to": [{"operation": {"paths": ["/denied-identity"], "methods": ["GET"]}}]},
        {"to": [{"operation": {"methods": ["GET"], "paths": ["/allowed-wildcard*"]}}]},
        {"to": [{"operation": {"methods": ["GET"], "paths": ["/headers"]}}],
         "when": [{"key": "request.headers[x-test-header]", "values": ["match"], "notValues": ["do-not-match"]}]},
        {"to": [{"operation": {"methods": ["POST"]}}]}
    ]);
    let deny = json!([{"to": [{"operation": {"paths": ["/explicit-deny"]}}]}]);
    vec![
        ap(
            "apps",
            "policy",
            json!({"selector": {"matchLabels": {"app": "svc"}},
            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/apps/sa/waypoint"]}}]}]}),
        ),
        ap(
            "apps",
            "policy-waypoint",
            json!({"targetRefs": to_waypoint(), "rules": spec}),
        ),
        ap(
            "apps",
            "deny-policy",
            json!({"selector": {"matchLabels": {"app": "svc"}}, "action": "DENY", "rules": deny.clone()}),
        ),
        ap(
            "apps",
            "deny-policy-waypoint",
            json!({"targetRefs": to_waypoint(), "action": "DENY", "rules": deny}),
        ),
    ]
}

#[test]
fn authz_baseline_authorization_l7_through_the_waypoint() {
    let p = l7_policies();
    let t = behind_waypoint("apps", "svc", false);
    let src = Peer::workload("apps", "src");
    let call = |m: &str, path: &str| http(src.clone(), Destination::Service, 80, m, path);
    let cases = [
        ("simple deny", call("GET", "/deny"), Verdict::Deny),
        ("simple allow", call("GET", "/allowed"), Verdict::Allow),
        (
            "identity deny",
            call("GET", "/denied-identity"),
            Verdict::Deny,
        ),
        (
            "identity allow",
            call("GET", "/allowed-identity"),
            Verdict::Allow,
        ),
        (
            "explicit deny",
            call("POST", "/explicit-deny"),
            Verdict::Deny,
        ),
        (
            "wildcard allow",
            call("GET", "/allowed-wildcardtest"),
            Verdict::Allow,
        ),
        (
            "headers allow",
            with_header(call("GET", "/headers"), "x-test-header", "match"),
            Verdict::Allow,
        ),
        (
            "headers deny",
            with_header(call("GET", "/headers"), "x-test-header", "do-not-match"),
            Verdict::Deny,
        ),
    ];
    for (name, r, want) in cases {
        assert_eq!(verdict(&p, &t, &r), want, "{name}");
    }
    let e = eval(&p, &t, &call("POST", "/explicit-deny"));
    assert_eq!(
        e.waypoint().unwrap().reason,
        Reason::DeniedBy(rule("apps", "deny-policy-waypoint", 0))
    );
}

#[test]
fn authz_baseline_authorization_l7_without_waypoint_is_denied_by_ztunnel() {
    // baseline TestAuthorizationL7 overrideCheck: "Only waypoint proxy can handle L7 policies"
    // (destination without waypoint, the L7 spec on the selector policy: CheckDeny).
    let mut p = l7_policies();
    p[0] = ap(
        "apps",
        "policy",
        json!({"selector": {"matchLabels": {"app": "svc"}}, "rules": p[1]["spec"]["rules"].clone()}),
    );
    let t = pod("apps", "svc", &[("app", "svc")]);
    let r = http(
        Peer::workload("apps", "src"),
        Destination::Pod,
        80,
        "GET",
        "/allowed",
    );
    let e = eval(&p, &t, &r);
    let z = e.ztunnel().unwrap();
    assert_eq!(z.verdict, Verdict::Deny);
    assert_eq!(z.reason, Reason::NoAllowMatched);
    assert_eq!(
        z.notes
            .iter()
            .filter(|n| n.contains("not in effect at ztunnel"))
            .count(),
        6
    );
}

// === ztunnel src/rbac.rs and src/state.rs ===

#[test]
fn authz_ztunnel_rbac_single_field_matches() {
    // rbac.rs `rbac_test!` cases: a one-field ALLOW policy against plaintext_conn (no identity,
    // 127.0.0.1 -> :8080), tls_conn (td/namespace/account, 127.0.0.1 -> :8080) and tls_conn_alt
    // (td-alt/ns-alt/sa=alt, 127.0.0.3 -> :9090).
    let conns = [
        (Peer::Plaintext, "127.0.0.1", 8080),
        (
            Peer::Workload {
                namespace: "namespace".into(),
                service_account: "account".into(),
                trust_domain: Some("td".into()),
            },
            "127.0.0.1",
            8080,
        ),
        (
            Peer::Workload {
                namespace: "ns-alt".into(),
                service_account: "sa=alt".into(),
                trust_domain: Some("td-alt".into()),
            },
            "127.0.0.3",
            9090,
        ),
    ];
    let cases: [(&str, serde_json::Value, [bool; 3]); 12] = [
        (
            "namespaces",
            json!({"from": [{"source": {"namespaces": ["namespace"]}}]}),
            [false, true, false],
        ),
        (
            "not_namespaces",
            json!({"from": [{"source": {"notNamespaces": ["namespace"]}}]}),
            [true, false, true],
        ),
        (
            "service_accounts",
            json!({"from": [{"source": {"serviceAccounts": ["namespace/account"]}}]}),
            [false, true, false],
        ),
        (
            "not_service_accounts",
            json!({"from": [{"source": {"notServiceAccounts": ["namespace/account"]}}]}),
            [true, false, true],
        ),
        (
            "principals",
            json!({"from": [{"source": {"principals": ["td/ns/namespace/sa/account"]}}]}),
            [false, true, false],
        ),
        (
            "not_principals",
            json!({"from": [{"source": {"notPrincipals": ["td/ns/namespace/sa/account"]}}]}),
            [true, false, true],
        ),
        (
            "source_ips",
            json!({"from": [{"source": {"ipBlocks": ["127.0.0.1/32"]}}]}),
            [true, true, false],
        ),
        (
            "not_source_ips",
            json!({"from": [{"source": {"notIpBlocks": ["127.0.0.1/32"]}}]}),
            [false, false, true],
        ),
        (
            "destination_ports",
            json!({"to": [{"operation": {"ports": ["8080"]}}]}),
            [true, true, false],
        ),
        (
            "not_destination_ports",
            json!({"to": [{"operation": {"notPorts": ["8080"]}}]}),
            [false, false, true],
        ),
        (
            "destination_ips",
            json!({"when": [{"key": "destination.ip", "values": ["127.0.0.2/32"]}]}),
            [true, true, false],
        ),
        (
            "cidr_range",
            json!({"when": [{"key": "destination.ip", "values": ["127.0.0.1/24"]}]}),
            [true, true, true],
        ),
    ];
    let t = pod("namespace", "dst", &[]);
    for (name, rule, want) in cases {
        let p = [ap("namespace", name, json!({"rules": [rule]}))];
        for ((peer, ip, port), want) in conns.iter().zip(want) {
            let dst = if *port == 8080 {
                "127.0.0.2"
            } else {
                "127.0.0.4"
            };
            let r = Request {
                source_ip: Some(ip.parse().unwrap()),
                destination_ip: Some(dst.parse().unwrap()),
                ..Request::new(peer.clone(), Destination::Pod, *port)
            };
            let got = verdict(&p, &t, &r);
            assert_eq!(got == Verdict::Allow, want, "{name} {peer:?}");
        }
    }
}

#[test]
fn authz_ztunnel_rbac_empty_policy_and_empty_match() {
    // rbac.rs `rbac_empty_policy`: no rules never match; a rule without clauses matches; a
    // clause holding only an empty match does not. An empty match is what istiod sends for a
    // `to` entry with only HTTP attributes in a DENY rule (istio/istio#61126: such a DENY "is not
    // enforced at all").
    let t = pod("ns", "httpbin", &[("app", "httpbin")]);
    let r = http(
        Peer::workload("ns", "client"),
        Destination::Pod,
        80,
        "GET",
        "/",
    );
    assert_eq!(
        verdict(&[ap("ns", "none", json!({"rules": []}))], &t, &r),
        Verdict::Deny
    );
    assert_eq!(
        verdict(&[ap("ns", "all", json!({"rules": [{}]}))], &t, &r),
        Verdict::Allow
    );
    let deny_l7 = ap(
        "ns",
        "deny-no-jwt",
        json!({"selector": {"matchLabels": {"app": "httpbin"}}, "action": "DENY",
               "rules": [{"from": [{"source": {"notRequestPrincipals": ["*"]}}]}]}),
    );
    assert_eq!(verdict(&[deny_l7], &t, &r), Verdict::Allow);
    // With an L4 entry beside the L7 one, the clause matches on the L4 entry alone.
    let mixed = ap(
        "ns",
        "mixed",
        json!({"action": "DENY", "rules": [{"to": [{"operation": {"methods": ["GET"]}}, {"operation": {"ports": ["80"]}}]}]}),
    );
    assert_eq!(verdict(&[mixed], &t, &r), Verdict::Deny);
}

#[test]
fn authz_ztunnel_state_deny_then_allow() {
    // state.rs `assert_rbac_logic_deny_allow`: namespace ns1 allows default/defaultacct and
    // denies default/denyacct; ns2 has no policy.
    let p = [
        ap(
            "ns1",
            "foo",
            json!({"rules": [{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/defaultacct"]}}]}]}),
        ),
        ap(
            "ns1",
            "deny",
            json!({"action": "DENY", "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/default/sa/denyacct"]}}]}]}),
        ),
    ];
    let r = |sa: &str| tcp(Peer::workload("default", sa), Destination::Pod, 80);
    assert_eq!(
        verdict(&p, &pod("ns2", "w", &[]), &r("not-defaultacct")),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&p, &pod("ns1", "w", &[]), &r("defaultacct")),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&p, &pod("ns1", "w", &[]), &r("not-defaultacct")),
        Verdict::Deny
    );
    let e = eval(&p, &pod("ns1", "w", &[]), &r("denyacct"));
    assert_eq!(
        e.ztunnel().unwrap().reason,
        Reason::DeniedBy(rule("ns1", "deny", 0))
    );
}

#[test]
fn authz_istiod_status_lists_the_l7_attributes_ztunnel_drops() {
    // istio ambient/authorization_test.go TestConvertAuthorizationPolicyStatus "unsupported HTTP
    // methods": "ztunnel does not support HTTP attributes (found: methods,
    // request.auth.presenter, requestPrincipals)", and the ALLOW rule is omitted.
    let p = [ap(
        "ns",
        "p",
        json!({"rules": [{"from": [{"source": {"requestPrincipals": ["example.com/sub-1"]}}],
                          "to": [{"operation": {"methods": ["GET"]}}],
                          "when": [{"key": "request.auth.presenter", "values": ["presenter.example.com"]}]}]}),
    )];
    let e = eval(
        &p,
        &pod("ns", "w", &[]),
        &tcp(Peer::workload("ns", "c"), Destination::Pod, 80),
    );
    let z = e.ztunnel().unwrap();
    assert_eq!(z.verdict, Verdict::Deny);
    assert!(
        z.notes[0].contains("(methods, request.auth.presenter, requestPrincipals)"),
        "{}",
        z.notes[0]
    );
    // "unsupported AUDIT action" / "unsupported CUSTOM action": not enforced by ztunnel; a
    // (legacy) targetRef policy is "not intended for ztunnel".
    let p = [
        ap("ns", "audit", json!({"action": "AUDIT", "rules": [{}]})),
        ap(
            "ns",
            "custom",
            json!({"action": "CUSTOM", "provider": {"name": "ext"}, "rules": [{}]}),
        ),
        ap(
            "ns",
            "svc",
            json!({"targetRef": {"kind": "Service", "name": "test-svc"}}),
        ),
    ];
    let e = eval(
        &p,
        &pod("ns", "w", &[]),
        &tcp(Peer::workload("ns", "c"), Destination::Pod, 80),
    );
    let z = e.ztunnel().unwrap();
    assert_eq!(z.reason, Reason::NoAllowPolicy);
    assert_eq!(z.notes.len(), 2);
}

// === paths: authz_test.go, the proto and Envoy's uri_template tests ===

#[test]
fn authz_test_path_templating() {
    // authz_test TestAuthz_PathTemplating with testdata/authz/path-templating.yaml.tmpl
    // (paths ["/allow/admin/{**}", "/foo/{*}/bar/{**}", "/store/{**}/cart"]), on the waypoint.
    let p = [ap(
        "apps",
        "svc",
        json!({"targetRefs": to_waypoint(), "action": "ALLOW",
               "rules": [{"to": [{"operation": {"paths": ["/allow/admin/{**}", "/foo/{*}/bar/{**}", "/store/{**}/cart"]}}]}]}),
    )];
    let t = behind_waypoint("apps", "svc", false);
    let cases = [
        ("/allow/admin/", true),
        ("/allow/admin", false),
        ("/allow/user/", false),
        ("/allow/admin?param=value", false),
        ("/allow", false),
        ("/allow/admin/temp", true),
        ("/allow/admin/temp.txt", true),
        ("/allow/admin/foo/temp.txt", true),
        ("/foo/buzz/bar/bat.txt", true),
        ("/foo/buzz/bar/bat.temp.txt", true),
        ("/foo/buzz/bar/bat/fuzz.txt", true),
        ("/foo/bar/bat.txt", false),
        ("/foo//bar/bat.txt", false),
        ("/foo/buzz/bar/bat", true),
        ("/store//cart", true),
        ("/store/cart", false),
        ("/store/foo/cart", true),
        ("/store/foo/bar/cart", true),
    ];
    for (path, allow) in cases {
        let r = http(
            Peer::workload("apps", "a"),
            Destination::Service,
            80,
            "GET",
            path,
        );
        assert_eq!(verdict(&p, &t, &r) == Verdict::Allow, allow, "{path}");
    }
}

#[test]
fn authz_test_path_precedence() {
    // authz_test TestAuthz_PathPrecedence with path-precedence.yaml.tmpl: DENY "/allow/admin",
    // ALLOW "/allow*"; the query string is not part of the path.
    let p = [
        ap(
            "apps",
            "deny",
            json!({"targetRefs": to_waypoint(), "action": "DENY", "rules": [{"to": [{"operation": {"paths": ["/allow/admin"]}}]}]}),
        ),
        ap(
            "apps",
            "allow",
            json!({"targetRefs": to_waypoint(), "action": "ALLOW", "rules": [{"to": [{"operation": {"paths": ["/allow*"]}}]}]}),
        ),
    ];
    let t = behind_waypoint("apps", "svc", false);
    for (path, allow) in [
        ("/allow/admin", false),
        ("/allow/admin?param=value", false),
        ("/allow", true),
        ("/allow?param=value", true),
    ] {
        let r = http(
            Peer::workload("apps", "a"),
            Destination::Service,
            80,
            "GET",
            path,
        );
        assert_eq!(verdict(&p, &t, &r) == Verdict::Allow, allow, "{path}");
    }
}

#[test]
fn authz_path_templates_from_proto_and_envoy() {
    use crate::authz::matchers::path_match;
    // proto (Operation.paths): `/foo/{*}` matches `/foo/bar` but not `/foo/bar/baz`;
    // `/foo/{*}/bar/{**}` matches `/foo/buzz/bar/` and `/foo/buzz/bar/baz`.
    assert!(path_match("/foo/{*}", "/foo/bar"));
    assert!(!path_match("/foo/{*}", "/foo/bar/baz"));
    assert!(path_match("/foo/{*}/bar/{**}", "/foo/buzz/bar/"));
    assert!(path_match("/foo/{*}/bar/{**}", "/foo/buzz/bar/baz"));
    // Envoy test/extensions/path/uri_template_lib/uri_template_internal_test.cc
    // (GenPatternRegexWithMatch / WithoutMatch), in Istio's `{*}`/`{**}` spelling.
    assert!(path_match(
        "/api/{*}/{*}/{**}",
        "/api/v1/1234/broadcasts/get"
    ));
    assert!(path_match("/api/{*}/{*}/", "/api/v1/1234/"));
    assert!(path_match("/v1/{**}", "/v1/broadcasts/12345/live"));
    assert!(!path_match("/media/{*}", "/media/eff456/ll-sd-out.js"));
    assert!(!path_match("/api/{*}/v1/{*}", "/api/v1/1234/"));
    assert!(!path_match("/api/{*}/v1/{**}", "/api/v1/1234/"));
    // PathGlobRegex: `*` never matches an empty segment or a literal `*`.
    assert!(!path_match("/a/{*}", "/a/"));
    assert!(!path_match("/a/{*}", "/a/*"));
    // builder testdata allow-path-in.yaml: exact, "/prefix/*", "*/suffix", "*" (presence).
    assert!(path_match("/exact", "/exact"));
    assert!(!path_match("/exact", "/exact/"));
    assert!(path_match("/prefix/*", "/prefix/x"));
    assert!(path_match("*/suffix", "/a/suffix"));
    assert!(path_match("*", "/"));
}

#[test]
fn authz_invalid_path_templates_are_not_understood() {
    // proto (Operation.paths): "`/*/baz/{*}` is not a valid path template", "`/**/baz/{*}`",
    // "`/{**}/foo/{*}` ... `{**}` is not the last operator", "`/foo/{*}.txt` is invalid".
    for bad in ["/*/baz/{*}", "/**/baz/{*}", "/{**}/foo/{*}", "/foo/{*}.txt"] {
        let p = ap(
            "apps",
            "bad",
            json!({"targetRefs": to_waypoint(), "rules": [{"to": [{"operation": {"paths": [bad]}}]}]}),
        );
        let nu = parse_policy(&p).unwrap_err();
        assert!(
            nu.reasons[0].contains("invalid path template"),
            "{bad}: {:?}",
            nu.reasons
        );
    }
}

// === conditions and not* (authz_test.go) ===

#[test]
fn authz_test_conditions_request_headers_and_not_method() {
    // authz_test TestAuthz_Conditions (conditions.yaml.tmpl, the request-headers policy) and
    // TestAuthz_NotMethod (not-method.yaml.tmpl: notMethods [PUT]), on the waypoint.
    let p = [ap(
        "apps",
        "svc-request-headers",
        json!({"targetRefs": to_waypoint(), "rules": [
            {"to": [{"operation": {"paths": ["/request-headers"]}}], "when": [{"key": "request.headers[x-foo]", "values": ["foo"]}]},
            {"to": [{"operation": {"paths": ["/request-headers-notValues"]}}], "when": [{"key": "request.headers[x-foo]", "notValues": ["bar"]}]}]}),
    )];
    let t = behind_waypoint("apps", "svc", false);
    let r = |path: &str| {
        http(
            Peer::workload("apps", "a"),
            Destination::Service,
            80,
            "GET",
            path,
        )
    };
    assert_eq!(
        verdict(&p, &t, &with_header(r("/request-headers"), "x-foo", "foo")),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&p, &t, &with_header(r("/request-headers"), "x-foo", "bar")),
        Verdict::Deny
    );
    assert_eq!(verdict(&p, &t, &r("/request-headers")), Verdict::Deny);
    assert_eq!(
        verdict(
            &p,
            &t,
            &with_header(r("/request-headers-notValues"), "x-foo", "foo")
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict(
            &p,
            &t,
            &with_header(r("/request-headers-notValues"), "x-foo", "bar")
        ),
        Verdict::Deny
    );

    let p = [ap(
        "apps",
        "svc-allow",
        json!({"targetRefs": to_waypoint(), "action": "ALLOW", "rules": [{"to": [{"operation": {"notMethods": ["PUT"]}}]}]}),
    )];
    assert_eq!(
        verdict(
            &p,
            &t,
            &http(
                Peer::workload("apps", "a"),
                Destination::Service,
                80,
                "GET",
                "/"
            )
        ),
        Verdict::Allow
    );
    let e = eval(
        &p,
        &t,
        &http(
            Peer::workload("apps", "a"),
            Destination::Service,
            80,
            "PUT",
            "/",
        ),
    );
    assert_eq!(
        e.waypoint().unwrap().closest.as_ref().unwrap().failed,
        vec!["method PUT in notMethods [PUT]".to_string()]
    );
}

#[test]
fn authz_ztunnel_string_match_cases() {
    use crate::authz::matchers::istio_string_match;
    // rbac.rs `string_match` test_case list (ztunnel StringMatch, as istiod's stringToMatch
    // builds it from "foo", "foo*", "*foo", "*").
    let cases = [
        ("foo", "foo", true),
        ("foo", "not", false),
        ("foo", "", false),
        ("foo*", "foobar", true),
        ("foo*", "notfoo", false),
        ("foo*", "", false),
        ("*foo", "barfoo", true),
        ("*foo", "foonot", false),
        ("*foo", "", false),
        ("*", "foo", true),
        ("*", "", false),
    ];
    for (pattern, value, want) in cases {
        assert_eq!(
            istio_string_match(pattern, value),
            want,
            "{pattern} {value}"
        );
    }
}

#[test]
fn authz_service_account_condition_is_l7_for_ztunnel() {
    // ambient/authorization.go `l4WhenAttributes` lists source.ip, source.namespace,
    // source.principal, destination.ip and destination.port only: a `source.serviceAccount`
    // condition makes istiod drop the ALLOW rule for ztunnel, while the waypoint (Envoy,
    // `srcServiceAccountGenerator`) matches it.
    let rules = json!([{"when": [{"key": "source.serviceAccount", "values": ["apps/src"]}]}]);
    let r = |dest| tcp(Peer::workload("apps", "src"), dest, 80);
    let z = [ap(
        "apps",
        "p",
        json!({"selector": {"matchLabels": {"app": "svc"}}, "rules": rules.clone()}),
    )];
    let e = eval(
        &z,
        &pod("apps", "svc", &[("app", "svc")]),
        &r(Destination::Pod),
    );
    assert_eq!(e.ztunnel().unwrap().verdict, Verdict::Deny);
    assert!(e.ztunnel().unwrap().notes[0].contains("(source.serviceAccount)"));
    let w = [ap(
        "apps",
        "p",
        json!({"targetRefs": to_waypoint(), "rules": rules}),
    )];
    let e = eval(
        &w,
        &behind_waypoint("apps", "svc", false),
        &r(Destination::Service),
    );
    assert_eq!(
        e.waypoint().unwrap().reason,
        Reason::AllowedBy(rule("apps", "p", 0))
    );
}

#[test]
fn authz_ports_are_decimal_strings() {
    // pkg/config/security/security.go `ValidatePorts` and ztunnel's `stringToPort` both parse
    // with `strconv.ParseUint(port, 10, ...)`: "080" is port 80; "http" is refused.
    let p = [ap(
        "ns",
        "p",
        json!({"rules": [{"to": [{"operation": {"ports": ["080"]}}]}]}),
    )];
    let t = pod("ns", "w", &[]);
    assert_eq!(
        verdict(
            &p,
            &t,
            &tcp(Peer::workload("ns", "c"), Destination::Pod, 80)
        ),
        Verdict::Allow
    );
    assert_eq!(
        verdict(
            &p,
            &t,
            &tcp(Peer::workload("ns", "c"), Destination::Pod, 8080)
        ),
        Verdict::Deny
    );
    let bad = ap(
        "ns",
        "p",
        json!({"rules": [{"to": [{"operation": {"ports": ["http"]}}]}]}),
    );
    assert!(parse_policy(&bad).is_err());
    let bad = ap(
        "ns",
        "p",
        json!({"rules": [{"to": [{"operation": {"ports": ["65536"]}}]}]}),
    );
    assert!(parse_policy(&bad).is_err());
}

#[test]
fn authz_header_wildcard_is_presence() {
    // pilot/pkg/security/authz/matcher/header.go `HeaderMatcher`: "*" becomes `PresentMatch`,
    // so a present header matches even when empty, and an absent one does not.
    let p = [ap(
        "apps",
        "p",
        json!({"targetRefs": to_waypoint(), "rules": [{"when": [{"key": "request.headers[X-Token]", "values": ["*"]}]}]}),
    )];
    let t = behind_waypoint("apps", "svc", false);
    let r = http(
        Peer::workload("apps", "a"),
        Destination::Service,
        80,
        "GET",
        "/",
    );
    assert_eq!(
        verdict(&p, &t, &with_header(r.clone(), "x-token", "")),
        Verdict::Allow
    );
    assert_eq!(
        verdict(&p, &t, &with_header(r.clone(), "x-token", "abc")),
        Verdict::Allow
    );
    assert_eq!(verdict(&p, &t, &r), Verdict::Deny);
}
