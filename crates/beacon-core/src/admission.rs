//! What a consumer may ask for: every value of its databag that becomes part of a name,
//! namespace, principal, label or URL is checked here, and every target it names must be its
//! own workloads, before anything is rendered. A refusal skips that one policy, with a
//! reason the caller logs naming the relation and app.
//!
//! The rules:
//! - **Syntax.** Namespaces, app and Service names are DNS-1123 labels (as Kubernetes
//!   checks namespace and Service names, and Juju app names are); selector keys and values
//!   follow Kubernetes' label rules; the policy's name is a DNS-1123 subdomain. Anything else
//!   could change a request URL or make the API server refuse the request.
//! - **Same-model consumer `A`** (in the beacon's model `M`): `target_namespace` is `M`;
//!   `target_app_name`, when set, is `A`; `target_service`, when set, is `A` (Juju's Service
//!   of the app: a charm's other Services cannot be proven to select only its pods); a unit
//!   policy's pods are `A`'s: its `target_selector_labels`, when set, pin
//!   `app.kubernetes.io/name: A` (the label Juju gives the app's pods), and a unit policy with
//!   neither a target app nor a selector (which would select every pod of the namespace) is
//!   refused.
//! - **Cross-model consumer** (Juju shows it on the offering side as `remote-<32 hex>`):
//!   Juju tells the offering side nothing about the consumer's model, and `cmr_data` is the
//!   consumer's own claim, so its targets cannot be proven its own. Its policies are refused
//!   unless the operator lists, in `cross-model-namespaces`, the namespaces cross-model
//!   consumers may open; the beacon's own model is never one of them (its workloads are
//!   same-model apps, and a local app merely *named* `remote-<hex>` must not gain anything
//!   by its name). Within a listed namespace the same ownership rules apply, with the app
//!   being the one the consumer published in `cmr_data` (and its model, when published, must
//!   be the target namespace), or else its `target_app_name`.

use service_mesh::{CmrData, MeshPolicy, PolicyTargetType};

/// The label Juju gives every pod of an application.
pub const APP_NAME_LABEL: &str = "app.kubernetes.io/name";

/// Who is asking: the consumer as Juju names it, and what the beacon knows of it.
#[derive(Debug, Clone, Copy)]
pub struct Consumer<'a> {
    /// The remote application name on the relation.
    pub app: &'a str,
    /// The beacon's model (= namespace).
    pub model: &'a str,
    /// The consumer's `cmr_data` from `provide-cmr-mesh`, if it sent one.
    pub cmr: Option<&'a CmrData>,
    /// Config `cross-model-namespaces`.
    pub cross_model_namespaces: &'a [String],
}

/// `remote-<32 hex>`: how the offering side of a cross-model relation names the consumer.
pub fn is_cross_model(remote_app: &str) -> bool {
    remote_app
        .strip_prefix("remote-")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `policy`, asked for by `consumer`, may be rendered; `Err` says why not.
pub fn admit(consumer: &Consumer, policy: &MeshPolicy) -> Result<(), String> {
    check_syntax(policy)?;
    let owner = if is_cross_model(consumer.app) {
        cross_model_owner(consumer, policy)?
    } else {
        if policy.target_namespace != consumer.model {
            return Err(format!(
                "target_namespace {:?} is not this model {:?}",
                policy.target_namespace, consumer.model
            ));
        }
        consumer.app
    };
    // The owner becomes a Service name or the pinned label value: a name no Juju app can have
    // owns nothing (an empty one would pin `app.kubernetes.io/name: ""`, pods of no app).
    dns1123_label(owner)
        .map_err(|why| format!("the related application's name {owner:?} {why}"))?;
    check_targets(policy, owner)
}

/// The app whose workloads a cross-model consumer's policy may target (see the module docs).
fn cross_model_owner<'a>(
    consumer: &Consumer<'a>,
    policy: &'a MeshPolicy,
) -> Result<&'a str, String> {
    let ns = policy.target_namespace.as_str();
    if ns == consumer.model {
        return Err(format!(
            "a cross-model consumer may not target this model's namespace {ns:?}"
        ));
    }
    if !consumer.cross_model_namespaces.iter().any(|n| n == ns) {
        return Err(format!(
            "cross-model consumers may not target namespace {ns:?}: Juju cannot prove it is the \
             consumer's own; an operator may allow it with `juju config <beacon> \
             cross-model-namespaces=...`"
        ));
    }
    match consumer.cmr {
        Some(cmr) => {
            if cmr.juju_model_name != ns {
                return Err(format!(
                    "target_namespace {ns:?} is not the consumer's model {:?} (cmr_data)",
                    cmr.juju_model_name
                ));
            }
            Ok(cmr.app_name.as_str())
        }
        None => policy
            .target_app_name
            .as_deref()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                "a cross-model consumer without cmr_data must name its target_app_name".to_owned()
            }),
    }
}

