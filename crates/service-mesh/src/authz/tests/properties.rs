//! Properties that follow from Istio's evaluation order (proto comment on AuthorizationPolicy:
//! "1. If there are any CUSTOM policies that match the request, evaluate and deny ... 2. If there
//! are any DENY policies that match the request, deny the request. 3. If there are no ALLOW
//! policies for the workload, allow the request. 4. If any of the ALLOW policies match the
//! request, allow the request. 5. Deny the request.") and from ztunnel being L4-only.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;

use super::*;

const CASES: u32 = 512;

fn opt_list(values: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(select(values), 0..=max)
        .prop_map(|v| v.into_iter().map(String::from).collect())
}

fn source() -> impl Strategy<Value = Value> {
    let principals: &'static [&'static str] = &[
        "cluster.local/ns/prod/sa/app",
        "cluster.local/ns/dev/sa/app",
        "*/sa/app",
        "cluster.local/ns/prod/*",
        "cluster.local/ns/prod/sa/waypoint",
        "*",
    ];
    let namespaces: &'static [&'static str] = &["prod", "dev", "pr*", "*"];
    let ips: &'static [&'static str] = &["10.0.0.0/8", "10.1.2.3", "192.168.0.0/16"];
    (
        opt_list(principals, 2),
        opt_list(principals, 1),
        opt_list(namespaces, 2),
        opt_list(namespaces, 1),
        opt_list(ips, 1),
        opt_list(ips, 1),
        any::<bool>(),
    )
        .prop_map(|(p, np, n, nn, ip, nip, sa)| {
            if sa {
                return json!({"serviceAccounts": ["prod/app", "other"]});
            }
            let mut s = serde_json::Map::new();
            for (k, v) in [
                ("principals", p),
                ("notPrincipals", np),
                ("namespaces", n),
                ("notNamespaces", nn),
                ("ipBlocks", ip),
                ("notIpBlocks", nip),
            ] {
                if !v.is_empty() {
                    s.insert(k.into(), json!(v));
                }
            }
            if s.is_empty() {
                s.insert("principals".into(), json!(["*"]));
            }
            Value::Object(s)
        })
}

fn operation() -> impl Strategy<Value = Value> {
    let ports: &'static [&'static str] = &["80", "8080", "9090"];
    let methods: &'static [&'static str] = &["GET", "POST", "DELETE", "G*"];
    let paths: &'static [&'static str] = &["/api", "/api/*", "*/health", "/{*}/x", "/a/{**}", "*"];
    let hosts: &'static [&'static str] = &["svc", "*.example.com", "SVC*"];
    (
        opt_list(ports, 2),
        opt_list(ports, 1),
        opt_list(methods, 2),
        opt_list(methods, 1),
        opt_list(paths, 2),
        opt_list(paths, 1),
        opt_list(hosts, 1),
    )
        .prop_map(|(p, np, m, nm, pa, npa, h)| {
            let mut o = serde_json::Map::new();
            for (k, v) in [
                ("ports", p),
                ("notPorts", np),
                ("methods", m),
                ("notMethods", nm),
                ("paths", pa),
                ("notPaths", npa),
                ("hosts", h),
            ] {
                if !v.is_empty() {
                    o.insert(k.into(), json!(v));
                }
            }
            if o.is_empty() {
                o.insert("ports".into(), json!(["80"]));
            }
            Value::Object(o)
        })
}

fn condition() -> impl Strategy<Value = Value> {
    let keys: &'static [(&'static str, &'static [&'static str])] = &[
        ("source.namespace", &["prod", "d*"]),
        ("source.principal", &["cluster.local/ns/prod/sa/app", "*"]),
        ("destination.port", &["80", "9090"]),
        ("source.ip", &["10.0.0.0/8"]),
        ("request.headers[x-a]", &["1", "*"]),
        ("source.serviceAccount", &["prod/app"]),
    ];
    (select(keys), any::<bool>(), 0usize..2).prop_map(|((k, vals), negate, i)| {
        let field = if negate { "notValues" } else { "values" };
        json!({"key": k, field: [vals[i % vals.len()]]})
    })
}

fn rule_value() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(source(), 0..=2),
        prop::collection::vec(operation(), 0..=2),
        prop::collection::vec(condition(), 0..=2),
    )
        .prop_map(|(from, to, when)| {
            let mut r = serde_json::Map::new();
            if !from.is_empty() {
                r.insert(
                    "from".into(),
                    json!(
                        from.into_iter()
                            .map(|s| json!({"source": s}))
                            .collect::<Vec<_>>()
                    ),
                );
            }
            if !to.is_empty() {
                r.insert(
                    "to".into(),
                    json!(
                        to.into_iter()
                            .map(|o| json!({"operation": o}))
                            .collect::<Vec<_>>()
                    ),
                );
            }
            if !when.is_empty() {
                r.insert("when".into(), json!(when));
            }
            Value::Object(r)
        })
}

