//! Rule matching at each enforcement point, with the reasons a rule fails.
//!
//! * Waypoint = Envoy RBAC as istiod builds it (`pilot/pkg/security/authz/model/model.go`,
//!   `generator.go`, `builder/builder.go`): a rule matches when one `from` source, one `to`
//!   operation and every `when` condition match. On a TCP (non-HTTP) chain an ALLOW rule holding
//!   an HTTP-only attribute is skipped entirely, and a DENY rule is kept without its HTTP-only
//!   attributes (`checkError`: wider deny).
//! * ztunnel = istiod's conversion (`ambient/authorization.go`, `handleRule`) followed by ztunnel's
//!   matcher (`src/rbac.rs`, `Authorization::matches`): an ALLOW rule with any L7 attribute is
//!   dropped (never matches); a DENY rule keeps its L4 parts, and a `to`/`from`/`when` entry left
//!   with nothing L4 becomes an empty match, which ztunnel skips — so a DENY clause made only of
//!   L7 entries never matches (istio/istio#61126), while a clause with an L4 entry beside them
//!   matches on that entry alone.

use std::fmt::{self, Display};
use std::net::IpAddr;

use super::matchers::{
    Tri, envoy_namespace_match, host_match, istio_string_match, path_match, strip_query,
};
use super::policy::{Action, CondKey, Condition, Operation, Rule, Source};

/// What the enforcement point knows about the connection/request.
#[derive(Debug, Clone)]
pub(crate) struct Facts<'a> {
    /// `<td>/ns/<ns>/sa/<sa>` of the mTLS peer; `None` for plaintext.
    pub principal: Option<String>,
    pub peer_ns: Option<String>,
    pub peer_sa: Option<String>,
    /// `Err(why)`: unknown here (the evaluator then answers "undetermined" where it matters).
    pub source_ip: Result<IpAddr, &'static str>,
    pub destination_ip: Result<IpAddr, &'static str>,
    pub port: u16,
    pub http: Option<&'a super::Http>,
}

/// The result of matching one rule (or one part of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Check {
    pub tri: Tri,
    /// Why it does not match (for `Tri::No`), e.g. `method DELETE not in [GET, POST]`.
    pub failed: Vec<String>,
    /// What could not be decided (for `Tri::Unknown`).
    pub unknown: Vec<String>,
}

impl Check {
    pub(crate) fn yes() -> Check {
        Check {
            tri: Tri::Yes,
            failed: vec![],
            unknown: vec![],
        }
    }
    fn no(why: String) -> Check {
        Check {
            tri: Tri::No,
            failed: vec![why],
            unknown: vec![],
        }
    }
    fn unknown(why: String) -> Check {
        Check {
            tri: Tri::Unknown,
            failed: vec![],
            unknown: vec![why],
        }
    }
    fn and(mut self, other: Check) -> Check {
        self.tri = self.tri.and(other.tri);
        self.failed.extend(other.failed);
        self.unknown.extend(other.unknown);
        self
    }
    /// OR over alternatives (`from` sources, `to` operations): a match if any matches; otherwise
    /// the reasons of the alternative that came closest.
    fn any(alternatives: Vec<Check>) -> Check {
        if let Some(hit) = alternatives.iter().find(|c| c.tri == Tri::Yes) {
            return hit.clone();
        }
        if alternatives.iter().any(|c| c.tri == Tri::Unknown) {
            return Check {
                tri: Tri::Unknown,
                failed: vec![],
                unknown: alternatives
                    .iter()
                    .filter(|c| c.tri == Tri::Unknown)
                    .flat_map(|c| c.unknown.clone())
                    .collect(),
            };
        }
        alternatives
            .into_iter()
            .min_by_key(|c| c.failed.len())
            .unwrap_or_else(|| Check::no("no alternative".into()))
    }
}

pub(crate) struct List<'a, T>(pub &'a [T]);

impl<T: Display> Display for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
        f.write_str("]")
    }
}

