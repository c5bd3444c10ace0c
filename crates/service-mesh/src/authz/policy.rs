//! Parsing AuthorizationPolicy objects (`security.istio.io/v1` or `v1beta1`, as JSON) into the
//! typed form the evaluator uses.
//!
//! The spec is parsed with `deny_unknown_fields` at every level: a field this crate does not know
//! (a newer Istio API, a typo istiod would reject) makes the whole policy [`NotUnderstood`], and
//! the evaluator then refuses to answer "allow" where that policy may apply. So do the rules of
//! istiod's validating webhook (`pkg/config/validation/validation.go`,
//! `ValidateAuthorizationPolicy`, 1.29) and of the CRD's CEL rules: a policy the API server would
//! refuse has no defined behaviour to evaluate.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::matchers::{IpBlock, go_parse_bool, validate_path_template};

/// The policy's `action` (absent = ALLOW).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `ALLOW`
    Allow,
    /// `DENY`
    Deny,
    /// `AUDIT`: logging only, never a decision.
    Audit,
    /// `CUSTOM`: an external authorizer (`provider`) decides.
    Custom,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "ALLOW",
            Action::Deny => "DENY",
            Action::Audit => "AUDIT",
            Action::Custom => "CUSTOM",
        })
    }
}

/// How the policy attaches (`selector`, `targetRefs`, or neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attachment {
    /// Neither: every workload of the namespace (all namespaces from the root namespace), at ztunnel.
    Namespace,
    /// `selector.matchLabels` (non-empty), at ztunnel.
    Selector(BTreeMap<String, String>),
    /// `targetRefs` (or the legacy `targetRef`), at waypoints only.
    TargetRefs(Vec<TargetRef>),
}

/// One `targetRefs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    /// As written: `""`, `core`, `gateway.networking.k8s.io`, …
    pub group: String,
    /// `Service`, `Gateway`, `GatewayClass`, `ServiceEntry`.
    pub kind: String,
    /// The target's name (in the policy's namespace).
    pub name: String,
}

impl TargetRef {
    /// istio's `config.CanonicalGroup`: the empty group is `core`.
    pub(crate) fn canonical_group(&self) -> &str {
        if self.group.is_empty() {
            "core"
        } else {
            &self.group
        }
    }
}

/// A parsed, understood AuthorizationPolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.action`.
    pub action: Action,
    /// `selector` / `targetRefs`.
    pub attachment: Attachment,
    /// `spec.rules`; empty when absent or `[]` (an ALLOW policy then allows nothing).
    pub rules: Vec<Rule>,
    /// `istio.io/dry-run` parsed as istiod does (Go `ParseBool`, invalid = false).
    pub dry_run: bool,
    /// `provider.name` of a CUSTOM policy.
    pub provider: Option<String>,
}

/// One rule: any `from` AND any `to` AND every `when`. Empty lists match anything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    /// `from[].source`.
    pub from: Vec<Source>,
    /// `to[].operation`.
    pub to: Vec<Operation>,
    /// `when`.
    pub when: Vec<Condition>,
}

/// `from[].source`. Fields are ANDed; values within a field ORed. Fields mirror the API's
/// (`notPrincipals` → `not_principals`); empty = not set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Source {
    pub principals: Vec<String>,
    pub not_principals: Vec<String>,
    pub request_principals: Vec<String>,
    pub not_request_principals: Vec<String>,
    pub namespaces: Vec<String>,
    pub not_namespaces: Vec<String>,
    /// `(namespace, service account)`; a bare name takes the policy's namespace.
    pub service_accounts: Vec<(String, String)>,
    pub not_service_accounts: Vec<(String, String)>,
    pub ip_blocks: Vec<IpBlock>,
    pub not_ip_blocks: Vec<IpBlock>,
    pub remote_ip_blocks: Vec<IpBlock>,
    pub not_remote_ip_blocks: Vec<IpBlock>,
}

