//! Which policies apply where, and Istio's CUSTOM → DENY → ALLOW order at each point.

use serde_json::Value;

use super::explain::{Closest, Decision, EnforcementPoint, Evaluation, Reason, RuleRef, Verdict};
use super::matchers::Tri;
use super::policy::{Action, Attachment, NotUnderstood, Policy, Rule, Source, parse_policy};
use super::rules::{Check, Facts, RuleOutcome, describe_rule, waypoint_rule, ztunnel_rule};
use super::{Destination, Mesh, Peer, Request, Target, WAYPOINT_GATEWAY_CLASS, Waypoint};

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// Evaluates `request` against `policies` (AuthorizationPolicy objects as JSON, any owner, any
/// namespace: the ones that do not apply are ignored) for `target`.
pub fn evaluate(mesh: &Mesh, policies: &[Value], target: &Target, request: &Request) -> Evaluation {
    let mut understood = vec![];
    let mut not_understood = vec![];
    for v in policies {
        match parse_policy(v) {
            Ok(p) => understood.push(p),
            Err(nu) => not_understood.push(nu),
        }
    }

    let client = client_facts(mesh, request);
    let waypoint = match (
        &request.source,
        request.destination,
        &target.service,
        &target.waypoint,
    ) {
        (Peer::Workload { .. }, Destination::Service, Some(_), Some(w)) => Some(w),
        _ => None,
    };

    let mut decisions = vec![];
    if let Some(w) = waypoint {
        // The waypoint sees the Service port (its listener's local address is the Service VIP
        // and port: the waypoint logs in istio/istio#43476 and #46982); the client's address
        // reaches it only as `envoy://internal_client_address/` (istio/istio#46982), so IP
        // rules there are left undetermined.
        let facts = Facts {
            port: request.port,
            source_ip: Err("the client address as the waypoint sees it is not modelled"),
            ..client.clone()
        };
        let applicable: Vec<&Policy> = understood
            .iter()
            .filter(|p| waypoint_attaches(p.namespace.as_str(), &p.attachment, mesh, target, w))
            .collect();
        let nus = not_understood
            .iter()
            .map(|nu| {
                let applies = match &nu.attachment {
                    Some(a) if !nu.namespace.is_empty() => {
                        Tri::from_bool(waypoint_attaches(&nu.namespace, a, mesh, target, w))
                    }
                    _ => Tri::Unknown,
                };
                (nu, applies)
            })
            .collect::<Vec<_>>();
        let service = target.service.as_deref().unwrap_or_default();
        decisions.push(decide(
            Point::Waypoint,
            EnforcementPoint::Waypoint {
                namespace: w.namespace.clone(),
                name: w.name.clone(),
            },
            format!("Service {}/{service}", target.namespace),
            &applicable,
            &nus,
            &facts,
        ));
    }

    // ztunnel: what the destination's ztunnel sees.
    let ztunnel_port = match request.destination {
        Destination::Service => request.target_port.unwrap_or(request.port),
        Destination::Pod => request.port,
    };
    let facts = match waypoint {
        Some(w) => {
            let td = &mesh.trust_domain;
            Facts {
                principal: Some(format!("{td}/ns/{}/sa/{}", w.namespace, w.service_account)),
                peer_ns: Some(w.namespace.clone()),
                peer_sa: Some(w.service_account.clone()),
                source_ip: Err("the waypoint's own address is not given"),
                destination_ip: Err("the destination pod's address is not given"),
                port: ztunnel_port,
                http: None,
            }
        }
        None => Facts {
            port: ztunnel_port,
            http: None,
            destination_ip: match request.destination {
                Destination::Pod => request.destination_ip.ok_or("not given"),
                Destination::Service => Err("the destination pod's address is not given"),
            },
            ..client.clone()
        },
    };
    let synthetic = target
        .waypoint
        .as_ref()
        .filter(|_| target.auto_allow_waypoint)
        .map(|w| auto_allow_policy(mesh, w));
    let mut applicable: Vec<&Policy> = understood
        .iter()
        .filter(|p| ztunnel_attaches(&p.namespace, &p.attachment, mesh, target))
        .collect();
    if let Some(s) = &synthetic {
        applicable.push(s);
    }
    let nus = not_understood
        .iter()
        .map(|nu| {
            let applies = match &nu.attachment {
                Some(a) if !nu.namespace.is_empty() => {
                    Tri::from_bool(ztunnel_attaches(&nu.namespace, a, mesh, target))
                }
                _ => Tri::Unknown,
            };
            (nu, applies)
        })
        .collect::<Vec<_>>();
    decisions.push(decide(
        Point::Ztunnel,
        EnforcementPoint::Ztunnel {
            namespace: target.namespace.clone(),
            service_account: target.service_account.clone(),
        },
        format!("workload {}/{}", target.namespace, target.service_account),
        &applicable,
        &nus,
        &facts,
    ));
    if let Some(peer) = waypoint.map(|_| decisions.len() - 1) {
        decisions[peer].peer.push_str(" (the waypoint)");
    }

    let mut denied = false;
    for d in &mut decisions {
        d.reached = !denied;
        denied |= d.verdict == Verdict::Deny;
    }
    Evaluation {
        decisions,
        not_understood,
    }
}

