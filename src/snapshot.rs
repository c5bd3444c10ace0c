//! The Juju side of one hook, read once into a typed, read-only [`Snapshot`].
//!
//! All reading of Juju happens here; everything downstream is computed from the snapshot.
//!
//! Every read is a hook-tool process, and a beacon may serve a thousand consumers, so two
//! things are remembered between hooks instead of being read back each time:
//! - the consumers' app data (and app names), in [`RemoteCache`], a file in the charm dir
//!   ([`crate::memory`]).
//!   Juju runs `relation-changed` on this unit after every change of a remote app bag, and
//!   that hook re-reads its own relation, so an entry can only be stale while such a hook is
//!   queued, which then brings it up to date (the same eventual consistency as Juju's own
//!   event order). Hooks that may follow a period where this unit did not keep it — it was
//!   not the leader, or the charm changed — read all data again: `leader-elected`,
//!   `upgrade-charm`, and `config-changed` (so `juju config` is also a way to force it);
//!   they still use the remembered app names, which never change for a relation id.
//!   A non-leader, which reads no consumer data, deletes the file.
//! - what this unit published in its own app bags ([`Published`], in unit state, committed
//!   with the hook's relation writes), so they are not read back; but on `leader-elected`
//!   and `upgrade-charm`, after which another leader or charm revision may have written them.

use std::collections::BTreeMap;

use charm_runtime::{Event, HookEvent, RelationKind};

use crate::desired::Derived;
use crate::memory::{CachedRelation, RemoteCache};
use crate::plan::{LocalBags, Published};

pub const SERVICE_MESH: &str = "service-mesh";
pub const PROVIDE_CMR_MESH: &str = "provide-cmr-mesh";
pub const METRICS_ENDPOINT: &str = "metrics-endpoint";
pub const CHARM_TRACING: &str = "charm-tracing";
pub const PEERS: &str = "peers";
pub const METRICS_PROXY: &str = "metrics-proxy";

/// The charm's config, typed, with the defaults of config.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub manage_authorization_policies: bool,
    pub model_on_mesh: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            manage_authorization_policies: true,
            model_on_mesh: false,
        }
    }
}

/// What this hook asks of the charm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The holistic reconcile.
    Reconcile,
    /// `service-mesh-relation-created`: only publish the provider databag, as upstream.
    ProviderDataOnly,
    /// `remove`: tear down when the application scales to zero (§4.5).
    Remove,
    /// Nothing to do (install, start, stop, …): upstream leaves the status unknown.
    Ignore,
}

impl Trigger {
    /// Upstream observes config-changed, pebble-ready, and relation events of its endpoints;
    /// we also reconcile on leader-elected, upgrade-charm and update-status (so a new leader
    /// and drift are handled without waiting for another event) and on every relation event
    /// of our endpoints (including provide-cmr-mesh-relation-broken, which upstream misses).
    pub fn of(event: &Event) -> Trigger {
        let Event::Hook(hook) = event else {
            return Trigger::Ignore;
        };
        match hook {
            HookEvent::ConfigChanged
            | HookEvent::UpgradeCharm
            | HookEvent::UpdateStatus
            | HookEvent::LeaderElected => Trigger::Reconcile,
            HookEvent::PebbleReady { container } if container == METRICS_PROXY => {
                Trigger::Reconcile
            }
            HookEvent::Remove => Trigger::Remove,
            HookEvent::Relation { endpoint, kind } => match (endpoint.as_str(), kind) {
                (SERVICE_MESH, RelationKind::Created) => Trigger::ProviderDataOnly,
                (SERVICE_MESH | PROVIDE_CMR_MESH | METRICS_ENDPOINT | CHARM_TRACING | PEERS, _) => {
                    Trigger::Reconcile
                }
                _ => Trigger::Ignore,
            },
            _ => Trigger::Ignore,
        }
    }
}

/// A consumer on `service-mesh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshRelation {
    pub id: u64,
    pub remote_app: String,
    /// The raw `policies` value of the consumer's app databag, if present.
    pub policies: Option<String>,
    /// What `policies` gave in an earlier hook, when it is remembered unchanged.
    pub derived: Option<Derived>,
}