/// `to[].operation`. Ports are numbers here; the API's strings are parsed at load. Fields
/// mirror the API's; empty = not set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Operation {
    pub hosts: Vec<String>,
    pub not_hosts: Vec<String>,
    pub ports: Vec<u16>,
    pub not_ports: Vec<u16>,
    pub methods: Vec<String>,
    pub not_methods: Vec<String>,
    pub paths: Vec<String>,
    pub not_paths: Vec<String>,
}

/// A `when` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `key`.
    pub key: CondKey,
    /// `values` (any matches).
    pub values: Vec<String>,
    /// `notValues` (none may match).
    pub not_values: Vec<String>,
}

/// The `when` keys of Istio 1.29 (`model.go` attributes). Keys the evaluator cannot decide from a
/// [`super::Request`] (JWT claims, SNI, Envoy metadata, remote IP) evaluate as unknown at the
/// waypoint, and are L7 (dropped) at ztunnel exactly as istiod does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CondKey {
    /// `source.ip`
    SourceIp,
    /// `remote.ip`
    RemoteIp,
    /// `source.namespace`
    SourceNamespace,
    /// `source.principal`
    SourcePrincipal,
    /// `source.serviceAccount`
    SourceServiceAccount,
    /// `destination.ip`
    DestinationIp,
    /// `destination.port`
    DestinationPort,
    /// `request.headers[<name>]`, the name lower-cased.
    RequestHeader(String),
    /// `request.auth.principal`, `.audiences`, `.presenter`, `.claims[...]`.
    RequestAuth(String),
    /// `connection.sni`
    ConnectionSni,
    /// `experimental.envoy.filters.*`.
    Experimental(String),
}

impl CondKey {
    /// ztunnel's `l4WhenAttributes`.
    pub(crate) fn is_ztunnel_l4(&self) -> bool {
        matches!(
            self,
            CondKey::SourceIp
                | CondKey::SourceNamespace
                | CondKey::SourcePrincipal
                | CondKey::DestinationIp
                | CondKey::DestinationPort
        )
    }

    /// Keys Envoy's generators refuse on a TCP filter chain (`"%q is HTTP only"`).
    pub(crate) fn is_http_only(&self) -> bool {
        matches!(self, CondKey::RequestHeader(_) | CondKey::RequestAuth(_))
    }
}

impl fmt::Display for CondKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CondKey::SourceIp => f.write_str("source.ip"),
            CondKey::RemoteIp => f.write_str("remote.ip"),
            CondKey::SourceNamespace => f.write_str("source.namespace"),
            CondKey::SourcePrincipal => f.write_str("source.principal"),
            CondKey::SourceServiceAccount => f.write_str("source.serviceAccount"),
            CondKey::DestinationIp => f.write_str("destination.ip"),
            CondKey::DestinationPort => f.write_str("destination.port"),
            CondKey::RequestHeader(h) => write!(f, "request.headers[{h}]"),
            CondKey::RequestAuth(k) | CondKey::Experimental(k) => f.write_str(k),
            CondKey::ConnectionSni => f.write_str("connection.sni"),
        }
    }
}

/// A policy the crate refused to interpret, with why. `namespace`/`name` are empty when the
/// object's metadata itself was unreadable. `action`/`attachment` are filled when they could be
/// read, which lets the evaluator tell where the policy may apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUnderstood {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec.action`, when readable.
    pub action: Option<Action>,
    /// Where it attaches, when readable.
    pub attachment: Option<Attachment>,
    /// `istio.io/dry-run` (such a policy is never enforced).
    pub dry_run: bool,
    /// What the crate refused, one entry each.
    pub reasons: Vec<String>,
}

impl fmt::Display for NotUnderstood {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} not understood: {}",
            self.namespace,
            self.name,
            self.reasons.join("; ")
        )
    }
}

