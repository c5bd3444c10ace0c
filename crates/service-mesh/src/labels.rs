//! Kubernetes label values and names derived from a Juju model and app
//! (`canonical_service_mesh.utils._labels` and friends).

use sha1::{Digest, Sha1};
use thiserror::Error;

/// Label values are limited to 63 characters.
pub const MAX_LABEL_LEN: usize = 63;

// Ownership labels: every object a charm manages carries both (`create_charm_default_labels`),
// and is found again by a label query on both.

/// The label key that carries the charm instance (`create_charm_default_labels`).
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// The label key that separates the resource sets of one charm.
pub const SCOPE_LABEL: &str = "kubernetes-resource-handler-scope";

// Values of [`SCOPE_LABEL`]: one per resource manager of the beacon, as the Python beacon names
// them (its existing objects are adopted by these values).

/// The beacon's waypoint (Gateway, HPA).
pub const WAYPOINT_SCOPE: &str = "istio-waypoint";
/// The AuthorizationPolicies built from the `service-mesh` relations (and the beacon's own
/// metrics policy).
pub const AUTHORIZATION_POLICY_SCOPE: &str = "istio-authorization-policy";
/// The policy that lets everyone reach the modeloperator when the model is on the mesh.
pub const MODELOPERATOR_AUTHORIZATION_POLICY_SCOPE: &str = "modeloperator-authorization-policy";

// Namespace (and workload) labels of Istio's ambient mode.

/// Which waypoint serves the labelled namespace or workload.
pub const USE_WAYPOINT_LABEL: &str = "istio.io/use-waypoint";
/// The namespace of that waypoint, when it is in another namespace.
pub const USE_WAYPOINT_NAMESPACE_LABEL: &str = "istio.io/use-waypoint-namespace";
/// `ambient` puts the labelled namespace or workload on the ambient mesh.
pub const DATAPLANE_MODE_LABEL: &str = "istio.io/dataplane-mode";
/// Which beacon (its [`identity`], `<model>.<app>`) manages the namespace's waypoint labels.
pub const WAYPOINT_MANAGED_BY_LABEL: &str = "charms.canonical.com/istio.io.waypoint.managed-by";

const HASH_LEN: usize = 6;

/// `ValueError`s raised by `charm_kubernetes_label`; `Display` is the upstream text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LabelError {
    #[error("Both model_name and app_name must be at least 1 character long.")]
    EmptyName,
    #[error(
        "Fixed label portion (prefix, suffix, hash, and separator) is too long ({fixed} chars); must leave at least 1 character each for model_name and app_name to fit within the {max_length} character limit."
    )]
    FixedPortionTooLong { fixed: usize, max_length: usize },
}

fn take_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// `charm_kubernetes_label`: `{prefix}{model}{sep}{app}{suffix}`, or, when that exceeds
/// `max_length` characters, `{prefix}{model[:m]}{sep}{app[:a]}{sep}{sha1(model+sep+app)[:6]}{suffix}`
/// with the space split proportionally (Python `int()` of a float ratio).
pub fn charm_kubernetes_label(
    model: &str,
    app: &str,
    prefix: &str,
    suffix: &str,
    separator: &str,
    max_length: usize,
) -> Result<String, LabelError> {
    if model.is_empty() || app.is_empty() {
        return Err(LabelError::EmptyName);
    }
    let label = format!("{prefix}{model}{separator}{app}{suffix}");
    let len = |s: &str| s.chars().count();
    if len(&label) <= max_length {
        return Ok(label);
    }
    // Upstream counts the two separators as 2, whatever the separator's length.
    let fixed = len(prefix) + len(suffix) + HASH_LEN + 2;
    if fixed + 2 > max_length {
        return Err(LabelError::FixedPortionTooLong { fixed, max_length });
    }
    let digest = hex::encode(Sha1::digest(format!("{model}{separator}{app}").as_bytes()));
    let hash = &digest[..HASH_LEN];
    let available = max_length - fixed;
    let (mlen, alen) = (len(model), len(app));
    // int(available * len(model) / total): true division of exact integers, then truncation.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let model_len = (((available * mlen) as f64 / (mlen + alen) as f64) as usize).max(1);
    let app_len = available.saturating_sub(model_len).max(1);
    Ok(format!(
        "{prefix}{}{separator}{}{separator}{hash}{suffix}",
        take_chars(model, model_len),
        take_chars(app, app_len)
    ))
}

/// The ownership label value: `charm_kubernetes_label(model, app, separator="-")`.
pub fn instance_label(model: &str, app: &str) -> Result<String, LabelError> {
    charm_kubernetes_label(model, app, "", "", "-", MAX_LABEL_LEN)
}

/// The waypoint Gateway/Deployment/HPA name: `<model>-<app>-waypoint`, truncated to 63.
pub fn waypoint_name(model: &str, app: &str) -> Result<String, LabelError> {
    charm_kubernetes_label(model, app, "", "-waypoint", "-", MAX_LABEL_LEN)
}

/// The beacon identity used in the namespace `managed-by` label: `<model>.<app>`.
pub fn identity(model: &str, app: &str) -> Result<String, LabelError> {
    charm_kubernetes_label(model, app, "", "", ".", MAX_LABEL_LEN)
}

/// The telemetry label key `charms.canonical.com/<model>.<app>.telemetry` (63 incl. prefix).
pub fn telemetry_label_key(model: &str, app: &str) -> Result<String, LabelError> {
    charm_kubernetes_label(
        model,
        app,
        "charms.canonical.com/",
        ".telemetry",
        ".",
        MAX_LABEL_LEN,
    )
}

/// `generate_telemetry_labels(app, model)`: `{<key>: "aggregated"}`.
pub fn telemetry_labels(model: &str, app: &str) -> Result<Vec<(String, String)>, LabelError> {
    Ok(vec![(
        telemetry_label_key(model, app)?,
        "aggregated".to_owned(),
    )])
}

/// `create_charm_default_labels(app, model, scope)`: the ownership labels of one resource set.
pub fn charm_default_labels(
    app: &str,
    model: &str,
    scope: &str,
) -> Result<Vec<(String, String)>, LabelError> {
    Ok(vec![
        (INSTANCE_LABEL.to_owned(), instance_label(model, app)?),
        (SCOPE_LABEL.to_owned(), scope.to_owned()),
    ])
}

/// The ownership labels written by lightkube-extensions < 1.0 (beacon revisions up to May
/// 2026): instance `<app>-<model>`, not truncated.
pub fn legacy_charm_default_labels(app: &str, model: &str, scope: &str) -> Vec<(String, String)> {
    vec![
        (INSTANCE_LABEL.to_owned(), format!("{app}-{model}")),
        (SCOPE_LABEL.to_owned(), scope.to_owned()),
    ]
}