/// `values` / `notValues` of one attribute. `actual`: `Ok(Some(v))` known value, `Ok(None)`
/// known absent, `Err(why)` unknown.
fn field<T: Display>(
    label: &str,
    plural: &str,
    actual: Result<Option<&str>, &str>,
    pos: &[T],
    neg: &[T],
    m: impl Fn(&T, &str) -> bool,
) -> Check {
    if pos.is_empty() && neg.is_empty() {
        return Check::yes();
    }
    let v = match actual {
        Err(why) => return Check::unknown(format!("{label} unknown ({why})")),
        Ok(v) => v,
    };
    let shown = v.map_or_else(|| "absent".to_string(), |s| s.to_string());
    let mut c = Check::yes();
    if !pos.is_empty() {
        let hit = v.is_some_and(|v| pos.iter().any(|p| m(p, v)));
        if !hit {
            c = c.and(Check::no(format!("{label} {shown} not in {}", List(pos))));
        }
    }
    if !neg.is_empty() {
        let hit = v.is_some_and(|v| neg.iter().any(|p| m(p, v)));
        if hit {
            c = c.and(Check::no(format!(
                "{label} {shown} in not{plural} {}",
                List(neg)
            )));
        }
    }
    c
}

fn ip_field(
    label: &str,
    actual: Result<IpAddr, &str>,
    pos: &[super::IpBlock],
    neg: &[super::IpBlock],
) -> Check {
    if pos.is_empty() && neg.is_empty() {
        return Check::yes();
    }
    let ip = match actual {
        Err(why) => return Check::unknown(format!("{label} unknown ({why})")),
        Ok(ip) => ip,
    };
    let mut c = Check::yes();
    if !pos.is_empty() && !pos.iter().any(|b| b.contains(ip)) {
        c = c.and(Check::no(format!("{label} {ip} not in {}", List(pos))));
    }
    if neg.iter().any(|b| b.contains(ip)) {
        c = c.and(Check::no(format!("{label} {ip} in not-list {}", List(neg))));
    }
    c
}

fn port_field(label: &str, port: u16, pos: &[u16], neg: &[u16]) -> Check {
    let mut c = Check::yes();
    if !pos.is_empty() && !pos.contains(&port) {
        c = c.and(Check::no(format!("{label} {port} not in {}", List(pos))));
    }
    if neg.contains(&port) {
        c = c.and(Check::no(format!(
            "{label} {port} in not{label}s {}",
            List(neg)
        )));
    }
    c
}

fn sa_display(v: &[(String, String)]) -> Vec<String> {
    v.iter().map(|(n, s)| format!("{n}/{s}")).collect()
}

fn sa_field(facts: &Facts<'_>, pos: &[(String, String)], neg: &[(String, String)]) -> Check {
    if pos.is_empty() && neg.is_empty() {
        return Check::yes();
    }
    let actual = match (&facts.peer_ns, &facts.peer_sa) {
        (Some(n), Some(s)) => Some(format!("{n}/{s}")),
        _ => None,
    };
    field(
        "service account",
        "ServiceAccounts",
        Ok(actual.as_deref()),
        &sa_display(pos),
        &sa_display(neg),
        |p, v| p == v,
    )
}

fn parse_ips(values: &[String]) -> Vec<super::IpBlock> {
    values
        .iter()
        .filter_map(|v| super::IpBlock::parse(v))
        .collect()
}

fn parse_ports(values: &[String]) -> Vec<u16> {
    values
        .iter()
        .filter_map(|v| super::policy::parse_port(v))
        .collect()
}

// === waypoint (Envoy) ===

