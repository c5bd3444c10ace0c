//! Reading the Juju side of one hook into the core's typed, read-only
//! [`beacon_core::snapshot::Snapshot`]. All reading of Juju happens here, and nothing is
//! written: everything downstream is computed from the snapshot.
//!
//! Consumer data is read back only where the memo (`beacon_core::memo`) cannot be trusted:
//! the hook's own relation, relations not remembered, and every relation on
//! `leader-elected`, `upgrade-charm` and `config-changed` (so `juju config` is also a way to
//! force it; remembered app names are still used, as a relation id's remote app never
//! changes). Our own app bags are read back only where no [`beacon_core::memo::Published`] record covers them.

use std::collections::BTreeMap;

use beacon_core::admission;
use beacon_core::memo::{ConsumerEntry, Consumers};
use beacon_core::onboarding::{SmiController, SmiMesh};
use beacon_core::snapshot::{
    CHARM_TRACING, CmrRelation, Config, LocalBags, METRICS_ENDPOINT, MeshRelation, MetricsRelation,
    PROVIDE_CMR_MESH, SERVICE_MESH, Snapshot, TracingRelation,
};
use charm_runtime::{Event, HookEvent};
use service_mesh::backends::Backend;
use service_mesh::traffic::{MtlsMode, TRAFFIC_KEY};

use crate::memo_store;

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

/// A comma-separated string option as its non-empty, trimmed items.
fn config_list(
    config: &serde_json::Map<String, serde_json::Value>,
    key: &'static str,
) -> Result<Vec<String>, SnapshotError> {
    match config.get(key) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::String(s)) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()),
        Some(other) => Err(SnapshotError::Config {
            key,
            expected: "string",
            got: other.to_string(),
        }),
    }
}

/// What the snapshot is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A reconcile: only the leader reads consumer data (through the memo) and our own bags.
    Reconcile,
    /// An action that answers questions, on any unit: every consumer's data is read as it
    /// is now (no memo), our own bags are not.
    Inspect,
}

/// `mtls-mode`: unset or empty (write nothing), `strict`, `permissive`.
fn config_mtls(
    config: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<MtlsMode>, SnapshotError> {
    let mode = config_string(
        config,
        "mtls-mode",
        "one of \"\", strict, permissive",
        |s| matches!(s, "strict" | "permissive"),
    )?;
    Ok(mode.map(|mode| match mode.as_str() {
        "strict" => MtlsMode::Strict,
        _ => MtlsMode::Permissive,
    }))
}

/// A string option, trimmed; `None` when unset or empty. `check` says why a value is not
/// acceptable (it then blocks the charm, naming the option).
fn config_string(
    config: &serde_json::Map<String, serde_json::Value>,
    key: &'static str,
    expected: &'static str,
    check: impl Fn(&str) -> bool,
) -> Result<Option<String>, SnapshotError> {
    let bad = |got: String| SnapshotError::Config { key, expected, got };
    match config.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => match s.trim() {
            "" => Ok(None),
            value if check(value) => Ok(Some(value.to_owned())),
            value => Err(bad(format!("{value:?}"))),
        },
        Some(other) => Err(bad(other.to_string())),
    }
}

/// `mesh-backend`: unset or empty (Istio), `istio`, `smi`, `consul`, `linkerd`; Linkerd's
/// identities from `linkerd-trust-domain` and `linkerd-control-plane-namespace`.
fn config_backend(
    config: &serde_json::Map<String, serde_json::Value>,
) -> Result<Backend, SnapshotError> {
    let name = config_string(
        config,
        "mesh-backend",
        "one of istio, smi, consul, linkerd",
        |name| Backend::from_name(name).is_some(),
    )?;
    let mut backend = name
        .as_deref()
        .and_then(Backend::from_name)
        .unwrap_or_default();
    if let Backend::Consul(options) = &mut backend
        && let Some(prefix) = config_string(
            config,
            "consul-namespace-prefix",
            "DNS label prefix",
            // Prefixed to a namespace name, it must stay a Consul (DNS label) namespace name.
            |s| admission::dns1123_label(&format!("{s}a")).is_ok(),
        )?
    {
        options.namespace_prefix = prefix;
    }
    if let Backend::Linkerd(options) = &mut backend {
        // They become part of every client identity: Kubernetes names only.
        if let Some(domain) = config_string(config, "linkerd-trust-domain", "DNS subdomain", |s| {
            admission::dns1123_subdomain(s).is_ok()
        })? {
            options.trust_domain = domain;
        }
        if let Some(namespace) = config_string(
            config,
            "linkerd-control-plane-namespace",
            "Kubernetes namespace name",
            |s| admission::dns1123_label(s).is_ok(),
        )? {
            options.control_plane_namespace = namespace;
        }
    }
    Ok(backend)
}

