//! What the beacon remembers between hooks: the memo. The types live here; loading and
//! storing them is the binary's (`src/memo_store.rs`).
//!
//! A beacon may serve a thousand consumers with ten thousand policies, and on Juju every
//! read is a hook-tool process, so a hook where nothing changed must not read everything
//! back. Each memo is a fact that saves reads, never an instruction: a missing, unreadable
//! or stale one only costs the reads it would have saved.
//!
//! | memo | kept in | valid because | read again |
//! |---|---|---|---|
//! | [`Consumers`]: each consumer's app data (`policies`, `cmr_data`) and app name, by relation id | charm dir file | Juju runs `relation-changed` on this unit after every change of a remote bag, and that hook re-reads its own relation; a relation id's remote app never changes | the hook's own relation; everything (but app names) on `leader-elected`, `upgrade-charm`, `config-changed`; a non-leader deletes it |
//! | [`Derived`]: what each consumer's data gave (names, digests, skips) | with its data | a pure function of the data and the model/app names | when the data is read anew and differs; on `upgrade-charm` |
//! | [`Published`]: the provider data in our app bags | unit state (committed with the hook's relation writes) | only the leader writes those bags; a new leader runs `leader-elected`, a new revision `upgrade-charm` | on `leader-elected`, `upgrade-charm` |
//! | [`AppliedRecord`] per owned policy: the resourceVersion at which it held a digest's body | charm dir file | the API server changes the resourceVersion on every write; the digest covers the policy's whole content | a record that does not match is compared in full; all dropped on `upgrade-charm` |
//! | [`AppliedRecord`] per owned `mesh-backend` object: the resourceVersion at which it held the body of a [`body_digest`] | with the policies' records | as for policies | as for policies |
//! | [`Refusals`]: policies (and backend objects) the API server refused, with the digest refused | charm dir file | the same body gets the same answer while the cluster does not change | a changed policy is sent; all are sent again on `config-changed`, `leader-elected`, `upgrade-charm` |
//! | [`BackendRendering`]: what the `mesh-backend` wanted for a set of policies | charm dir file | rendering is a pure function of its inputs (this revision) | rendered again when the inputs change, or when the records and refusals do not give its objects; dropped on `upgrade-charm` |

use std::collections::{BTreeMap, HashMap};

use crate::kinds::{Kind, ObjectKey};

/// A consumer relation's remote app and the one key of its app bag the beacon reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConsumerEntry {
    pub endpoint: String,
    pub app: String,
    #[serde(with = "embedded_json")]
    pub value: Option<String>,
    /// The `traffic` value (service-mesh), when the consumer sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<String>,
    /// What `value` gave (service-mesh), once computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<Derived>,
}

/// Consumer app data remembered between hooks, by relation id.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Consumers {
    pub relations: BTreeMap<u64, ConsumerEntry>,
}

/// What one consumer's `policies` value gives, remembered with the value so that parsing
/// and hashing are skipped while it does not change.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Derived {
    pub intents: Vec<DerivedIntent>,
    pub skipped: Vec<DerivedSkip>,
}

/// A policy of a consumer's `policies`, identified: element `index` is the object
/// `namespace/name` whose content has `digest`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DerivedIntent {
    pub index: usize,
    pub namespace: String,
    pub name: String,
    pub digest: String,
}

/// An element (or, `index: None`, the whole value) skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DerivedSkip {
    pub index: Option<usize>,
    pub reason: String,
}

/// What an owned policy held at one resourceVersion: the body of the policy with this
/// digest (we applied it, or compared it in full). Every write changes the resourceVersion,
/// so while it is unchanged and the desired digest is the same, the object needs nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppliedRecord {
    pub resource_version: String,
    pub digest: String,
}

/// [`AppliedRecord`]s by [`record_key`].
pub type Records = HashMap<String, AppliedRecord>;

/// What a non-Istio `mesh-backend` rendered from one set of policies: while the inputs are
/// the same (`inputs`: the backend and its settings, our names, and every policy's digest
/// and origin, in order), the objects it wants are the same (`wanted`: a digest of their
/// [`object_record_key`]s and [`body_digest`]s) and so are its findings. A hook whose
/// [`AppliedRecord`]s (at the listed resourceVersions) and [`Refusals`] give `wanted`
/// again has nothing to render, compare or send.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackendRendering {
    pub inputs: String,
    pub wanted: String,
    pub findings: Vec<RememberedFinding>,
}

/// A policy the backend narrowed or refused (a `BackendFinding` of the desired state).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RememberedFinding {
    /// The consumer relation and app that asked (`None`: the beacon's own policy).
    pub origin: Option<(u64, String)>,
    pub policy: String,
    pub refused: bool,
    pub reason: String,
}

/// A digest of a set of `(key, digest)` pairs, whatever their order (the `wanted` of a
/// [`BackendRendering`]).
pub fn set_digest<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    use sha2::{Digest, Sha256};
    let mut pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
    pairs.sort_unstable();
    let mut hasher = Sha256::new();
    for (key, digest) in pairs {
        for part in [key, digest] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    format!("{:x}", hasher.finalize())
}