/// A relation on our `provide-cmr-mesh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmrRelation {
    pub id: u64,
    pub remote_app: String,
    /// The raw `cmr_data` value of the remote app databag, if present.
    pub cmr_data: Option<String>,
}

/// A relation on `metrics-endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsRelation {
    pub id: u64,
    pub remote_app: String,
    /// This unit's bind address on the relation (`network-get`), if any.
    pub bind_address: Option<String>,
}

/// The `charm-tracing` relation (limit 1): we publish our request on it. Its provider data
/// is read after the hook, for the span export ([`tracing_remote_data`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracingRelation {
    pub id: u64,
}

/// Everything the charm knows about Juju during this hook.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub model: String,
    pub model_uuid: String,
    pub app: String,
    pub unit: String,
    pub leader: bool,
    pub planned_units: u32,
    pub config: Config,
    pub service_mesh: Vec<MeshRelation>,
    pub cmr: Vec<CmrRelation>,
    pub metrics: Vec<MetricsRelation>,
    pub tracing: Option<TracingRelation>,
    /// Our own databags per relation, read only on the leader (a non-leader may not read
    /// its app bags).
    pub databags: BTreeMap<u64, LocalBags>,
    /// What this unit recorded having published (leader only; `None` when never recorded).
    pub published: Option<Published>,
    /// Whether the remembered consumer data differs from what this snapshot read.
    pub remembered_stale: bool,
}

/// Why the snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Model(#[from] charm_runtime::ModelError),
    #[error(transparent)]
    Tool(#[from] charm_runtime::ToolError),
    #[error("config option {key} must be a {expected}, got {got}")]
    Config {
        key: &'static str,
        expected: &'static str,
        got: String,
    },
}

fn config_bool(
    config: &serde_json::Map<String, serde_json::Value>,
    key: &'static str,
    default: bool,
) -> Result<bool, SnapshotError> {
    match config.get(key) {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(serde_json::Value::Bool(b)) => Ok(*b),
        Some(other) => Err(SnapshotError::Config {
            key,
            expected: "boolean",
            got: other.to_string(),
        }),
    }
}

/// The unit-state key of [`Published`].
const PUBLISHED_KEY: &str = "published-provider-data";

