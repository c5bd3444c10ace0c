//! Loading and storing the memo (`beacon_core::memo`: what the beacon remembers between
//! hooks, and why each part is safe to trust). Files live in the charm dir, as ops keeps its
//! state there; the published provider data lives in unit state, committed with the hook's
//! relation writes. A missing, unreadable or unwritable memo only costs the reads it saves,
//! so failures here are logged, never fatal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use beacon_core::memo::{AppliedRecord, BackendRendering, Consumers, Published, Records, Refusals};
use charm_runtime::{JujuContext, Model, ToolError};

/// The consumers' app data, and what it gave.
const CONSUMERS_FILE: &str = ".istio-beacon-consumers.json";
/// The owned policies' [`AppliedRecord`]s.
const RECORDS_FILE: &str = ".istio-beacon-applied.json";
/// The [`Refusals`].
const REFUSALS_FILE: &str = ".istio-beacon-refused.json";
/// What the mesh-backend rendered, beside the records.
const RENDERING_FILE: &str = ".istio-beacon-backend-rendering.json";
/// The unit-state key of [`Published`].
const PUBLISHED_KEY: &str = "published-provider-data";

fn path(ctx: &JujuContext, file: &str) -> Option<PathBuf> {
    ctx.charm_dir.as_ref().map(|dir| dir.join(file))
}

pub fn load_consumers(ctx: &JujuContext) -> Consumers {
    path(ctx, CONSUMERS_FILE)
        .map(|p| load(&p))
        .unwrap_or_default()
}

/// Keep `memo` for the next hook (`None`: nothing changed).
pub fn save_consumers(ctx: &JujuContext, memo: Option<&Consumers>) {
    if let (Some(memo), Some(path)) = (memo, path(ctx, CONSUMERS_FILE)) {
        save(&path, memo);
    }
}

/// A non-leader keeps no consumer memo: when it leads again, `leader-elected` reads
/// everything anew.
pub fn forget_consumers(ctx: &JujuContext) {
    let Some(path) = path(ctx, CONSUMERS_FILE) else {
        return;
    };
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("cannot remove {}: {e}", path.display()),
    }
}

/// The records of earlier hooks; none after `upgrade-charm` (a new revision may build
/// different bodies for the same digests).
pub fn load_records(ctx: &JujuContext, upgrading: bool) -> Records {
    match path(ctx, RECORDS_FILE) {
        Some(path) if !upgrading => load(&path),
        _ => Records::default(),
    }
}

pub fn save_records(ctx: &JujuContext, records: &BTreeMap<String, AppliedRecord>) {
    if let Some(path) = path(ctx, RECORDS_FILE) {
        save(&path, records);
    }
}

/// The refusals of earlier hooks; none on the hooks that read everything again
/// (`beacon_core::memo::Refusals`).
pub fn load_refusals(ctx: &JujuContext, reads_everything: bool) -> Refusals {
    match path(ctx, REFUSALS_FILE) {
        Some(path) if !reads_everything => load(&path),
        _ => Refusals::default(),
    }
}

pub fn save_refusals(ctx: &JujuContext, refusals: &Refusals) {
    if let Some(path) = path(ctx, REFUSALS_FILE) {
        save(&path, refusals);
    }
}

/// What this unit recorded having published (`None` when never recorded, or unreadable).
pub fn load_published(model: &Model) -> Result<Option<Published>, ToolError> {
    Ok(model
        .tools()
        .state_get_key(PUBLISHED_KEY)?
        .and_then(|v| serde_json::from_str::<Published>(&v).ok()))
}

/// Record what this hook left in our app bags, for the next hook; only when it changed
/// from `before`.
pub fn save_published(
    model: &Model,
    before: Option<&Published>,
    published: Option<Published>,
) -> Result<(), ToolError> {
    if published.as_ref() == before {
        return Ok(());
    }
    let tools = model.tools();
    match published.map(|p| serde_json::to_string(&p)) {
        Some(Ok(value)) => tools.state_set(&BTreeMap::from([(PUBLISHED_KEY.to_owned(), value)])),
        // Nothing worth remembering (or, unreachably, not encodable): forget the old record.
        _ => tools.state_delete(PUBLISHED_KEY),
    }
}

/// What the mesh-backend rendered in an earlier hook; none after `upgrade-charm` (a new
/// revision may render differently).
pub fn load_rendering(ctx: &JujuContext, upgrading: bool) -> Option<BackendRendering> {
    match path(ctx, RENDERING_FILE) {
        Some(path) if !upgrading => load(&path),
        _ => None,
    }
}

pub fn save_rendering(ctx: &JujuContext, rendering: &BackendRendering) {
    if let Some(path) = path(ctx, RENDERING_FILE) {
        save(&path, rendering);
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