// === raw serde shapes ===

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSpec {
    selector: Option<RawSelector>,
    target_ref: Option<RawTargetRef>,
    target_refs: Option<Vec<RawTargetRef>>,
    rules: Option<Vec<Option<RawRule>>>,
    action: Option<String>,
    provider: Option<RawProvider>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSelector {
    match_labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTargetRef {
    group: Option<String>,
    kind: String,
    name: String,
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    from: Option<Vec<Option<RawFrom>>>,
    to: Option<Vec<Option<RawTo>>>,
    when: Option<Vec<Option<RawCondition>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrom {
    source: Option<RawSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTo {
    operation: Option<RawOperation>,
}

type Strings = Option<Vec<String>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSource {
    principals: Strings,
    not_principals: Strings,
    request_principals: Strings,
    not_request_principals: Strings,
    namespaces: Strings,
    not_namespaces: Strings,
    service_accounts: Strings,
    not_service_accounts: Strings,
    ip_blocks: Strings,
    not_ip_blocks: Strings,
    remote_ip_blocks: Strings,
    not_remote_ip_blocks: Strings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawOperation {
    hosts: Strings,
    not_hosts: Strings,
    ports: Strings,
    not_ports: Strings,
    methods: Strings,
    not_methods: Strings,
    paths: Strings,
    not_paths: Strings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCondition {
    key: String,
    values: Strings,
    not_values: Strings,
}

/// Parses one AuthorizationPolicy object (the whole object: `metadata` and `spec`; `status` and
/// other top-level fields are ignored).
pub fn parse_policy(obj: &Value) -> Result<Policy, NotUnderstood> {
    let meta = obj.get("metadata");
    let get_meta = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let namespace = get_meta("namespace");
    let name = get_meta("name");
    let dry_run = meta
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get("istio.io/dry-run"))
        .and_then(Value::as_str)
        .and_then(go_parse_bool)
        .unwrap_or(false);
    let mut nu = NotUnderstood {
        namespace: namespace.clone(),
        name: name.clone(),
        action: None,
        attachment: None,
        dry_run,
        reasons: vec![],
    };
    if namespace.is_empty() || name.is_empty() {
        nu.reasons
            .push("metadata.namespace and metadata.name are required".into());
    }
    if let Some(kind) = obj.get("kind").and_then(Value::as_str)
        && kind != "AuthorizationPolicy"
    {
        nu.reasons
            .push(format!("kind {kind} is not AuthorizationPolicy"));
    }
    if let Some(api) = obj.get("apiVersion").and_then(Value::as_str)
        && api != "security.istio.io/v1"
        && api != "security.istio.io/v1beta1"
    {
        nu.reasons.push(format!(
            "apiVersion {api} is not security.istio.io/v1 or v1beta1"
        ));
    }
    let spec_value = match obj.get("spec") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(v) => v.clone(),
    };
    let raw: RawSpec = match serde_json::from_value(spec_value) {
        Ok(r) => r,
        Err(e) => {
            nu.reasons.push(format!("spec: {e}"));
            return Err(nu);
        }
    };
    let mut reasons = std::mem::take(&mut nu.reasons);
    let action = match raw.action.as_deref() {
        None | Some("ALLOW") => Some(Action::Allow),
        Some("DENY") => Some(Action::Deny),
        Some("AUDIT") => Some(Action::Audit),
        Some("CUSTOM") => Some(Action::Custom),
        Some(other) => {
            reasons.push(format!("unknown action {other:?}"));
            None
        }
    };
    nu.action = action;

    // Attachment (CEL: at most one of selector, targetRef, targetRefs; no namespace in refs).
    let mut refs: Vec<RawTargetRef> = raw.target_refs.unwrap_or_default();
    let legacy = raw.target_ref;
    if !refs.is_empty() && legacy.is_some() {
        reasons.push("both targetRef and targetRefs are set".into());
    }
    if refs.is_empty()
        && let Some(l) = legacy
    {
        refs.push(l);
    }
    let attachment = match (raw.selector, refs.is_empty()) {
        (Some(_), false) => {
            reasons.push("only one of targetRefs or selector can be set".into());
            None
        }
        (Some(sel), true) => match sel.match_labels {
            Some(m) if !m.is_empty() => Some(Attachment::Selector(m)),
            _ => {
                reasons.push(
                    "selector without matchLabels: istiod treats it as a workload selector that \
                     ztunnel attaches to no workload; not modelled"
                        .into(),
                );
                None
            }
        },
        (None, true) => Some(Attachment::Namespace),
        (None, false) => {
            let mut out = vec![];
            for r in refs {
                if r.namespace.as_deref().is_some_and(|n| !n.is_empty()) {
                    reasons.push(format!(
                        "targetRefs {}/{} has a namespace (cross-namespace references are refused)",
                        r.kind, r.name
                    ));
                }
                out.push(TargetRef {
                    group: r.group.unwrap_or_default(),
                    kind: r.kind,
                    name: r.name,
                });
            }
            if out.len() > 16 {
                reasons.push("more than 16 targetRefs".into());
            }
            Some(Attachment::TargetRefs(out))
        }
    };
    nu.attachment = attachment.clone();

    let provider = raw.provider.and_then(|p| p.name);
    match action {
        Some(Action::Custom) => {
            if provider.as_deref().unwrap_or_default().is_empty() {
                reasons.push("CUSTOM action without provider.name".into());
            }
            if raw.rules.is_none() {
                reasons.push("CUSTOM action without rules".into());
            }
        }
        Some(a) if provider.is_some() => reasons.push(format!("provider with {a} action")),
        _ => {}
    }
    if action == Some(Action::Deny) && raw.rules.is_none() {
        reasons.push("DENY action without rules".into());
    }

    let raw_rules = raw.rules.unwrap_or_default();
    if raw_rules.len() > 512 {
        reasons.push("more than 512 rules".into());
    }
    let mut rules = vec![];
    for (i, r) in raw_rules.into_iter().enumerate() {
        match r {
            None => reasons.push(format!("rule {i} is null")),
            Some(r) => rules.push(parse_rule(i, r, &namespace, &mut reasons)),
        }
    }

    match (action, attachment, reasons.is_empty()) {
        (Some(action), Some(attachment), true) => Ok(Policy {
            namespace,
            name,
            action,
            attachment,
            rules,
            dry_run,
            provider,
        }),
        _ => {
            nu.reasons = reasons;
            Err(nu)
        }
    }
}

fn parse_rule(i: usize, r: RawRule, ns: &str, reasons: &mut Vec<String>) -> Rule {
    let mut rule = Rule::default();
    for f in r.from.unwrap_or_default() {
        match f.and_then(|f| f.source) {
            None => reasons.push(format!("rule {i}: from.source must not be null")),
            Some(s) => rule.from.push(parse_source(i, s, ns, reasons)),
        }
    }
    for t in r.to.unwrap_or_default() {
        match t.and_then(|t| t.operation) {
            None => reasons.push(format!("rule {i}: to.operation must not be null")),
            Some(o) => rule.to.push(parse_operation(i, o, reasons)),
        }
    }
    for c in r.when.unwrap_or_default() {
        match c {
            None => reasons.push(format!("rule {i}: when entry is null")),
            Some(c) => {
                if let Some(c) = parse_condition(i, c, reasons) {
                    rule.when.push(c);
                }
            }
        }
    }
    rule
}

fn strings(i: usize, field: &str, v: Strings, reasons: &mut Vec<String>) -> Vec<String> {
    let v = v.unwrap_or_default();
    if v.iter().any(String::is_empty) {
        reasons.push(format!("rule {i}: empty value in {field}"));
    }
    v
}

fn ips(i: usize, field: &str, v: Strings, reasons: &mut Vec<String>) -> Vec<IpBlock> {
    let mut out = vec![];
    for s in strings(i, field, v, reasons) {
        match IpBlock::parse(&s) {
            Some(b) => out.push(b),
            None => reasons.push(format!("rule {i}: {field}: {s:?} is not an IP or CIDR")),
        }
    }
    out
}

fn ports(i: usize, field: &str, v: Strings, reasons: &mut Vec<String>) -> Vec<u16> {
    let mut out = vec![];
    for s in strings(i, field, v, reasons) {
        match parse_port(&s) {
            Some(p) => out.push(p),
            None => reasons.push(format!("rule {i}: {field}: {s:?} is not a port number")),
        }
    }
    out
}

/// A decimal port 0..=65535 (`ValidatePorts`; ztunnel's `stringToPort` silently drops others).
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn service_accounts(
    i: usize,
    field: &str,
    v: Strings,
    ns: &str,
    reasons: &mut Vec<String>,
) -> Vec<(String, String)> {
    let v = strings(i, field, v, reasons);
    if v.len() > 16 {
        reasons.push(format!("rule {i}: {field}: more than 16 values"));
    }
    let mut out = vec![];
    for s in v {
        if s.contains('*') {
            reasons.push(format!("rule {i}: {field}: wildcard not allowed in {s:?}"));
            continue;
        }
        match s.split_once('/') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains('/') => {
                out.push((a.to_string(), b.to_string()));
            }
            None if !s.is_empty() => out.push((ns.to_string(), s)),
            _ => reasons.push(format!(
                "rule {i}: {field}: expected 'serviceAccount' or 'namespace/serviceAccount', found {s:?}"
            )),
        }
    }
    out
}

fn parse_source(i: usize, s: RawSource, ns: &str, reasons: &mut Vec<String>) -> Source {
    let has_sa = s.service_accounts.is_some() || s.not_service_accounts.is_some();
    let has_pn = s.principals.is_some()
        || s.not_principals.is_some()
        || s.namespaces.is_some()
        || s.not_namespaces.is_some();
    if has_sa && has_pn {
        reasons.push(format!(
            "rule {i}: cannot set serviceAccounts with namespaces or principals"
        ));
    }
    let raw_empty = [
        &s.principals,
        &s.not_principals,
        &s.request_principals,
        &s.not_request_principals,
        &s.namespaces,
        &s.not_namespaces,
        &s.service_accounts,
        &s.not_service_accounts,
        &s.ip_blocks,
        &s.not_ip_blocks,
        &s.remote_ip_blocks,
        &s.not_remote_ip_blocks,
    ]
    .iter()
    .all(|v| v.as_ref().is_none_or(Vec::is_empty));
    let src = Source {
        principals: strings(i, "principals", s.principals, reasons),
        not_principals: strings(i, "notPrincipals", s.not_principals, reasons),
        request_principals: strings(i, "requestPrincipals", s.request_principals, reasons),
        not_request_principals: strings(
            i,
            "notRequestPrincipals",
            s.not_request_principals,
            reasons,
        ),
        namespaces: strings(i, "namespaces", s.namespaces, reasons),
        not_namespaces: strings(i, "notNamespaces", s.not_namespaces, reasons),
        service_accounts: service_accounts(i, "serviceAccounts", s.service_accounts, ns, reasons),
        not_service_accounts: service_accounts(
            i,
            "notServiceAccounts",
            s.not_service_accounts,
            ns,
            reasons,
        ),
        ip_blocks: ips(i, "ipBlocks", s.ip_blocks, reasons),
        not_ip_blocks: ips(i, "notIpBlocks", s.not_ip_blocks, reasons),
        remote_ip_blocks: ips(i, "remoteIpBlocks", s.remote_ip_blocks, reasons),
        not_remote_ip_blocks: ips(i, "notRemoteIpBlocks", s.not_remote_ip_blocks, reasons),
    };
    if raw_empty {
        reasons.push(format!("rule {i}: from.source must not be empty"));
    }
    src
}

fn parse_operation(i: usize, o: RawOperation, reasons: &mut Vec<String>) -> Operation {
    let raw_empty = [
        &o.hosts,
        &o.not_hosts,
        &o.ports,
        &o.not_ports,
        &o.methods,
        &o.not_methods,
        &o.paths,
        &o.not_paths,
    ]
    .iter()
    .all(|v| v.as_ref().is_none_or(Vec::is_empty));
    let op = Operation {
        hosts: strings(i, "hosts", o.hosts, reasons),
        not_hosts: strings(i, "notHosts", o.not_hosts, reasons),
        ports: ports(i, "ports", o.ports, reasons),
        not_ports: ports(i, "notPorts", o.not_ports, reasons),
        methods: strings(i, "methods", o.methods, reasons),
        not_methods: strings(i, "notMethods", o.not_methods, reasons),
        paths: strings(i, "paths", o.paths, reasons),
        not_paths: strings(i, "notPaths", o.not_paths, reasons),
    };
    for p in op.paths.iter().chain(&op.not_paths) {
        if let Err(e) = validate_path_template(p) {
            reasons.push(format!("rule {i}: invalid path template {e}"));
        }
    }
    if raw_empty {
        reasons.push(format!(
            "rule {i}: to.operation must not be empty (istiod's webhook refuses it)"
        ));
    }
    op
}

fn parse_condition(i: usize, c: RawCondition, reasons: &mut Vec<String>) -> Option<Condition> {
    let key = match c.key.as_str() {
        "source.ip" => CondKey::SourceIp,
        "remote.ip" => CondKey::RemoteIp,
        "source.namespace" => CondKey::SourceNamespace,
        "source.principal" => CondKey::SourcePrincipal,
        "source.serviceAccount" => CondKey::SourceServiceAccount,
        "destination.ip" => CondKey::DestinationIp,
        "destination.port" => CondKey::DestinationPort,
        "connection.sni" => CondKey::ConnectionSni,
        "request.auth.principal" | "request.auth.audiences" | "request.auth.presenter" => {
            CondKey::RequestAuth(c.key.clone())
        }
        k if k.starts_with("request.auth.claims[") && k.ends_with(']') => {
            CondKey::RequestAuth(c.key.clone())
        }
        k if k.starts_with("request.headers[") && k.ends_with(']') => {
            let h = &k["request.headers[".len()..k.len() - 1];
            if h.is_empty() {
                reasons.push(format!("rule {i}: when key {k:?} names no header"));
                return None;
            }
            CondKey::RequestHeader(h.to_ascii_lowercase())
        }
        k if k.starts_with("experimental.envoy.filters.") => CondKey::Experimental(c.key.clone()),
        k => {
            reasons.push(format!("rule {i}: unknown when key {k:?}"));
            return None;
        }
    };
    let values = strings(i, "when.values", c.values, reasons);
    let not_values = strings(i, "when.notValues", c.not_values, reasons);
    if values.is_empty() && not_values.is_empty() {
        reasons.push(format!("rule {i}: when {key} needs values or notValues"));
    }
    match key {
        CondKey::DestinationPort => {
            for v in values.iter().chain(&not_values) {
                if parse_port(v).is_none() {
                    reasons.push(format!(
                        "rule {i}: when destination.port: {v:?} is not a port"
                    ));
                }
            }
        }
        CondKey::SourceServiceAccount => {
            // `CheckServiceAccount`: no wildcard, `sa` or `ns/sa`.
            let mut ignored = vec![];
            let all: Vec<String> = values.iter().chain(&not_values).cloned().collect();
            let parsed = service_accounts(
                i,
                "when source.serviceAccount",
                Some(all.clone()),
                "",
                &mut ignored,
            );
            if parsed.len() != all.len() || !ignored.is_empty() {
                reasons.extend(ignored);
                if parsed.len() != all.len() {
                    reasons.push(format!(
                        "rule {i}: when source.serviceAccount: invalid value"
                    ));
                }
            }
        }
        CondKey::SourceIp | CondKey::RemoteIp | CondKey::DestinationIp => {
            for v in values.iter().chain(&not_values) {
                if IpBlock::parse(v).is_none() {
                    reasons.push(format!("rule {i}: when {key}: {v:?} is not an IP or CIDR"));
                }
            }
        }
        _ => {}
    }
    Some(Condition {
        key,
        values,
        not_values,
    })
}
