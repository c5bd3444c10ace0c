//! The Juju-owned state of the simulated unit, shared between the step runner and the hook-tool
//! server, and the per-hook context (buffered writes, logs, action results).
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::charm::{CharmMeta, Role};
use crate::scenario::{Bag, RelationSpec, Scenario};

/// The address ops.testing uses for every binding and bag; a documentation range (RFC 5737).
pub const ADDRESS: &str = "192.0.2.0";

/// Juju pre-populates every unit bag with these keys.
pub fn address_bag() -> Bag {
    [
        ("egress-subnets", ADDRESS),
        ("ingress-address", ADDRESS),
        ("private-address", ADDRESS),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    pub status: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogEntry {
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Relation {
    pub id: u64,
    pub endpoint: String,
    pub peer: bool,
    pub remote_app: String,
    /// Units currently in scope (what `relation-list` shows).
    pub remote_units: Vec<String>,
    pub remote_app_data: Bag,
    /// Bags of remote units, including departed ones (still readable by name).
    pub remote_units_data: BTreeMap<String, Bag>,
    pub local_app_data: Bag,
    pub local_unit_data: Bag,
    pub remote_model_uuid: Option<String>,
}

impl Relation {
    pub fn from_spec(r: &RelationSpec, meta: &CharmMeta, own_app: &str) -> Relation {
        let peer = meta.endpoints.get(&r.endpoint) == Some(&Role::Peers);
        let remote_app = r.remote_app.clone().unwrap_or_else(|| own_app.to_string());
        let mut remote_units_data = r.remote_units_data.clone();
        for u in &r.remote_units {
            remote_units_data
                .entry(u.clone())
                .or_insert_with(address_bag);
        }
        let mut units = r.remote_units.clone();
        units.sort();
        Relation {
            id: r.id,
            endpoint: r.endpoint.clone(),
            peer,
            remote_app,
            remote_units: units,
            remote_app_data: r.remote_app_data.clone(),
            remote_units_data,
            local_app_data: r.local_app_data.clone(),
            local_unit_data: r.local_unit_data.clone().unwrap_or_else(address_bag),
            remote_model_uuid: r.remote_model_uuid.clone(),
        }
    }
}

/// An opened port range as Juju stores it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Port {
    Range {
        protocol: String,
        from: u16,
        to: u16,
    },
    Icmp,
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Port::Icmp => write!(f, "icmp"),
            Port::Range { protocol, from, to } if from == to => write!(f, "{from}/{protocol}"),
            Port::Range { protocol, from, to } => write!(f, "{from}-{to}/{protocol}"),
        }
    }
}

/// Writes buffered during a hook and committed only if it exits 0.
#[derive(Debug, Default)]
pub struct Pending {
    /// (relation id, app bag?) → key → new value (`None` deletes).
    pub relations: BTreeMap<(u64, bool), BTreeMap<String, Option<String>>>,
    pub state: BTreeMap<String, Option<String>>,
    /// (open?, port), in call order.
    pub ports: Vec<(bool, Port)>,
}

#[derive(Debug, Default)]
pub struct ActionCtx {
    pub params: serde_json::Map<String, Value>,
    pub results: serde_json::Map<String, Value>,
    pub failed: Option<String>,
    pub logs: Vec<String>,
}

#[derive(Debug, Default)]
pub struct HookCtx {
    pub context_id: String,
    pub relation_id: Option<u64>,
    pub remote_unit: Option<String>,
    /// The relation being broken: hidden from `relation-ids`, still usable with `-r`.
    pub broken: Option<u64>,
    pub action: Option<ActionCtx>,
    pub logs: Vec<LogEntry>,
    pub pending: Pending,
    /// How many times each hook tool ran in this hook (the step's `hook_tools`).
    pub tools: BTreeMap<String, u32>,
}

#[derive(Debug)]
pub struct World {
    pub meta: CharmMeta,
    pub model_name: String,
    pub model_uuid: String,
    pub unit: String,
    pub app: String,
    pub leader: bool,
    pub planned_units: u32,
    /// Overrides of the declared defaults.
    pub config: BTreeMap<String, Value>,
    pub relations: BTreeMap<u64, Relation>,
    pub unit_state: Bag,
    pub ports: BTreeSet<Port>,
    pub leader_settings: Bag,
    pub unit_status: Option<Status>,
    pub app_status: Option<Status>,
    pub workload_version: Option<String>,
    pub hook: Option<HookCtx>,
}

impl World {
    pub fn new(s: &Scenario, meta: &CharmMeta) -> World {
        let app = s.app().to_string();
        let relations = s
            .relations
            .iter()
            .map(|r| (r.id, Relation::from_spec(r, meta, &app)))
            .collect();
        World {
            meta: meta.clone(),
            model_name: s.model.name.clone(),
            model_uuid: s.model.uuid.clone(),
            unit: s.unit.clone(),
            app,
            leader: s.leader,
            planned_units: s.planned_units,
            config: s
                .config
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            relations,
            unit_state: Bag::new(),
            ports: BTreeSet::new(),
            leader_settings: Bag::new(),
            unit_status: None,
            app_status: None,
            workload_version: None,
            hook: None,
        }
    }

    /// Declared defaults overlaid with overrides; options with neither are absent.
    pub fn effective_config(&self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        for (k, opt) in &self.meta.config {
            if let Some(v) = self.config.get(k).or(opt.default.as_ref()) {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// Applies the buffered writes of the finished hook (called only when it exited 0).
    pub fn commit(&mut self, pending: Pending) {
        for ((id, app), changes) in pending.relations {
            let Some(rel) = self.relations.get_mut(&id) else {
                continue;
            };
            let bag = if app {
                &mut rel.local_app_data
            } else {
                &mut rel.local_unit_data
            };
            apply(bag, changes);
        }
        apply(&mut self.unit_state, pending.state);
        for (open, port) in pending.ports {
            if open {
                self.ports.insert(port);
            } else {
                self.ports.remove(&port);
            }
        }
    }
}

pub fn apply(bag: &mut Bag, changes: BTreeMap<String, Option<String>>) {
    for (k, v) in changes {
        match v {
            Some(v) => {
                bag.insert(k, v);
            }
            None => {
                bag.remove(&k);
            }
        }
    }
}