/// HTTP-only attributes of a rule, as Envoy's TCP filter chain refuses them.
fn http_only_attributes(rule: &Rule) -> Vec<String> {
    let mut out = vec![];
    for s in &rule.from {
        if !s.request_principals.is_empty() {
            out.push("requestPrincipals".to_string());
        }
        if !s.not_request_principals.is_empty() {
            out.push("notRequestPrincipals".to_string());
        }
    }
    for o in &rule.to {
        for (name, v) in [
            ("hosts", &o.hosts),
            ("notHosts", &o.not_hosts),
            ("methods", &o.methods),
            ("notMethods", &o.not_methods),
            ("paths", &o.paths),
            ("notPaths", &o.not_paths),
        ] {
            if !v.is_empty() {
                out.push(name.to_string());
            }
        }
    }
    for c in &rule.when {
        if c.key.is_http_only() {
            out.push(c.key.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Outcome of a rule at an enforcement point: evaluated, or not in effect there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RuleOutcome {
    Evaluated(Check),
    /// Never matches here; why (e.g. "HTTP attributes (methods) that ztunnel cannot enforce").
    Dropped(String),
}

pub(crate) fn waypoint_rule(
    rule: &Rule,
    action: Action,
    policy_ns: &str,
    facts: &Facts<'_>,
) -> RuleOutcome {
    let tcp = facts.http.is_none();
    // Envoy ignores HTTP-only attributes of a non-ALLOW rule on a TCP chain (wider match).
    let ignore_http = tcp && action != Action::Allow;
    if tcp && action == Action::Allow {
        let http = http_only_attributes(rule);
        if !http.is_empty() {
            return RuleOutcome::Dropped(format!(
                "HTTP-only attributes ({}) on a TCP connection: the waypoint skips the rule",
                http.join(", ")
            ));
        }
    }
    let from = if rule.from.is_empty() {
        Check::yes()
    } else {
        Check::any(
            rule.from
                .iter()
                .map(|s| envoy_source(s, facts, ignore_http))
                .collect(),
        )
    };
    let to = if rule.to.is_empty() {
        Check::yes()
    } else {
        Check::any(
            rule.to
                .iter()
                .map(|o| envoy_operation(o, facts, ignore_http))
                .collect(),
        )
    };
    let mut c = from.and(to);
    for w in &rule.when {
        c = c.and(envoy_condition(w, policy_ns, facts, ignore_http));
    }
    RuleOutcome::Evaluated(c)
}

fn spiffe_uri(facts: &Facts<'_>) -> Option<String> {
    facts.principal.as_ref().map(|p| format!("spiffe://{p}"))
}

fn envoy_source(s: &Source, facts: &Facts<'_>, ignore_http: bool) -> Check {
    let principal = facts.principal.as_deref();
    let uri = spiffe_uri(facts);
    let mut c = field(
        "principal",
        "Principals",
        Ok(principal),
        &s.principals,
        &s.not_principals,
        |p, v| istio_string_match(p, v),
    );
    if !ignore_http {
        c = c.and(request_principal_field(
            &s.request_principals,
            &s.not_request_principals,
        ));
    }
    c = c.and(field(
        "namespace",
        "Namespaces",
        Ok(facts.peer_ns.as_deref()),
        &s.namespaces,
        &s.not_namespaces,
        |p, _| uri.as_deref().is_some_and(|u| envoy_namespace_match(p, u)),
    ));
    c = c.and(sa_field(
        facts,
        &s.service_accounts,
        &s.not_service_accounts,
    ));
    c = c.and(ip_field(
        "source IP",
        facts.source_ip,
        &s.ip_blocks,
        &s.not_ip_blocks,
    ));
    c.and(ip_field(
        "remote IP",
        Err("X-Forwarded-For / proxy protocol not modelled"),
        &s.remote_ip_blocks,
        &s.not_remote_ip_blocks,
    ))
}

fn request_principal_field(pos: &[String], neg: &[String]) -> Check {
    if pos.is_empty() && neg.is_empty() {
        Check::yes()
    } else {
        Check::unknown("request principal unknown (JWT not modelled)".into())
    }
}

/// Hosts, methods and headers are Envoy header matchers (`matcher.HeaderMatcher`,
/// `HostMatcher`): `*` there is `present_match`, true for a header that is present even when
/// empty (`field` only calls the matcher for a present value).
fn envoy_operation(o: &Operation, facts: &Facts<'_>, ignore_http: bool) -> Check {
    let mut c = port_field("port", facts.port, &o.ports, &o.not_ports);
    if ignore_http {
        return c;
    }
    // On an HTTP chain `http` is Some; on TCP with an ALLOW rule we never get here with HTTP fields.
    let http = facts.http;
    let host = http.map(|h| h.host.as_str());
    let method = http.map(|h| h.method.as_str());
    let path = http.map(|h| strip_query(&h.path).to_string());
    c = c.and(field(
        "host",
        "Hosts",
        Ok(host),
        &o.hosts,
        &o.not_hosts,
        |p, v| p == "*" || host_match(p, v),
    ));
    c = c.and(field(
        "method",
        "Methods",
        Ok(method),
        &o.methods,
        &o.not_methods,
        |p, v| p == "*" || istio_string_match(p, v),
    ));
    c.and(field(
        "path",
        "Paths",
        Ok(path.as_deref()),
        &o.paths,
        &o.not_paths,
        |p, v| path_match(p, v),
    ))
}

fn envoy_condition(w: &Condition, policy_ns: &str, facts: &Facts<'_>, ignore_http: bool) -> Check {
    let label = format!("when {}", w.key);
    match &w.key {
        CondKey::SourceIp => ip_field(
            &label,
            facts.source_ip,
            &parse_ips(&w.values),
            &parse_ips(&w.not_values),
        ),
        CondKey::DestinationIp => ip_field(
            &label,
            facts.destination_ip,
            &parse_ips(&w.values),
            &parse_ips(&w.not_values),
        ),
        CondKey::DestinationPort => port_field(
            "port",
            facts.port,
            &parse_ports(&w.values),
            &parse_ports(&w.not_values),
        ),
        CondKey::SourcePrincipal => field(
            &label,
            "Values",
            Ok(facts.principal.as_deref()),
            &w.values,
            &w.not_values,
            |p, v| istio_string_match(p, v),
        ),
        CondKey::SourceNamespace => {
            let uri = spiffe_uri(facts);
            field(
                &label,
                "Values",
                Ok(facts.peer_ns.as_deref()),
                &w.values,
                &w.not_values,
                |p, _| uri.as_deref().is_some_and(|u| envoy_namespace_match(p, u)),
            )
        }
        CondKey::SourceServiceAccount => {
            let q = |v: &[String]| -> Vec<(String, String)> {
                v.iter()
                    .map(|s| match s.split_once('/') {
                        Some((a, b)) => (a.to_string(), b.to_string()),
                        None => (policy_ns.to_string(), s.clone()),
                    })
                    .collect()
            };
            sa_field(facts, &q(&w.values), &q(&w.not_values))
        }
        CondKey::RequestHeader(h) => {
            if ignore_http {
                return Check::yes();
            }
            let v = facts.http.and_then(|r| r.header(h));
            field(
                &format!("header {h}"),
                "Values",
                Ok(v),
                &w.values,
                &w.not_values,
                |p, v| p == "*" || istio_string_match(p, v),
            )
        }
        CondKey::RequestAuth(_) => {
            if ignore_http {
                Check::yes()
            } else {
                Check::unknown(format!("{label} unknown (JWT not modelled)"))
            }
        }
        CondKey::RemoteIp | CondKey::ConnectionSni | CondKey::Experimental(_) => {
            Check::unknown(format!("{label} unknown (not modelled)"))
        }
    }
}

// === ztunnel ===

/// The attributes istiod finds L7 in a rule (`httpOperations`, `httpSources`, non-L4 `when`).
pub(crate) fn ztunnel_l7_attributes(rule: &Rule) -> Vec<String> {
    let mut out = vec![];
    for o in &rule.to {
        for (name, v) in [
            ("hosts", &o.hosts),
            ("notHosts", &o.not_hosts),
            ("methods", &o.methods),
            ("notMethods", &o.not_methods),
            ("paths", &o.paths),
            ("notPaths", &o.not_paths),
        ] {
            if !v.is_empty() {
                out.push(name.to_string());
            }
        }
    }
    for s in &rule.from {
        if !s.remote_ip_blocks.is_empty() {
            out.push("remoteIpBlocks".into());
        }
        if !s.not_remote_ip_blocks.is_empty() {
            out.push("notRemoteIpBlocks".into());
        }
        if !s.request_principals.is_empty() {
            out.push("requestPrincipals".into());
        }
        if !s.not_request_principals.is_empty() {
            out.push("notRequestPrincipals".into());
        }
    }
    for c in &rule.when {
        if !c.key.is_ztunnel_l4() {
            out.push(c.key.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// One entry of a converted clause: `None` is an empty match (nothing L4 was left), which
/// ztunnel skips.
type L4Match<'a> = Option<Box<dyn Fn(&Facts<'_>) -> Check + 'a>>;

pub(crate) fn ztunnel_rule(rule: &Rule, action: Action, facts: &Facts<'_>) -> RuleOutcome {
    let l7 = ztunnel_l7_attributes(rule);
    if action == Action::Allow && !l7.is_empty() {
        return RuleOutcome::Dropped(format!(
            "HTTP attributes ({}) that ztunnel cannot enforce: istiod drops the rule",
            l7.join(", ")
        ));
    }
    let mut clauses: Vec<(&str, Vec<L4Match<'_>>)> = vec![];
    if !rule.to.is_empty() {
        clauses.push(("to", rule.to.iter().map(ztunnel_to).collect()));
    }
    if !rule.from.is_empty() {
        clauses.push(("from", rule.from.iter().map(ztunnel_from).collect()));
    }
    for w in &rule.when {
        clauses.push(("when", vec![ztunnel_when(w)]));
    }
    let mut c = Check::yes();
    for (name, matches) in clauses {
        let mut alts = vec![];
        for m in &matches {
            match m {
                None => alts.push(Check::no(format!(
                    "a {name} entry holds only attributes ztunnel ignores, and ztunnel skips the empty match"
                ))),
                Some(f) => alts.push(f(facts)),
            }
        }
        c = c.and(Check::any(alts));
    }
    RuleOutcome::Evaluated(c)
}

fn ztunnel_to(o: &Operation) -> L4Match<'_> {
    if o.ports.is_empty() && o.not_ports.is_empty() {
        return None;
    }
    Some(Box::new(move |f: &Facts<'_>| {
        port_field("port", f.port, &o.ports, &o.not_ports)
    }))
}

fn ztunnel_principal(p: &str, principal: Option<&str>) -> bool {
    // `matches_principal`: no SPIFFE identity, no match (positive or negative entry alike).
    principal.is_some_and(|v| istio_string_match(p, v))
}

fn ztunnel_from(s: &Source) -> L4Match<'_> {
    let l4_empty = s.principals.is_empty()
        && s.not_principals.is_empty()
        && s.namespaces.is_empty()
        && s.not_namespaces.is_empty()
        && s.service_accounts.is_empty()
        && s.not_service_accounts.is_empty()
        && s.ip_blocks.is_empty()
        && s.not_ip_blocks.is_empty();
    if l4_empty {
        return None;
    }
    Some(Box::new(move |f: &Facts<'_>| {
        let p = f.principal.as_deref();
        let ns = f.peer_ns.as_deref().unwrap_or("");
        field(
            "principal",
            "Principals",
            Ok(p),
            &s.principals,
            &s.not_principals,
            |pat, _| ztunnel_principal(pat, p),
        )
        .and(field(
            "namespace",
            "Namespaces",
            Ok(f.peer_ns.as_deref()),
            &s.namespaces,
            &s.not_namespaces,
            |pat, _| istio_string_match(pat, ns),
        ))
        .and(sa_field(f, &s.service_accounts, &s.not_service_accounts))
        .and(ip_field(
            "source IP",
            f.source_ip,
            &s.ip_blocks,
            &s.not_ip_blocks,
        ))
    }))
}

fn ztunnel_when(w: &Condition) -> L4Match<'_> {
    match w.key {
        CondKey::SourceIp => Some(Box::new(move |f: &Facts<'_>| {
            ip_field(
                "when source.ip",
                f.source_ip,
                &parse_ips(&w.values),
                &parse_ips(&w.not_values),
            )
        })),
        CondKey::DestinationIp => Some(Box::new(move |f: &Facts<'_>| {
            ip_field(
                "when destination.ip",
                f.destination_ip,
                &parse_ips(&w.values),
                &parse_ips(&w.not_values),
            )
        })),
        CondKey::DestinationPort => Some(Box::new(move |f: &Facts<'_>| {
            port_field(
                "port",
                f.port,
                &parse_ports(&w.values),
                &parse_ports(&w.not_values),
            )
        })),
        CondKey::SourcePrincipal => Some(Box::new(move |f: &Facts<'_>| {
            let p = f.principal.as_deref();
            field(
                "when source.principal",
                "Values",
                Ok(p),
                &w.values,
                &w.not_values,
                |pat, _| ztunnel_principal(pat, p),
            )
        })),
        CondKey::SourceNamespace => Some(Box::new(move |f: &Facts<'_>| {
            let ns = f.peer_ns.as_deref().unwrap_or("");
            field(
                "when source.namespace",
                "Values",
                Ok(f.peer_ns.as_deref()),
                &w.values,
                &w.not_values,
                |pat, _| istio_string_match(pat, ns),
            )
        })),
        _ => None,
    }
}

