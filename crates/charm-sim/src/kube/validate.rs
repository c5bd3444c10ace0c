//! Object validation: names, labels, annotation keys, and CRD schemas.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::registry::ResourceType;
use super::status::Cause;

// Patterns from k8s.io/apimachinery/pkg/util/validation.
static DNS1123_LABEL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").ok());
static DNS1123_SUBDOMAIN: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$").ok()
});
static DNS1035_LABEL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new("^[a-z]([-a-z0-9]*[a-z0-9])?$").ok());
static QUALIFIED_NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").ok());
static LABEL_VALUE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$").ok());

fn is_match(re: &LazyLock<Option<Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(s))
}

fn invalid(field: &str, value: &str, why: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: {value:?}: {why}"),
        field: field.into(),
    }
}

/// Problems with a DNS-1123 subdomain (empty when valid).
pub(crate) fn subdomain_errors(s: &str) -> Vec<String> {
    let mut e = Vec::new();
    if s.len() > 253 {
        e.push("must be no more than 253 characters".into());
    }
    if !is_match(&DNS1123_SUBDOMAIN, s) {
        e.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into());
    }
    e
}

fn label_errors(s: &str) -> Vec<String> {
    let mut e = Vec::new();
    if s.len() > 63 {
        e.push("must be no more than 63 characters".into());
    }
    if !is_match(&DNS1123_LABEL, s) {
        e.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".into());
    }
    e
}

fn dns1035_errors(s: &str) -> Vec<String> {
    let mut e = Vec::new();
    if s.len() > 63 {
        e.push("must be no more than 63 characters".into());
    }
    if !is_match(&DNS1035_LABEL, s) {
        e.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".into());
    }
    e
}

/// Label and annotation keys: `[prefix/]name`.
fn qualified_name_errors(key: &str) -> Vec<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let mut e = Vec::new();
    if let Some(p) = prefix {
        if p.is_empty() {
            e.push("prefix part must be non-empty".into());
        } else {
            e.extend(
                subdomain_errors(p)
                    .into_iter()
                    .map(|m| format!("prefix part {m}")),
            );
        }
    }
    if name.is_empty() {
        e.push("name part must be non-empty".into());
    } else {
        if name.len() > 63 {
            e.push("name part must be no more than 63 characters".into());
        }
        if !is_match(&QUALIFIED_NAME, name) {
            e.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into());
        }
    }
    e
}

fn label_value_errors(v: &str) -> Vec<String> {
    let mut e = Vec::new();
    if v.len() > 63 {
        e.push("must be no more than 63 characters".into());
    }
    if !is_match(&LABEL_VALUE, v) {
        e.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into());
    }
    e
}

/// Metadata checks every write goes through.
pub(crate) fn metadata(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let meta = |k: &str| obj.get("metadata").and_then(|m| m.get(k));
    let name = meta("name").and_then(Value::as_str).unwrap_or_default();
    if name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        });
    } else {
        let errs = match rt.kind.as_str() {
            "Namespace" => label_errors(name),
            "Service" => dns1035_errors(name),
            _ => subdomain_errors(name),
        };
        causes.extend(errs.iter().map(|m| invalid("metadata.name", name, m)));
    }
    if let Some(labels) = meta("labels") {
        match labels.as_object() {
            Some(m) => {
                for (k, v) in m {
                    for e in qualified_name_errors(k) {
                        causes.push(invalid("metadata.labels", k, &e));
                    }
                    match v.as_str() {
                        Some(s) => {
                            for e in label_value_errors(s) {
                                causes.push(invalid(&format!("metadata.labels[{k}]"), s, &e));
                            }
                        }
                        None => causes.push(invalid(
                            &format!("metadata.labels[{k}]"),
                            &v.to_string(),
                            "label values must be strings",
                        )),
                    }
                }
            }
            None => causes.push(invalid(
                "metadata.labels",
                &labels.to_string(),
                "must be a map of strings",
            )),
        }
    }
    if let Some(ann) = meta("annotations").and_then(Value::as_object) {
        for (k, v) in ann {
            for e in qualified_name_errors(k) {
                causes.push(invalid("metadata.annotations", k, &e));
            }
            if !v.is_string() {
                causes.push(invalid(
                    &format!("metadata.annotations[{k}]"),
                    &v.to_string(),
                    "annotation values must be strings",
                ));
            }
        }
    }
    causes
}

