//! What the charm remembers between hooks in files of its charm dir (as ops keeps its
//! state there): facts that save reads, never instructions. A missing, unreadable or
//! stale file only costs the reads it would have saved.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use charm_runtime::JujuContext;

use crate::desired::Derived;
use crate::plan::AppliedRecord;

/// A consumer relation's remote app and the one key of its app bag the beacon reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedRelation {
    pub endpoint: String,
    pub app: String,
    #[serde(with = "embedded_json")]
    pub value: Option<String>,
    /// What `value` gave (service-mesh), once computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<Derived>,
}

/// Consumer app data remembered between hooks, by relation id (see [`crate::snapshot`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteCache {
    pub relations: BTreeMap<u64, CachedRelation>,
}

impl RemoteCache {
    const FILE: &str = ".istio-beacon-consumers.json";

    pub fn path(ctx: &JujuContext) -> Option<PathBuf> {
        ctx.charm_dir.as_ref().map(|dir| dir.join(Self::FILE))
    }

    pub fn load(path: &Path) -> RemoteCache {
        load(path)
    }

    pub fn save(&self, path: &Path) {
        save(path, self);
    }

    pub fn forget(path: &Path) {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
        }
    }
}

/// [`AppliedRecord`]s of the owned policies, by `namespace/name` (see [`crate::plan`]).
pub struct AppliedRecords;

impl AppliedRecords {
    const FILE: &str = ".istio-beacon-applied.json";

    pub fn path(ctx: &JujuContext) -> Option<PathBuf> {
        ctx.charm_dir.as_ref().map(|dir| dir.join(Self::FILE))
    }

    pub fn load(path: &Path) -> HashMap<String, AppliedRecord> {
        load(path)
    }

    pub fn save(path: &Path, records: &BTreeMap<String, AppliedRecord>) {
        save(path, records);
    }
}

/// A databag value that is itself JSON (as `policies` and `cmr_data` are) is written into
/// the file as it is, not as an escaped string: reading it back then copies it instead of
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

fn load<T: serde::de::DeserializeOwned + Default>(path: &Path) -> T {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Written whole to a temporary file, then renamed: a hook killed midway leaves the old
/// file or the new one.
fn save<T: serde::Serialize>(path: &Path, value: &T) {
    let tmp = path.with_extension("json.tmp");
    let written = serde_json::to_vec(value)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        tracing::warn!("cannot write {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_the_file_exactly() {
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
        let cache = RemoteCache {
            relations: values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let entry = CachedRelation {
                        endpoint: "service-mesh".into(),
                        app: format!("app{i}"),
                        value: v.map(str::to_owned),
                        derived: None,
                    };
                    (i as u64, entry)
                })
                .collect(),
        };
        let text = serde_json::to_string(&cache).expect("encode");
        assert!(
            text.contains(r#""value":[{"b": 1, "a": "x\"y"}]"#),
            "{text}"
        );
        let back: RemoteCache = serde_json::from_str(&text).expect("decode");
        assert_eq!(back, cache);
    }
}