/// A short "what this rule allows" for explanations.
pub(crate) fn describe_rule(rule: &Rule) -> String {
    let mut parts = vec![];
    let mut who = vec![];
    for s in &rule.from {
        who.extend(s.principals.iter().cloned());
        who.extend(s.namespaces.iter().map(|n| format!("namespace {n}")));
        who.extend(
            sa_display(&s.service_accounts)
                .into_iter()
                .map(|x| format!("sa {x}")),
        );
        who.extend(s.ip_blocks.iter().map(|b| format!("ip {b}")));
        who.extend(
            s.request_principals
                .iter()
                .map(|r| format!("request principal {r}")),
        );
        if !s.not_principals.is_empty() || !s.not_namespaces.is_empty() {
            who.push("(with exclusions)".into());
        }
    }
    if !who.is_empty() {
        parts.push(format!("from {}", who.join(", ")));
    }
    let mut ops = vec![];
    for o in &rule.to {
        let mut op = vec![];
        if !o.methods.is_empty() {
            op.push(o.methods.join(", "));
        }
        if !o.paths.is_empty() {
            op.push(format!("on {}", o.paths.join(", ")));
        }
        if !o.hosts.is_empty() {
            op.push(format!("host {}", o.hosts.join(", ")));
        }
        if !o.ports.is_empty() {
            let p: Vec<String> = o.ports.iter().map(u16::to_string).collect();
            op.push(format!("port {}", p.join(", ")));
        }
        if !o.not_methods.is_empty()
            || !o.not_paths.is_empty()
            || !o.not_ports.is_empty()
            || !o.not_hosts.is_empty()
        {
            op.push("(with exclusions)".into());
        }
        if !op.is_empty() {
            ops.push(op.join(" "));
        }
    }
    if !ops.is_empty() {
        parts.push(ops.join(" | "));
    }
    if !rule.when.is_empty() {
        let keys: Vec<String> = rule.when.iter().map(|w| w.key.to_string()).collect();
        parts.push(format!("when {}", keys.join(", ")));
    }
    if parts.is_empty() {
        "everything".into()
    } else {
        parts.join(" ")
    }
}