fn client_facts<'a>(mesh: &Mesh, request: &'a Request) -> Facts<'a> {
    let (principal, peer_ns, peer_sa) = match &request.source {
        Peer::Workload {
            namespace,
            service_account,
            trust_domain,
        } => {
            let td = trust_domain.as_deref().unwrap_or(&mesh.trust_domain);
            (
                Some(format!("{td}/ns/{namespace}/sa/{service_account}")),
                Some(namespace.clone()),
                Some(service_account.clone()),
            )
        }
        Peer::Plaintext => (None, None, None),
    };
    Facts {
        principal,
        peer_ns,
        peer_sa,
        source_ip: request.source_ip.ok_or("not given"),
        destination_ip: request.destination_ip.ok_or("not given"),
        port: request.port,
        http: request.http.as_ref(),
    }
}

/// istiod's synthetic `istio_allow_waypoint_<ns>_<name>` (ambient `policies.go`,
/// `implicitWaypointPolicy`): ALLOW from the waypoint's principal(s).
fn auto_allow_policy(mesh: &Mesh, w: &Waypoint) -> Policy {
    Policy {
        namespace: w.namespace.clone(),
        name: format!("istio_allow_waypoint_{}_{}", w.namespace, w.name),
        action: Action::Allow,
        attachment: Attachment::Namespace,
        rules: vec![Rule {
            from: vec![Source {
                principals: vec![format!(
                    "{}/ns/{}/sa/{}",
                    mesh.trust_domain, w.namespace, w.service_account
                )],
                ..Source::default()
            }],
            ..Rule::default()
        }],
        dry_run: false,
        provider: None,
    }
}

/// `WorkloadPolicyMatcher::ShouldAttachPolicy` for a waypoint serving `target.service`
/// (`pilot/pkg/model/policyattachment.go`): waypoints never use `selector`.
fn waypoint_attaches(
    policy_ns: &str,
    a: &Attachment,
    mesh: &Mesh,
    target: &Target,
    w: &Waypoint,
) -> bool {
    let Attachment::TargetRefs(refs) = a else {
        return false;
    };
    refs.iter().any(|r| {
        let group = r.canonical_group();
        if group == "core" && r.kind == "Service" {
            return target.service.as_deref() == Some(r.name.as_str())
                && policy_ns == target.namespace;
        }
        if group == GATEWAY_GROUP && r.kind == "GatewayClass" {
            return policy_ns == mesh.root_namespace && r.name == WAYPOINT_GATEWAY_CLASS;
        }
        group == GATEWAY_GROUP
            && r.kind == "Gateway"
            && policy_ns == w.namespace
            && r.name == w.name
    })
}