/// Read everything this hook needs from Juju.
pub fn read(model: &charm_runtime::Model) -> Result<Snapshot, SnapshotError> {
    let ctx = model.context();
    let leader = model.is_leader()?;
    let config = model.config()?;
    let defaults = Config::default();
    let config = Config {
        manage_authorization_policies: config_bool(
            config,
            "manage-authorization-policies",
            defaults.manage_authorization_policies,
        )?,
        model_on_mesh: config_bool(config, "model-on-mesh", defaults.model_on_mesh)?,
    };
    // Juju ≥ 3.4 already hides the relation being broken; older Juju does not.
    let broken = ctx.broken_relation_id();
    let relations =
        |endpoint: &str| -> Result<Vec<(charm_runtime::Relation, String)>, SnapshotError> {
            let mut out = Vec::new();
            for rel in model.relations(endpoint)? {
                if Some(rel.id) == broken {
                    continue;
                }
                match rel.app.clone() {
                    Some(app) => out.push((rel, app)),
                    None => no_remote_app(endpoint, rel.id),
                }
            }
            Ok(out)
        };

    // What earlier hooks remembered; a non-leader keeps nothing (see the module docs).
    let cache_path = RemoteCache::path(ctx);
    let remembered = leader && !reads_everything(&ctx.event);
    let upgrading = matches!(ctx.event, Event::Hook(HookEvent::UpgradeCharm));
    // Hooks that read all data again still use the remembered app names: a relation's
    // remote application never changes.
    let mut cache = match (&cache_path, leader) {
        (Some(path), true) => RemoteCache::load(path),
        _ => RemoteCache::default(),
    };
    let published = if leader && !reads_own_bags(&ctx.event) {
        model
            .tools()
            .state_get_key(PUBLISHED_KEY)?
            .and_then(|v| serde_json::from_str::<Published>(&v).ok())
    } else {
        None
    };

    let mut databags = BTreeMap::new();
    // Our own bags, to write only what differs. The unit bag is read only where we write
    // unit data (metrics-endpoint).
    let own_bags =
        |rel: &charm_runtime::Relation, with_unit: bool| -> Result<LocalBags, SnapshotError> {
            let app = if leader {
                model.local_app_data(rel)?
            } else {
                BTreeMap::new()
            };
            let unit = if with_unit {
                model.local_unit_data(rel)?
            } else {
                BTreeMap::new()
            };
            Ok(LocalBags {
                app,
                app_published: None,
                unit,
            })
        };

    // Consumer data: only the leader acts on it.
    // Entries are moved out of the cache as relations are found: what is left at the end
    // belongs to relations that are gone. The relations not remembered are read
    // concurrently (a first contact is a relation-list and a relation-get each).
    let mut changed = false;
    let mut consumers = |endpoint: &'static str,
                         key: &str|
     -> Result<Vec<(u64, CachedRelation)>, SnapshotError> {
        if !leader {
            return Ok(Vec::new());
        }
        let found: Vec<(u64, Option<CachedRelation>)> = model
            .relation_ids(endpoint)?
            .into_iter()
            .map(|id| {
                let cached = cache
                    .relations
                    .remove(&id)
                    .filter(|e| e.endpoint == endpoint);
                (id, cached)
            })
            .collect();
        let read = |(id, cached): &(u64, Option<CachedRelation>)| -> Result<Found, SnapshotError> {
            if cached.is_some() && remembered && ctx.relation_id != Some(*id) {
                return Ok(Found::Remembered);
            }
            let rel = match cached {
                Some(entry) => known_relation(endpoint, *id, &entry.app),
                None => model.relation(endpoint, *id)?,
            };
            let Some(app) = rel.app.clone() else {
                return Ok(Found::NoApp);
            };
            let value = model.remote_app_data(&rel)?.get(key).cloned();
            Ok(match cached {
                // Unchanged: keep what it gave, unless another charm revision worked
                // that out.
                Some(stale) if stale.app == app && stale.value == value && !upgrading => {
                    Found::Unchanged
                }
                _ => Found::Fresh(CachedRelation {
                    endpoint: endpoint.to_owned(),
                    app,
                    value,
                    derived: None,
                }),
            })
        };
        let reads = charm_runtime::concurrent::concurrently(&found, read);
        let mut out = Vec::with_capacity(found.len());
        for ((id, cached), read) in found.into_iter().zip(reads) {
            match (read?, cached) {
                (Found::Remembered | Found::Unchanged, Some(entry)) => out.push((id, entry)),
                (Found::Fresh(entry), _) => {
                    changed = true;
                    out.push((id, entry));
                }
                (_, cached) => {
                    no_remote_app(endpoint, id);
                    changed |= cached.is_some();
                }
            }
        }
        Ok(out)
    };
    let mesh_entries = consumers(SERVICE_MESH, "policies")?;
    let cmr_entries = consumers(PROVIDE_CMR_MESH, "cmr_data")?;
    changed |= !cache.relations.is_empty();
    if let (Some(path), false) = (&cache_path, leader) {
        RemoteCache::forget(path);
    }
    let service_mesh: Vec<MeshRelation> = mesh_entries
        .into_iter()
        .map(|(id, entry)| MeshRelation {
            id,
            remote_app: entry.app,
            policies: entry.value,
            derived: entry.derived,
        })
        .collect();
    let cmr: Vec<CmrRelation> = cmr_entries
        .into_iter()
        .map(|(id, entry)| CmrRelation {
            id,
            remote_app: entry.app,
            cmr_data: entry.value,
        })
        .collect();
    let published_ids: std::collections::HashSet<u64> = published
        .iter()
        .flat_map(|p| p.relations.iter().copied())
        .collect();
    // Our own bags where we do not know what we published: read concurrently.
    let unknown: Vec<charm_runtime::Relation> = service_mesh
        .iter()
        .filter(|rel| leader && !published_ids.contains(&rel.id))
        .map(|rel| known_relation(SERVICE_MESH, rel.id, &rel.remote_app))
        .collect();
    let read = charm_runtime::concurrent::concurrently(&unknown, |rel| own_bags(rel, false));
    for (rel, bags) in unknown.iter().zip(read) {
        databags.insert(rel.id, bags?);
    }
    if let Some(p) = published.as_ref() {
        for rel in service_mesh
            .iter()
            .filter(|rel| published_ids.contains(&rel.id))
        {
            databags.insert(
                rel.id,
                LocalBags {
                    app_published: Some(p.fingerprint.clone()),
                    ..LocalBags::default()
                },
            );
        }
    }

    let mut metrics = Vec::new();
    for (rel, remote_app) in relations(METRICS_ENDPOINT)? {
        databags.insert(rel.id, own_bags(&rel, true)?);
        // Unit data falls back to the FQDN without a bind address, so a failing
        // network-get is logged rather than fatal.
        let bind_address = match model.tools().network_get(METRICS_ENDPOINT, Some(rel.id)) {
            Ok(net) => net
                .bind_addresses
                .first()
                .and_then(|b| b.addresses.first())
                .map(|a| a.value.clone())
                .filter(|v| !v.is_empty()),
            Err(e) => {
                tracing::warn!("network-get {METRICS_ENDPOINT} -r {}: {e}", rel.id);
                None
            }
        };
        metrics.push(MetricsRelation {
            id: rel.id,
            remote_app,
            bind_address,
        });
    }
    let mut tracing_rel = None;
    if let Some((rel, _)) = relations(CHARM_TRACING)?.into_iter().next() {
        if leader {
            databags.insert(rel.id, own_bags(&rel, false)?);
        }
        tracing_rel = Some(TracingRelation { id: rel.id });
    }

    Ok(Snapshot {
        model: ctx.model_name.clone(),
        model_uuid: ctx.model_uuid.clone(),
        app: ctx.app_name.clone(),
        unit: ctx.unit_name.clone(),
        leader,
        planned_units: u32::try_from(model.planned_units()?).unwrap_or(u32::MAX),
        config,
        service_mesh,
        cmr,
        metrics,
        tracing: tracing_rel,
        databags,
        published,
        remembered_stale: leader && changed,
    })
}