/// `/spec/rules/0/to` → `spec.rules[0].to`
fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Schema errors of a custom resource, one cause per error, worded like the apiserver's.
pub(crate) fn schema(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    use jsonschema::error::{TypeKind, ValidationErrorKind as K};
    let Some(schema) = &rt.schema else {
        return Vec::new();
    };
    // The common case, without collecting (and allocating) errors.
    if schema.validator.is_valid(obj) {
        return Vec::new();
    }
    schema
        .validator
        .iter_errors(obj)
        .map(|e| {
            let field = field_path(&e.instance_path().to_string());
            let instance = e.instance();
            match e.kind() {
                K::Type { kind } => {
                    let want = match kind {
                        TypeKind::Single(t) => t.to_string(),
                        TypeKind::Multiple(_) => "one of the allowed types".to_string(),
                    };
                    let got = type_name(instance);
                    Cause {
                        reason: "FieldValueTypeInvalid".into(),
                        message: format!(
                            "Invalid value: \"{got}\": {field} in body must be of type {want}: \"{got}\""
                        ),
                        field,
                    }
                }
                K::Required { property } => {
                    let name = property.as_str().unwrap_or_default();
                    let field = if field.is_empty() {
                        name.to_string()
                    } else {
                        format!("{field}.{name}")
                    };
                    Cause {
                        reason: "FieldValueRequired".into(),
                        message: "Required value".into(),
                        field,
                    }
                }
                K::Enum { options } => {
                    let allowed: Vec<String> = options
                        .as_array()
                        .map(|a| a.iter().map(Value::to_string).collect())
                        .unwrap_or_default();
                    Cause {
                        reason: "FieldValueNotSupported".into(),
                        message: format!(
                            "Unsupported value: {instance}: supported values: {}",
                            allowed.join(", ")
                        ),
                        field,
                    }
                }
                _ => Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {instance}: {field} in body: {e}"),
                    field,
                },
            }
        })
        .collect()
}

/// A few validations of built-in kinds from k8s.io/kubernetes `pkg/apis/*/validation` that a
/// mesh charm can trip over: HPA replica bounds, workload selectors matching the template.
pub(crate) fn builtin_rules(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    if rt.custom {
        return causes;
    }
    let int = |p: &str| obj.pointer(p).and_then(Value::as_i64);
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("autoscaling", "HorizontalPodAutoscaler") => {
            let min = int("/spec/minReplicas");
            if let Some(m) = min
                && m < 1
            {
                causes.push(Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {m}: must be greater than or equal to 1"),
                    field: "spec.minReplicas".into(),
                });
            }
            match int("/spec/maxReplicas") {
                Some(max) if max < 1 => causes.push(Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!("Invalid value: {max}: must be greater than 0"),
                    field: "spec.maxReplicas".into(),
                }),
                Some(max) if min.is_some_and(|m| max < m) => causes.push(Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!(
                        "Invalid value: {max}: must be greater than or equal to `minReplicas`"
                    ),
                    field: "spec.maxReplicas".into(),
                }),
                Some(_) => {}
                None => causes.push(Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value".into(),
                    field: "spec.maxReplicas".into(),
                }),
            }
            for k in ["kind", "name"] {
                let v = obj
                    .pointer(&format!("/spec/scaleTargetRef/{k}"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if v.is_empty() {
                    causes.push(Cause {
                        reason: "FieldValueRequired".into(),
                        message: "Required value".into(),
                        field: format!("spec.scaleTargetRef.{k}"),
                    });
                }
            }
        }
        ("apps", "StatefulSet" | "Deployment") => {
            let selector = obj
                .pointer("/spec/selector/matchLabels")
                .and_then(Value::as_object);
            let labels = obj
                .pointer("/spec/template/metadata/labels")
                .and_then(Value::as_object);
            let expressions = obj
                .pointer("/spec/selector/matchExpressions")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            match selector {
                // matchExpressions are not evaluated here.
                _ if expressions => {}
                Some(sel) if !sel.is_empty() => {
                    let matches = sel
                        .iter()
                        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
                    if !matches {
                        causes.push(Cause {
                            reason: "FieldValueInvalid".into(),
                            message: format!(
                                "Invalid value: {}: `selector` does not match template `labels`",
                                labels.map_or_else(
                                    || "null".to_string(),
                                    |l| { Value::Object(l.clone()).to_string() }
                                )
                            ),
                            field: "spec.template.metadata.labels".into(),
                        });
                    }
                }
                _ => causes.push(Cause {
                    reason: "FieldValueRequired".into(),
                    message: "Required value".into(),
                    field: "spec.selector".into(),
                }),
            }
        }
        _ => {}
    }
    causes
}

fn cel(field: &str, message: &str, value: &Value) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: format!("Invalid value: \"{}\": {message}", type_name(value)),
        field: field.into(),
    }
}

