//! Resource names derived from policies (`_generate_network_policy_name`).

use sha2::{Digest, Sha256};

use crate::model::MeshPolicy;

/// Kubernetes' limit for object names.
const MAX_NAME_LEN: usize = 253;
/// How much of each variable part survives when the full name is too long.
const TRUNCATED_PART_LEN: usize = 30;

/// `sha256(str(policy))` in hex: the whole content of the policy (pydantic's `str` lists
/// every field), of which names carry the first 8 digits.
pub fn policy_digest(policy: &MeshPolicy) -> String {
    hex::encode(Sha256::digest(policy.pydantic_str().as_bytes()))
}

/// The first 8 hex digits of `sha256(str(policy))`.
pub fn policy_hash8(policy: &MeshPolicy) -> String {
    let mut h = policy_digest(policy);
    h.truncate(8);
    h
}

/// The name target part: `target_app_name or target_service or "custom-selector"`.
pub fn policy_target(policy: &MeshPolicy) -> &str {
    [&policy.target_app_name, &policy.target_service]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .find(|s| !s.is_empty())
        .unwrap_or("custom-selector")
}

/// First `n` characters (Python slicing counts code points, not bytes).
fn prefix_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// `{beacon_app}-{beacon_model}-policy-{src_app}-{src_ns}-{target}-{hash8}`; if that is longer
/// than 253 characters, the source app, source namespace and target are cut to 30 characters
/// each. The beacon app and model are never cut; nothing is lowercased or sanitised.
pub fn policy_name(beacon_app: &str, beacon_model: &str, policy: &MeshPolicy) -> String {
    policy_name_with_digest(beacon_app, beacon_model, policy, &policy_digest(policy))
}

/// [`policy_name`] from an already computed [`policy_digest`] of `policy`.
pub fn policy_name_with_digest(
    beacon_app: &str,
    beacon_model: &str,
    policy: &MeshPolicy,
    digest: &str,
) -> String {
    let target = policy_target(policy);
    let hash = digest.get(..8).unwrap_or(digest);
    let parts = |n: Option<usize>| {
        let cut = |s: &'_ str| n.map_or(s.to_owned(), |n| prefix_chars(s, n).to_owned());
        [
            beacon_app.to_owned(),
            beacon_model.to_owned(),
            "policy".to_owned(),
            cut(&policy.source_app_name),
            cut(&policy.source_namespace),
            cut(target),
            hash.to_owned(),
        ]
        .join("-")
    };
    let name = parts(None);
    if name.chars().count() > MAX_NAME_LEN {
        parts(Some(TRUNCATED_PART_LEN))
    } else {
        name
    }
}
