//! What the charm remembers between hooks in files of its charm dir (as ops keeps its
//! state there): facts that save reads, never instructions. A missing, unreadable or
//! stale file only costs the reads it would have saved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use charm_runtime::JujuContext;

use crate::desired::Derived;
use crate::plan::AppliedRecord;

/// A consumer relation's remote app and the one key of its app bag the beacon reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CachedRelation {
    pub endpoint: String,
    pub app: String,
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

    pub fn load(path: &Path) -> BTreeMap<String, AppliedRecord> {
        load(path)
    }

    pub fn save(path: &Path, records: &BTreeMap<String, AppliedRecord>) {
        save(path, records);
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