/// (namespace, attachment part of the spec)
fn attachment() -> impl Strategy<Value = (String, Value)> {
    select(vec![
        ("prod", json!({})),
        ("istio-system", json!({})),
        ("prod", json!({"selector": {"matchLabels": {"app": "svc"}}})),
        ("prod", json!({"selector": {"matchLabels": {"app": "other"}}})),
        ("istio-system", json!({"selector": {"matchLabels": {"app": "svc"}}})),
        ("prod", json!({"targetRefs": [{"kind": "Service", "name": "svc"}]})),
        ("prod", json!({"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": WP}]})),
        ("istio-system", json!({"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "GatewayClass", "name": "istio-waypoint"}]})),
        ("dev", json!({})),
    ])
    .prop_map(|(ns, a)| (ns.to_string(), a))
}

fn policy_with(action: &'static str) -> impl Strategy<Value = Value> {
    (
        attachment(),
        prop::collection::vec(rule_value(), 0..=3),
        0u32..1_000_000,
    )
        .prop_map(move |((ns, mut spec), rules, id)| {
            spec["action"] = json!(action);
            // DENY needs `rules` (validation); an ALLOW without the key is allow-nothing.
            if !rules.is_empty() || action == "DENY" {
                spec["rules"] = json!(rules);
            }
            ap(&ns, &format!("{}-{id}", action.to_ascii_lowercase()), spec)
        })
}

fn policy() -> impl Strategy<Value = Value> {
    prop_oneof![policy_with("ALLOW"), policy_with("DENY")]
}

fn target() -> impl Strategy<Value = Target> {
    (any::<bool>(), any::<bool>()).prop_map(|(waypoint, auto)| {
        if waypoint {
            behind_waypoint("prod", "svc", auto)
        } else {
            Target {
                service: Some("svc".into()),
                ..pod("prod", "svc", &[("app", "svc")])
            }
        }
    })
}

fn http_part() -> impl Strategy<Value = Option<Http>> {
    let methods: &'static [&'static str] = &["GET", "POST", "DELETE", "PUT"];
    let paths: &'static [&'static str] = &[
        "/api",
        "/api/v1",
        "/x/health",
        "/a/x",
        "/a/b/c",
        "/q/x?y=1",
        "/",
    ];
    let hosts: &'static [&'static str] = &["svc", "svc.prod", "a.example.com"];
    prop::option::of(
        (
            select(methods),
            select(paths),
            select(hosts),
            prop::option::of(select(&["1", "2"][..])),
        )
            .prop_map(|(m, p, h, x)| {
                let mut http = Http::new(m, p, h);
                if let Some(x) = x {
                    http.headers.insert("X-A".into(), x.into());
                }
                http
            }),
    )
}

fn request() -> impl Strategy<Value = Request> {
    let peers = vec![
        Peer::workload("prod", "app"),
        Peer::workload("dev", "app"),
        Peer::workload("prod", "other"),
        Peer::Plaintext,
    ];
    (
        select(peers),
        any::<bool>(),
        select(&[80u16, 8080, 9090][..]),
        select(&["10.1.2.3", "192.168.1.1"][..]),
        http_part(),
    )
        .prop_map(|(source, to_service, port, ip, http)| Request {
            source,
            source_ip: Some(ip.parse().unwrap()),
            destination: if to_service {
                Destination::Service
            } else {
                Destination::Pod
            },
            destination_ip: None,
            port,
            target_port: None,
            http,
        })
}

fn all_parse(policies: &[Value]) -> bool {
    policies.iter().all(|p| parse_policy(p).is_ok())
}