/// Every target the policy names is `owner`'s.
fn check_targets(policy: &MeshPolicy, owner: &str) -> Result<(), String> {
    if let Some(app) = set(&policy.target_app_name)
        && app != owner
    {
        return Err(format!(
            "target_app_name {app:?} is not the related application {owner:?}"
        ));
    }
    if let Some(service) = set(&policy.target_service)
        && service != owner
    {
        return Err(format!(
            "target_service {service:?} is not the related application's Service {owner:?}"
        ));
    }
    match policy.target_type {
        PolicyTargetType::App => {
            if set(&policy.target_app_name).is_none() && set(&policy.target_service).is_none() {
                return Err("an app policy must name its target".to_owned());
            }
        }
        PolicyTargetType::Unit => match policy.target_selector_labels.as_ref() {
            Some(labels) if !labels.is_empty() => {
                let pinned = labels.iter().find(|(k, _)| k == APP_NAME_LABEL);
                if pinned.map(|(_, v)| v.as_str()) != Some(owner) {
                    return Err(format!(
                        "target_selector_labels must select the related application's pods \
                         ({APP_NAME_LABEL}: {owner:?})"
                    ));
                }
            }
            _ if set(&policy.target_app_name).is_none() => {
                return Err(
                    "a unit policy without target_app_name or target_selector_labels would \
                     select every pod of the namespace"
                        .to_owned(),
                );
            }
            _ => {}
        },
    }
    Ok(())
}

/// A field that is set: present and not empty (pydantic's truthiness, as the builder reads it).
fn set(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|s| !s.is_empty())
}

/// Every value that reaches a name, namespace, principal, label or URL.
pub fn check_syntax(policy: &MeshPolicy) -> Result<(), String> {
    let label = |field: &str, value: &str| {
        dns1123_label(value).map_err(|why| format!("{field} {value:?} {why}"))
    };
    label("source_namespace", &policy.source_namespace)?;
    label("source_app_name", &policy.source_app_name)?;
    label("target_namespace", &policy.target_namespace)?;
    for (field, value) in [
        ("target_app_name", &policy.target_app_name),
        ("target_service", &policy.target_service),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            label(field, v)?;
        }
    }
    for (k, v) in policy.target_selector_labels.iter().flatten() {
        label_key(k).map_err(|why| format!("target_selector_labels key {k:?} {why}"))?;
        label_value(v).map_err(|why| format!("target_selector_labels value {v:?} {why}"))?;
    }
    Ok(())
}

/// A name as Kubernetes checks a namespace or Service name (RFC 1123 label).
pub fn dns1123_label(s: &str) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1 to 63 characters");
    }
    dns1123_part(s).map_err(|()| {
        "must consist of lower case alphanumeric characters or '-', and start and end with \
         an alphanumeric character"
    })
}

/// An object name as Kubernetes checks most (RFC 1123 subdomain, as `IsDNS1123Subdomain`:
/// at most 253 characters in all, no limit per part).
pub fn dns1123_subdomain(s: &str) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > 253 {
        return Err("must be 1 to 253 characters");
    }
    s.split('.').try_for_each(dns1123_part).map_err(|()| {
        "must consist of lower case alphanumeric characters, '-' or '.', and each part \
         must start and end with an alphanumeric character"
    })
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn dns1123_part(s: &str) -> Result<(), ()> {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let ends = s.bytes().next().is_some_and(alnum) && s.bytes().last().is_some_and(alnum);
    if ends && s.bytes().all(|b| alnum(b) || b == b'-') {
        Ok(())
    } else {
        Err(())
    }
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name of at most 63
/// characters (alphanumerics, `-`, `_`, `.`; alphanumeric at both ends).
pub fn label_key(s: &str) -> Result<(), &'static str> {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if let Some(prefix) = prefix {
        dns1123_subdomain(prefix).map_err(|_| "has an invalid prefix")?;
    }
    if name.is_empty() {
        return Err("has an empty name");
    }
    label_value(name)
}

/// A label value: empty, or at most 63 alphanumerics, `-`, `_`, `.`, alphanumeric at both
/// ends.
pub fn label_value(s: &str) -> Result<(), &'static str> {
    if s.len() > 63 {
        return Err("must be at most 63 characters");
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err("must consist of alphanumeric characters, '-', '_' or '.'");
    }
    let alnum = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    if !alnum(s.chars().next()) || !alnum(s.chars().last()) {
        return Err("must start and end with an alphanumeric character");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