/// Keep the consumer data of this snapshot, with what it gave (`derived`, by relation id;
/// relations without an entry keep what they were remembered with), for the next hook.
/// Written only when something changed.
pub fn remember(
    ctx: &charm_runtime::JujuContext,
    snap: &Snapshot,
    derived: &BTreeMap<u64, Derived>,
) {
    let Some(path) = RemoteCache::path(ctx) else {
        return;
    };
    let new_derived = snap.service_mesh.iter().any(|rel| {
        derived
            .get(&rel.id)
            .is_some_and(|d| rel.derived.as_ref() != Some(d))
    });
    if !snap.leader || !(snap.remembered_stale || new_derived) {
        return;
    }
    let mesh = snap.service_mesh.iter().map(|rel| {
        let entry = CachedRelation {
            endpoint: SERVICE_MESH.to_owned(),
            app: rel.remote_app.clone(),
            value: rel.policies.clone(),
            derived: derived.get(&rel.id).or(rel.derived.as_ref()).cloned(),
        };
        (rel.id, entry)
    });
    let cmr = snap.cmr.iter().map(|rel| {
        let entry = CachedRelation {
            endpoint: PROVIDE_CMR_MESH.to_owned(),
            app: rel.remote_app.clone(),
            value: rel.cmr_data.clone(),
            derived: None,
        };
        (rel.id, entry)
    });
    RemoteCache {
        relations: mesh.chain(cmr).collect(),
    }
    .save(&path);
}

/// A live relation whose remote app is already known (remembered, or read in this hook):
/// built here rather than asked of the model, which would run `relation-list` for it.
fn known_relation(endpoint: &str, id: u64, app: &str) -> charm_runtime::Relation {
    charm_runtime::Relation {
        endpoint: endpoint.to_owned(),
        id,
        app: Some(app.to_owned()),
        is_peer: false,
        active: true,
    }
}