fn verdicts(e: &Evaluation) -> Vec<(EnforcementPoint, Verdict)> {
    e.decisions
        .iter()
        .map(|d| (d.point.clone(), d.verdict))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Adding a rule to an ALLOW policy that already applies never turns an allow into a deny,
    /// at any enforcement point.
    #[test]
    fn authz_prop_more_allow_rules_never_deny_more(
        mut policies in prop::collection::vec(policy(), 1..5),
        pick in any::<prop::sample::Index>(),
        extra in rule_value(),
        new_policy in any::<bool>(),
        t in target(),
        r in request(),
    ) {
        prop_assume!(all_parse(&policies));
        let allows: Vec<usize> = (0..policies.len())
            .filter(|i| policies[*i]["spec"]["action"] == "ALLOW")
            .collect();
        prop_assume!(!allows.is_empty());
        let before = eval(&policies, &t, &r);
        let i = allows[pick.index(allows.len())];
        if new_policy {
            // A second ALLOW policy attached exactly like an existing one.
            let mut p = policies[i].clone();
            p["metadata"]["name"] = json!("added");
            p["spec"]["rules"] = json!([extra]);
            policies.push(p);
        } else {
            let rules = policies[i]["spec"]["rules"].as_array().cloned().unwrap_or_default();
            let mut rules = rules;
            rules.push(extra);
            policies[i]["spec"]["rules"] = json!(rules);
        }
        prop_assume!(all_parse(&policies));
        let after = eval(&policies, &t, &r);
        for ((point, v0), (_, v1)) in verdicts(&before).into_iter().zip(verdicts(&after)) {
            if v0 == Verdict::Allow {
                prop_assert_eq!(v1, Verdict::Allow, "at {}:\nbefore: {}\nafter: {}", point, before, after);
            }
        }
    }

    /// The first ALLOW policy of a workload denies what it does not match: with only DENY
    /// policies around, an added ALLOW policy either is the one that allows, or the request is
    /// denied; with no rules it denies everything.
    #[test]
    fn authz_prop_first_allow_policy_denies_the_rest(
        mut policies in prop::collection::vec(policy_with("DENY"), 0..4),
        rules in prop::collection::vec(rule_value(), 0..=3),
        on_waypoint in any::<bool>(),
        r in request(),
    ) {
        prop_assume!(all_parse(&policies));
        let t = behind_waypoint("prod", "svc", false);
        let mut spec = if on_waypoint {
            json!({"targetRefs": [{"kind": "Service", "name": "svc"}]})
        } else {
            json!({})
        };
        if !rules.is_empty() {
            spec["rules"] = json!(rules);
        }
        policies.push(ap("prod", "first-allow", spec));
        prop_assume!(all_parse(&policies));
        let e = eval(&policies, &t, &r);
        let d = if on_waypoint { e.waypoint() } else { e.ztunnel() };
        // A point the request never crosses (plaintext / pod-addressed: no waypoint) has no say.
        if let Some(d) = d {
            prop_assert_ne!(&d.reason, &Reason::NoAllowPolicy, "{}", e);
            if let Reason::AllowedBy(rr) = &d.reason {
                prop_assert_eq!(rr.name.as_str(), "first-allow");
            }
            if rules.is_empty() {
                prop_assert_eq!(d.verdict, Verdict::Deny, "{}", e);
            }
        }
    }

    /// Adding a DENY rule (to an existing DENY policy or as a new DENY policy) never turns a
    /// deny into an allow, at any enforcement point.
    #[test]
    fn authz_prop_more_deny_rules_never_allow_more(
        mut policies in prop::collection::vec(policy(), 0..5),
        extra_policy in policy_with("DENY"),
        pick in any::<prop::sample::Index>(),
        extra in rule_value(),
        t in target(),
        r in request(),
    ) {
        prop_assume!(all_parse(&policies));
        let before = eval(&policies, &t, &r);
        let denies: Vec<usize> = (0..policies.len())
            .filter(|i| policies[*i]["spec"]["action"] == "DENY")
            .collect();
        if denies.is_empty() {
            policies.push(extra_policy);
        } else {
            let i = denies[pick.index(denies.len())];
            let mut rules = policies[i]["spec"]["rules"].as_array().cloned().unwrap_or_default();
            rules.push(extra);
            policies[i]["spec"]["rules"] = json!(rules);
        }
        prop_assume!(all_parse(&policies));
        let after = eval(&policies, &t, &r);
        for ((point, v0), (_, v1)) in verdicts(&before).into_iter().zip(verdicts(&after)) {
            if v0 == Verdict::Deny {
                prop_assert_eq!(v1, Verdict::Deny, "at {}:\nbefore: {}\nafter: {}", point, before, after);
            }
        }
    }

    /// ztunnel's decision never depends on method, path, host or headers (nor on whether the
    /// request is HTTP at all).
    #[test]
    fn authz_prop_ztunnel_ignores_l7(
        policies in prop::collection::vec(policy(), 0..6),
        t in target(),
        r in request(),
        other_http in http_part(),
    ) {
        prop_assume!(all_parse(&policies));
        let a = eval(&policies, &t, &r);
        let r2 = Request { http: other_http, ..r.clone() };
        let b = eval(&policies, &t, &r2);
        let (za, zb) = (a.ztunnel().unwrap(), b.ztunnel().unwrap());
        prop_assert_eq!(
            (&za.verdict, &za.reason, &za.closest, &za.notes, &za.peer),
            (&zb.verdict, &zb.reason, &zb.closest, &zb.notes, &zb.peer),
            "{:?} vs {:?}", r.http, r2.http
        );
    }

    /// Policies of a namespace that is neither the destination's, the waypoint's nor the root
    /// namespace never change a decision.
    #[test]
    fn authz_prop_other_namespaces_do_not_matter(
        policies in prop::collection::vec(policy(), 0..6),
        t in target(),
        r in request(),
    ) {
        prop_assume!(all_parse(&policies));
        let kept: Vec<Value> = policies
            .iter()
            .filter(|p| p["metadata"]["namespace"] != "dev")
            .cloned()
            .collect();
        let (a, b) = (eval(&policies, &t, &r), eval(&kept, &t, &r));
        prop_assert_eq!(&a.decisions, &b.decisions);
    }
}