/// ztunnel's policies for a workload: namespace-scoped ones of its namespace, global ones of the
/// root namespace, and selector ones (its namespace or the root) whose labels it carries
/// (`convertAuthorizationPolicy`, `buildWorkloadPolicies`, ztunnel `assert_rbac`).
fn ztunnel_attaches(policy_ns: &str, a: &Attachment, mesh: &Mesh, target: &Target) -> bool {
    let ns_ok = policy_ns == target.namespace || policy_ns == mesh.root_namespace;
    match a {
        Attachment::TargetRefs(_) => false,
        Attachment::Namespace => ns_ok,
        Attachment::Selector(labels) => {
            ns_ok
                && labels
                    .iter()
                    .all(|(k, v)| target.pod_labels.get(k) == Some(v))
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Point {
    Waypoint,
    Ztunnel,
}

fn rule_ref(p: &Policy, i: usize) -> RuleRef {
    RuleRef {
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        rule: i,
    }
}

fn key(p: &Policy) -> String {
    format!("{}/{}", p.namespace, p.name)
}

fn decide(
    point: Point,
    ep: EnforcementPoint,
    scope: String,
    policies: &[&Policy],
    nus: &[(&NotUnderstood, Tri)],
    facts: &Facts<'_>,
) -> Decision {
    let mut notes = vec![];
    let mut denied_by: Option<RuleRef> = None;
    let mut undetermined: Vec<String> = vec![];
    let mut deny_maybe = false;
    let mut allow_policies = vec![];
    let mut allowed_by: Option<RuleRef> = None;
    let mut allow_unknown: Vec<String> = vec![];
    let mut closest: Option<(usize, Closest)> = None;
    let here = match point {
        Point::Waypoint => "the waypoint",
        Point::Ztunnel => "ztunnel",
    };

    for p in policies {
        if p.dry_run {
            notes.push(format!(
                "{} is dry-run (istio.io/dry-run): not enforced",
                key(p)
            ));
            continue;
        }
        match (p.action, point) {
            (Action::Audit, _) => {
                notes.push(format!(
                    "{} is an AUDIT policy: it never allows or denies",
                    key(p)
                ));
                continue;
            }
            (Action::Custom, Point::Ztunnel) => {
                notes.push(format!(
                    "{} is a CUSTOM policy, which ztunnel ignores",
                    key(p)
                ));
                continue;
            }
            _ => {}
        }
        if p.action == Action::Allow {
            allow_policies.push(key(p));
            if p.rules.is_empty() {
                notes.push(format!("{} has no rules: it allows nothing", key(p)));
            }
        }
        for (i, rule) in p.rules.iter().enumerate() {
            let outcome = match point {
                Point::Waypoint => waypoint_rule(rule, p.action, &p.namespace, facts),
                Point::Ztunnel => ztunnel_rule(rule, p.action, facts),
            };
            let check: Check = match outcome {
                RuleOutcome::Dropped(why) => {
                    notes.push(format!(
                        "{} rule {i} is not in effect at {here}: {why}",
                        key(p)
                    ));
                    continue;
                }
                RuleOutcome::Evaluated(c) => c,
            };
            match (p.action, check.tri) {
                (Action::Deny, Tri::Yes) => {
                    denied_by.get_or_insert_with(|| rule_ref(p, i));
                }
                (Action::Deny, Tri::Unknown) => {
                    deny_maybe = true;
                    undetermined.push(format!(
                        "DENY policy {} may match ({})",
                        rule_ref(p, i),
                        check.unknown.join(", ")
                    ));
                }
                (Action::Custom, Tri::Yes | Tri::Unknown) => {
                    deny_maybe = true;
                    undetermined.push(format!(
                        "CUSTOM policy {} matches: its provider {} decides",
                        rule_ref(p, i),
                        p.provider.as_deref().unwrap_or("?")
                    ));
                }
                (Action::Allow, Tri::Yes) => {
                    allowed_by.get_or_insert_with(|| rule_ref(p, i));
                }
                (Action::Allow, Tri::Unknown) => allow_unknown.push(format!(
                    "ALLOW policy {} may match ({})",
                    rule_ref(p, i),
                    check.unknown.join(", ")
                )),
                (Action::Allow, Tri::No) => {
                    let n = check.failed.len();
                    if closest.as_ref().is_none_or(|(best, _)| n < *best) {
                        closest = Some((
                            n,
                            Closest {
                                rule: rule_ref(p, i),
                                allows: describe_rule(rule),
                                failed: check.failed,
                            },
                        ));
                    }
                }
                _ => {}
            }
        }
    }

    // Policies the crate does not understand, where they may apply.
    let mut nu_allow_maybe = false;
    for (nu, applies) in nus {
        if *applies == Tri::No || nu.dry_run || nu.action == Some(Action::Audit) {
            continue;
        }
        if point == Point::Ztunnel && nu.action == Some(Action::Custom) {
            continue;
        }
        let may = if *applies == Tri::Yes {
            "applies"
        } else {
            "may apply"
        };
        let what = format!(
            "{}/{} {may} here but is not understood ({})",
            nu.namespace,
            nu.name,
            nu.reasons.join("; ")
        );
        match nu.action {
            Some(Action::Allow) => nu_allow_maybe = true,
            Some(_) => deny_maybe = true,
            None => {
                nu_allow_maybe = true;
                deny_maybe = true;
            }
        }
        undetermined.push(what);
    }

    let peer = facts
        .principal
        .clone()
        .unwrap_or_else(|| "plaintext".to_string());
    let mk = |verdict,
              reason,
              closest: Option<Closest>,
              notes: Vec<String>,
              allow_policies: Vec<String>| Decision {
        point: ep.clone(),
        verdict,
        reason,
        peer: peer.clone(),
        scope: scope.clone(),
        allow_policies,
        closest,
        notes,
        reached: true,
    };

    if let Some(r) = denied_by {
        return mk(
            Verdict::Deny,
            Reason::DeniedBy(r),
            None,
            notes,
            allow_policies,
        );
    }
    let allow_exists = if !allow_policies.is_empty() {
        Tri::Yes
    } else if nu_allow_maybe {
        Tri::Unknown
    } else {
        Tri::No
    };
    let allow_match = if allowed_by.is_some() {
        Tri::Yes
    } else if !allow_unknown.is_empty() || nu_allow_maybe {
        Tri::Unknown
    } else {
        Tri::No
    };
    if allow_exists == Tri::Yes && allow_match == Tri::No {
        return mk(
            Verdict::Deny,
            Reason::NoAllowMatched,
            closest.map(|(_, c)| c),
            notes,
            allow_policies,
        );
    }
    if deny_maybe || (allow_exists != Tri::No && allow_match == Tri::Unknown) {
        undetermined.extend(allow_unknown);
        if let Some(r) = &allowed_by {
            undetermined.push(format!("otherwise {r} allows it"));
        }
        return mk(
            Verdict::Undetermined,
            Reason::Undetermined(undetermined),
            None,
            notes,
            allow_policies,
        );
    }
    match allowed_by {
        Some(r) => mk(
            Verdict::Allow,
            Reason::AllowedBy(r),
            None,
            notes,
            allow_policies,
        ),
        None => mk(
            Verdict::Allow,
            Reason::NoAllowPolicy,
            None,
            notes,
            allow_policies,
        ),
    }
}