/// What reading one consumer relation found.
enum Found {
    /// Remembered, and not to be read again in this hook.
    Remembered,
    /// Read again: the same app and value as remembered.
    Unchanged,
    /// Read: new, or not what was remembered.
    Fresh(CachedRelation),
    /// No remote application yet (a relation without units, Juju not saying).
    NoApp,
}

fn no_remote_app(endpoint: &str, id: u64) {
    tracing::debug!("{endpoint}:{id} has no remote application yet; ignoring it");
}

/// Hooks that read all consumer data back instead of trusting what was remembered (see the
/// module docs).
fn reads_everything(event: &Event) -> bool {
    reads_own_bags(event) || matches!(event, Event::Hook(HookEvent::ConfigChanged))
}

/// Hooks that read our own app bags back: only another leader, or another revision of this
/// charm, can have written them since this unit last did.
fn reads_own_bags(event: &Event) -> bool {
    matches!(
        event,
        Event::Hook(HookEvent::LeaderElected | HookEvent::UpgradeCharm)
    )
}

/// Record what this hook left in our app bags, for the next hook; only when it changed.
pub fn save_published(
    model: &charm_runtime::Model,
    snap: &Snapshot,
    published: Option<Published>,
) -> Result<(), charm_runtime::ToolError> {
    if published == snap.published {
        return Ok(());
    }
    let tools = model.tools();
    match published.map(|p| serde_json::to_string(&p)) {
        Some(Ok(value)) => tools.state_set(&BTreeMap::from([(PUBLISHED_KEY.to_owned(), value)])),
        // Nothing worth remembering (or, unreachably, not encodable): forget the old record.
        _ => tools.state_delete(PUBLISHED_KEY),
    }
}

/// The charm-tracing provider's app databag, for exporting spans after the hook ran; `None`
/// without the relation or when it cannot be read (tracing must never fail a hook).
pub fn tracing_remote_data(model: &charm_runtime::Model) -> Option<BTreeMap<String, String>> {
    let rel = model.relations(CHARM_TRACING).ok()?.into_iter().next()?;
    model.remote_app_data(&rel).ok()
}

#[cfg(test)]
mod tests {
    use charm_runtime::{Event, HookEvent, RelationKind};

    use super::Trigger;

    fn rel(endpoint: &str, kind: RelationKind) -> Event {
        Event::Hook(HookEvent::Relation {
            endpoint: endpoint.into(),
            kind,
        })
    }

    #[test]
    fn status_after_start_is_left_unknown() {
        // start/install do nothing, so no status is set (upstream's scenario test).
        assert_eq!(Trigger::of(&Event::Hook(HookEvent::Start)), Trigger::Ignore);
        assert_eq!(
            Trigger::of(&Event::Hook(HookEvent::Install)),
            Trigger::Ignore
        );
    }

    #[test]
    fn events_map_to_work() {
        for hook in [
            HookEvent::ConfigChanged,
            HookEvent::LeaderElected,
            HookEvent::UpgradeCharm,
            HookEvent::UpdateStatus,
        ] {
            assert_eq!(Trigger::of(&Event::Hook(hook)), Trigger::Reconcile);
        }
        assert_eq!(
            Trigger::of(&rel("service-mesh", RelationKind::Created)),
            Trigger::ProviderDataOnly
        );
        assert_eq!(
            Trigger::of(&rel("service-mesh", RelationKind::Broken)),
            Trigger::Reconcile
        );
        assert_eq!(
            Trigger::of(&rel("provide-cmr-mesh", RelationKind::Broken)),
            Trigger::Reconcile
        );
        assert_eq!(
            Trigger::of(&rel("peers", RelationKind::Departed)),
            Trigger::Reconcile
        );
        assert_eq!(
            Trigger::of(&Event::Hook(HookEvent::Remove)),
            Trigger::Remove
        );
        let ready = HookEvent::PebbleReady {
            container: "metrics-proxy".into(),
        };
        assert_eq!(Trigger::of(&Event::Hook(ready)), Trigger::Reconcile);
    }
}