/// The `x-kubernetes-validations` (CEL) rules of the shipped CRDs that matter to a mesh
/// charm, hand-coded: the schema validator does not evaluate CEL. Messages are the CRDs'.
pub(crate) fn cel_rules(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(spec) = obj.get("spec").filter(|s| s.is_object()) else {
        return causes;
    };
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("security.istio.io", "AuthorizationPolicy") => {
            let set = ["selector", "targetRef", "targetRefs"]
                .iter()
                .filter(|k| spec.get(**k).is_some())
                .count();
            if set > 1 {
                causes.push(cel(
                    "spec",
                    "only one of targetRefs or selector can be set",
                    spec,
                ));
            }
            let cross = "cross namespace referencing is not currently supported";
            if let Some(ns) = spec
                .get("targetRef")
                .and_then(|r| r.get("namespace"))
                .and_then(Value::as_str)
                && !ns.is_empty()
            {
                causes.push(cel("spec.targetRef.namespace", cross, &Value::from(ns)));
            }
            for (i, r) in spec
                .get("targetRefs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(ns) = r.get("namespace").and_then(Value::as_str)
                    && !ns.is_empty()
                {
                    let f = format!("spec.targetRefs[{i}].namespace");
                    causes.push(cel(&f, cross, &Value::from(ns)));
                }
            }
            if let Some(ml) = spec
                .get("selector")
                .and_then(|s| s.get("matchLabels"))
                .and_then(Value::as_object)
            {
                let f = "spec.selector.matchLabels";
                if ml.keys().any(|k| k.contains('*')) {
                    causes.push(cel(f, "wildcard not allowed in label key match", spec));
                }
                if ml.keys().any(String::is_empty) {
                    causes.push(cel(f, "key must not be empty", spec));
                }
                for (k, v) in ml {
                    if v.as_str().is_some_and(|v| v.contains('*')) {
                        causes.push(cel(
                            &format!("spec.selector.matchLabels[{k}]"),
                            "wildcard not allowed in label value match",
                            v,
                        ));
                    }
                }
            }
            for (i, rule) in spec
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                for (j, from) in rule
                    .get("from")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let Some(src) = from.get("source") else {
                        continue;
                    };
                    let has = |k: &str| src.get(k).is_some();
                    if (has("serviceAccounts") || has("notServiceAccounts"))
                        && (has("principals")
                            || has("notPrincipals")
                            || has("namespaces")
                            || has("notNamespaces"))
                    {
                        causes.push(cel(
                            &format!("spec.rules[{i}].from[{j}].source"),
                            "Cannot set serviceAccounts with namespaces or principals",
                            src,
                        ));
                    }
                }
            }
        }
        ("gateway.networking.k8s.io", "Gateway") => {
            let listeners: Vec<&Value> = spec
                .get("listeners")
                .and_then(Value::as_array)
                .map(|a| a.iter().collect())
                .unwrap_or_default();
            let f = "spec.listeners";
            let all = Value::Array(listeners.iter().map(|l| (*l).clone()).collect());
            fn proto(l: &Value) -> &str {
                l.get("protocol").and_then(Value::as_str).unwrap_or("")
            }
            let host = |l: &Value| {
                l.get("hostname")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            if listeners
                .iter()
                .any(|l| matches!(proto(l), "HTTP" | "TCP" | "UDP") && l.get("tls").is_some())
            {
                causes.push(cel(
                    f,
                    "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
                    &all,
                ));
            }
            if listeners.iter().any(|l| {
                matches!(proto(l), "TCP" | "UDP") && host(l).is_some_and(|h| !h.is_empty())
            }) {
                causes.push(cel(
                    f,
                    "hostname must not be specified for protocols ['TCP', 'UDP']",
                    &all,
                ));
            }
            let names: Vec<Option<&Value>> = listeners.iter().map(|l| l.get("name")).collect();
            if names
                .iter()
                .any(|n| names.iter().filter(|m| *m == n).count() > 1)
            {
                causes.push(cel(
                    f,
                    "Listener name must be unique within the Gateway",
                    &all,
                ));
            }
            let combos: Vec<(Option<&Value>, &str, Option<String>)> = listeners
                .iter()
                .map(|l| (l.get("port"), proto(l), host(l)))
                .collect();
            if combos
                .iter()
                .any(|c| combos.iter().filter(|d| *d == c).count() > 1)
            {
                causes.push(cel(
                    f,
                    "Combination of port, protocol and hostname must be unique for each listener",
                    &all,
                ));
            }
        }
        ("networking.istio.io", "DestinationRule") => {
            if let Some(tp) = spec.get("trafficPolicy") {
                traffic_policy_durations(tp, "spec.trafficPolicy", &mut causes);
            }
            for (i, subset) in spec
                .get("subsets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if let Some(tp) = subset.get("trafficPolicy") {
                    let at = format!("spec.subsets[{i}].trafficPolicy");
                    traffic_policy_durations(tp, &at, &mut causes);
                }
            }
            selector_labels(
                spec.get("workloadSelector"),
                "spec.workloadSelector.matchLabels",
                &mut causes,
            );
        }
        ("security.istio.io", "PeerAuthentication") => {
            selector_labels(
                spec.get("selector"),
                "spec.selector.matchLabels",
                &mut causes,
            );
            if let Some(ports) = spec.get("portLevelMtls").and_then(Value::as_object) {
                let in_range =
                    |k: &String| k.parse::<i64>().is_ok_and(|p| (1..=65535).contains(&p));
                if !ports.keys().all(in_range) {
                    causes.push(cel(
                        "spec.portLevelMtls",
                        "port must be between 1-65535",
                        &spec["portLevelMtls"],
                    ));
                }
                let has_selector = spec
                    .get("selector")
                    .and_then(|s| s.get("matchLabels"))
                    .and_then(Value::as_object)
                    .is_some_and(|m| !m.is_empty());
                if !has_selector {
                    causes.push(cel("spec", "portLevelMtls requires selector", spec));
                }
            }
        }
        _ => {}
    }
    causes
}