/// Policies the API server refused as they were (e.g. their target namespace does not
/// exist), by [`record_key`], with the digest of what was refused: not sent again while the
/// policy is unchanged, until a hook that reads everything (`config-changed`,
/// `leader-elected`, `upgrade-charm`). They stay counted as skipped in the status.
pub type Refusals = HashMap<String, String>;

/// The key of a policy's [`AppliedRecord`].
pub fn record_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// The key of an owned object's [`AppliedRecord`] and [`Refusals`] entry: [`record_key`]
/// for an Istio AuthorizationPolicy (as earlier memos hold them),
/// `<plural>.<group>/<namespace>/<name>` for any other kind (a `mesh-backend`'s objects:
/// two kinds may share a name). Neither a namespace nor a name holds a `/`, so no two
/// objects share a key.
pub fn object_record_key(key: &ObjectKey) -> String {
    match key.kind {
        Kind::AuthorizationPolicy => record_key(&key.namespace, &key.name),
        kind => format!(
            "{}.{}/{}/{}",
            kind.plural(),
            kind.group(),
            key.namespace,
            key.name
        ),
    }
}

/// Whether `key`, an [`object_record_key`], is of a kind other than Istio's
/// AuthorizationPolicy (`<plural>.<group>/<namespace>/<name>`: two slashes, a policy's one).
pub fn is_object_record_of_other_kind(key: &str) -> bool {
    key.matches('/').count() == 2
}

/// The digest of an object's body as we send it (sha256 of its JSON text): equal digests,
/// equal bodies. What an [`AppliedRecord`] of an object that is not a policy holds.
pub fn body_digest(body: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    /// Hashes the JSON text as it is written, without holding it.
    struct Hashing(Sha256);
    impl std::io::Write for Hashing {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.update(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hashing = Hashing(Sha256::new());
    // Writing a Value to a sink that never fails cannot fail; if it did, the digest would
    // only fail to match, and the object would be compared in full.
    let _ = serde_json::to_writer(&mut hashing, body);
    format!("{:x}", hashing.0.finalize())
}

/// What this unit has published as the leader: every relation listed holds exactly the app
/// data of `fingerprint`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Published {
    pub fingerprint: String,
    pub relations: Vec<u64>,
}

/// A digest of databag content (sha256 of its entries, keys sorted).
pub fn fingerprint(bag: &BTreeMap<String, String>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (k, v) in bag {
        // Length-prefixed, so that no two different bags hash the same input.
        for part in [k, v] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
    }
    format!("{:x}", hasher.finalize())
}

/// A databag value that is itself JSON (as `policies` and `cmr_data` are) is written into
/// the memo as it is, not as an escaped string: reading it back then copies it instead of
/// unescaping it. Its exact text survives either way.
mod embedded_json {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    pub fn serialize<S: Serializer>(value: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        let raw = value
            .as_deref()
            .and_then(|v| serde_json::from_str::<&RawValue>(v).ok())
            // Only lists and objects: a JSON string, number or null stays a string, so that
            // reading back can tell them apart.
            .filter(|raw| Some(raw.get()) == value.as_deref() && raw.get().starts_with(['[', '{']));
        match raw {
            Some(raw) => raw.serialize(s),
            None => value.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        if raw.get().starts_with(['[', '{']) {
            Ok(Some(raw.get().to_owned()))
        } else {
            serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_tell_policies_from_other_kinds() {
        let key = |kind, name: &str| ObjectKey {
            kind,
            namespace: "prod".into(),
            name: name.into(),
        };
        let policy = object_record_key(&key(Kind::AuthorizationPolicy, "p"));
        assert_eq!(policy, "prod/p");
        assert!(!is_object_record_of_other_kind(&policy));
        for kind in Kind::BACKEND {
            let k = object_record_key(&key(kind, "p"));
            assert!(is_object_record_of_other_kind(&k), "{k}");
        }
    }

    #[test]
    fn values_survive_the_memo_exactly() {
        let values = [
            None,
            Some(r#"[{"b": 1, "a": "x\"y"}]"#),
            Some("[1,2]"),
            Some(" [1] "),
            Some("{not json"),
            Some(r#""a json string""#),
            Some("null"),
            Some(""),
            Some("é\t\u{1}"),
        ];
        let memo = Consumers {
            relations: values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let entry = ConsumerEntry {
                        endpoint: "service-mesh".into(),
                        app: format!("app{i}"),
                        value: v.map(str::to_owned),
                        traffic: (i % 2 == 0).then(|| format!("{{\"version\": {i}}}")),
                        derived: None,
                    };
                    (i as u64, entry)
                })
                .collect(),
        };
        let text = serde_json::to_string(&memo).expect("encode");
        assert!(
            text.contains(r#""value":[{"b": 1, "a": "x\"y"}]"#),
            "{text}"
        );
        let back: Consumers = serde_json::from_str(&text).expect("decode");
        assert_eq!(back, memo);
    }

    #[test]
    fn fingerprints_tell_bags_apart() {
        let bag = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            fingerprint(&bag(&[("a", "b")])),
            fingerprint(&bag(&[("a", "b")]))
        );
        // Concatenation must not collide: ("ab", "c") vs ("a", "bc").
        assert_ne!(
            fingerprint(&bag(&[("ab", "c")])),
            fingerprint(&bag(&[("a", "bc")]))
        );
        assert_ne!(fingerprint(&bag(&[])), fingerprint(&bag(&[("", "")])));
    }
}