/// `smi-controller` (`osm`, the default, or `fsm`) and `smi-mesh-name` (empty: the
/// controller's default), for `model-on-mesh` under `mesh-backend=smi`.
fn config_smi(
    config: &serde_json::Map<String, serde_json::Value>,
) -> Result<SmiMesh, SnapshotError> {
    let controller = match config_string(config, "smi-controller", "one of osm, fsm", |s| {
        matches!(s, "osm" | "fsm")
    })?
    .as_deref()
    {
        Some("fsm") => SmiController::Fsm,
        _ => SmiController::Osm,
    };
    // A label value: the controllers select namespaces by it.
    let name = config_string(config, "smi-mesh-name", "label value", |s| {
        admission::label_value(s).is_ok()
    })?;
    Ok(SmiMesh { controller, name })
}

/// The charm's config, typed and checked.
pub fn read_config(model: &charm_runtime::Model) -> Result<Config, SnapshotError> {
    let config = model.config()?;
    let defaults = Config::default();
    Ok(Config {
        manage_authorization_policies: config_bool(
            config,
            "manage-authorization-policies",
            defaults.manage_authorization_policies,
        )?,
        model_on_mesh: config_bool(config, "model-on-mesh", defaults.model_on_mesh)?,
        cross_model_namespaces: config_list(config, "cross-model-namespaces")?,
        mtls_mode: config_mtls(config)?,
        mesh_backend: config_backend(config)?,
        smi_mesh: config_smi(config)?,
    })
}