/// Istio's `matchLabels` CEL rules (no `*` in keys or values, no empty key).
fn selector_labels(selector: Option<&Value>, field: &str, causes: &mut Vec<Cause>) {
    let Some(ml) = selector
        .and_then(|s| s.get("matchLabels"))
        .and_then(Value::as_object)
    else {
        return;
    };
    let whole = Value::Object(ml.clone());
    if ml.keys().any(|k| k.contains('*')) {
        causes.push(cel(
            field,
            "wildcard not allowed in label key match",
            &whole,
        ));
    }
    if ml.keys().any(String::is_empty) {
        causes.push(cel(field, "key must not be empty", &whole));
    }
    for (k, v) in ml {
        if v.as_str().is_some_and(|v| v.contains('*')) {
            causes.push(cel(
                &format!("{field}[{k}]"),
                "wildcard not allowed in label value match",
                v,
            ));
        }
    }
}

/// Go's `time.ParseDuration` (what CEL's `duration()` uses), in nanoseconds; `None` where Go
/// returns an error.
fn go_duration_nanos(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    Some(if neg { -total } else { total })
}

/// `duration(self) >= duration('1ms')` on the duration fields of a DestinationRule traffic
/// policy and its `portLevelSettings`.
fn traffic_policy_durations(tp: &Value, at: &str, causes: &mut Vec<Cause>) {
    const FIELDS: [&[&str]; 9] = [
        &["connectionPool", "tcp", "connectTimeout"],
        &["connectionPool", "tcp", "maxConnectionDuration"],
        &["connectionPool", "tcp", "tcpKeepalive", "time"],
        &["connectionPool", "tcp", "tcpKeepalive", "interval"],
        &["connectionPool", "http", "idleTimeout"],
        &["outlierDetection", "interval"],
        &["outlierDetection", "baseEjectionTime"],
        &["loadBalancer", "warmupDurationSecs"],
        &["loadBalancer", "warmup", "duration"],
    ];
    for path in FIELDS {
        let Some(v) = path.iter().try_fold(tp, |v, k| v.get(*k)) else {
            continue;
        };
        let ok = v
            .as_str()
            .and_then(go_duration_nanos)
            .is_some_and(|ns| ns >= 1e6);
        if !ok {
            let field = format!("{at}.{}", path.join("."));
            causes.push(cel(&field, "must be a valid duration greater than 1ms", v));
        }
    }
    for (i, p) in tp
        .get("portLevelSettings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        traffic_policy_durations(p, &format!("{at}.portLevelSettings[{i}]"), causes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (s, ns) in [
            ("1ms", 1e6),
            ("0", 0.0),
            ("1.5s", 1.5e9),
            ("1h2m", 3720e9),
            ("-1s", -1e9),
            ("100us", 1e5),
            ("2h45m0.5s", 9900.5e9),
        ] {
            assert_eq!(go_duration_nanos(s), Some(ns), "{s}");
        }
        for bad in ["", "1", "s", "1d", "1.2.3s", "-", "1 s", ".s"] {
            assert_eq!(go_duration_nanos(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn names_and_labels() {
        assert!(subdomain_errors("a.b-c").is_empty());
        assert!(!subdomain_errors("Bad_Name").is_empty());
        assert!(!subdomain_errors(&"a".repeat(254)).is_empty());
        assert!(!label_errors(&"a".repeat(64)).is_empty());
        assert!(qualified_name_errors("app.kubernetes.io/instance").is_empty());
        assert!(!qualified_name_errors("a/b/c").is_empty());
        assert!(!qualified_name_errors(&"k".repeat(64)).is_empty());
        assert!(label_value_errors("").is_empty());
        assert!(!label_value_errors(&"v".repeat(64)).is_empty());
        assert!(!label_value_errors("-x").is_empty());
        assert_eq!(field_path("/spec/rules/0/to"), "spec.rules[0].to");
    }
}