/// Read everything this hook needs from Juju.
pub fn read(model: &charm_runtime::Model, purpose: Purpose) -> Result<Snapshot, SnapshotError> {
    let ctx = model.context();
    let is_leader = model.is_leader()?;
    let inspect = purpose == Purpose::Inspect;
    // Whether this unit reconciles as the leader: reads our own bags, uses the memo.
    let leader = is_leader && !inspect;
    let config = read_config(model)?;
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
    let remembered = leader && !reads_everything(&ctx.event);
    let upgrading = matches!(ctx.event, Event::Hook(HookEvent::UpgradeCharm));
    // Hooks that read all data again still use the remembered app names: a relation's
    // remote application never changes.
    let mut cache = if leader {
        memo_store::load_consumers(ctx)
    } else {
        Consumers::default()
    };
    let published = if leader && !reads_own_bags(&ctx.event) {
        memo_store::load_published(model)?
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
                         key: &str,
                         extra: Option<&str>|
     -> Result<Vec<(u64, ConsumerEntry)>, SnapshotError> {
        if !leader && !inspect {
            return Ok(Vec::new());
        }
        let found: Vec<(u64, Option<ConsumerEntry>)> = model
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
        let read = |(id, cached): &(u64, Option<ConsumerEntry>)| -> Result<Found, SnapshotError> {
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
            let bag = model.remote_app_data(&rel)?;
            let value = bag.get(key).cloned();
            let traffic = extra.and_then(|k| bag.get(k).cloned());
            Ok(match cached {
                // Unchanged: keep what it gave, unless another charm revision worked
                // that out.
                Some(stale)
                    if stale.app == app
                        && stale.value == value
                        && stale.traffic == traffic
                        && !upgrading =>
                {
                    Found::Unchanged
                }
                _ => Found::Fresh(ConsumerEntry {
                    endpoint: endpoint.to_owned(),
                    app,
                    value,
                    traffic,
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
    let mesh_entries = consumers(SERVICE_MESH, "policies", Some(TRAFFIC_KEY))?;
    let cmr_entries = consumers(PROVIDE_CMR_MESH, "cmr_data", None)?;
    changed |= !cache.relations.is_empty();
    let service_mesh: Vec<MeshRelation> = mesh_entries
        .into_iter()
        .map(|(id, entry)| MeshRelation {
            id,
            remote_app: entry.app,
            policies: entry.value,
            traffic: entry.traffic,
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
        if inspect {
            metrics.push(MetricsRelation {
                id: rel.id,
                remote_app,
                bind_address: None,
            });
            continue;
        }
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
        leader: is_leader,
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
    Fresh(ConsumerEntry),
    /// No remote application yet (a relation without units, Juju not saying).
    NoApp,
}

fn no_remote_app(endpoint: &str, id: u64) {
    tracing::debug!("{endpoint}:{id} has no remote application yet; ignoring it");
}

/// Hooks that read all consumer data back instead of trusting what was remembered (see the
/// module docs).
pub fn reads_everything(event: &Event) -> bool {
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

/// The charm-tracing provider's app databag, for exporting spans after the hook ran; `None`
/// without the relation or when it cannot be read (tracing must never fail a hook).
pub fn tracing_remote_data(model: &charm_runtime::Model) -> Option<BTreeMap<String, String>> {
    let rel = model.relations(CHARM_TRACING).ok()?.into_iter().next()?;
    model.remote_app_data(&rel).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        map.insert("mesh-backend".into(), value);
        map
    }

    fn options(pairs: &[(&str, &str)]) -> serde_json::Map<String, serde_json::Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect()
    }

    #[test]
    fn linkerd_identities_are_configurable_and_checked() {
        let backend = config_backend(&options(&[
            ("mesh-backend", "linkerd"),
            ("linkerd-trust-domain", " example.org "),
            ("linkerd-control-plane-namespace", "linkerd-cp"),
        ]))
        .expect("valid");
        let Backend::Linkerd(o) = backend else {
            panic!("linkerd expected")
        };
        assert_eq!(
            o.identity("prod", "web"),
            "web.prod.serviceaccount.identity.linkerd-cp.example.org"
        );
        // Empty: the defaults.
        let backend = config_backend(&options(&[
            ("mesh-backend", "linkerd"),
            ("linkerd-trust-domain", ""),
        ]))
        .expect("valid");
        assert_eq!(
            backend,
            Backend::Linkerd(service_mesh::backends::linkerd::LinkerdOptions::default())
        );
        for (key, bad) in [
            ("linkerd-trust-domain", "a..b"),
            ("linkerd-trust-domain", "*.evil"),
            ("linkerd-control-plane-namespace", "Linkerd"),
            ("linkerd-control-plane-namespace", "a.b"),
        ] {
            let err = config_backend(&options(&[("mesh-backend", "linkerd"), (key, bad)])).err();
            assert!(
                matches!(&err, Some(SnapshotError::Config { key: k, .. }) if *k == key),
                "{key}={bad}: {err:?}"
            );
        }
    }

    #[test]
    fn consul_namespace_prefix_is_configurable_and_checked() {
        let backend = config_backend(&options(&[
            ("mesh-backend", "consul"),
            ("consul-namespace-prefix", "k8s-"),
        ]))
        .expect("valid");
        assert_eq!(
            backend,
            Backend::Consul(service_mesh::backends::consul::ConsulOptions {
                namespace_prefix: "k8s-".into()
            })
        );
        for bad in ["K8S", "a/b", "a.b"] {
            let err = config_backend(&options(&[
                ("mesh-backend", "consul"),
                ("consul-namespace-prefix", bad),
            ]))
            .err();
            assert!(
                matches!(
                    &err,
                    Some(SnapshotError::Config {
                        key: "consul-namespace-prefix",
                        ..
                    })
                ),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn mtls_mode_is_empty_strict_or_permissive() {
        for (value, want) in [
            ("", None),
            (" strict ", Some(MtlsMode::Strict)),
            ("permissive", Some(MtlsMode::Permissive)),
        ] {
            let got = config_mtls(&options(&[("mtls-mode", value)])).expect("valid");
            assert_eq!(got, want, "{value:?}");
        }
        assert_eq!(config_mtls(&options(&[])).expect("unset"), None);
        for bad in ["STRICT", "disable"] {
            let err = config_mtls(&options(&[("mtls-mode", bad)])).err();
            assert!(
                matches!(&err, Some(SnapshotError::Config { key: "mtls-mode", got, .. }) if *got == format!("{bad:?}")),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn smi_controller_and_mesh_name() {
        assert_eq!(config_smi(&options(&[])).ok(), Some(SmiMesh::default()));
        assert_eq!(
            config_smi(&options(&[
                ("smi-controller", "fsm"),
                ("smi-mesh-name", "edge")
            ]))
            .ok(),
            Some(SmiMesh {
                controller: SmiController::Fsm,
                name: Some("edge".into())
            })
        );
        for (key, bad) in [
            ("smi-controller", "istio"),
            ("smi-mesh-name", "no spaces"),
            ("smi-mesh-name", "-dash"),
        ] {
            let err = config_smi(&options(&[(key, bad)])).err();
            assert!(
                matches!(&err, Some(SnapshotError::Config { key: k, .. }) if *k == key),
                "{key}={bad}: {err:?}"
            );
        }
    }

    #[test]
    fn mesh_backend_names_a_backend_or_blocks() {
        assert_eq!(
            config_backend(&serde_json::Map::new()).ok(),
            Some(Backend::Istio)
        );
        for name in ["istio", "smi", "consul", "linkerd"] {
            let got = config_backend(&config(name.into())).ok();
            assert_eq!(got.as_ref().map(Backend::name), Some(name));
        }
        assert_eq!(
            config_backend(&config("".into())).ok(),
            Some(Backend::Istio)
        );
        for bad in [serde_json::json!("osm"), serde_json::json!(true)] {
            let err = config_backend(&config(bad)).err();
            assert!(
                matches!(
                    err,
                    Some(SnapshotError::Config {
                        key: "mesh-backend",
                        ..
                    })
                ),
                "{err:?}"
            );
        }
    }
}
