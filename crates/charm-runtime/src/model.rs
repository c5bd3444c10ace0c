//! An ops-like view of the model for one hook, cached over [`HookTools`].
//!
//! - Config, leadership, relation ids, relation membership and databags are read at most once
//!   per hook (one [`Model`] per process) and then served from memory — a consistent snapshot,
//!   as Juju itself serves remote data once per hook.
//! - Databag access follows Juju's permission matrix (juju-contract.md §2.3) *before* any tool
//!   runs: a non-leader may not read its own app bag of a non-peer relation nor write any app
//!   bag. Remote bags cannot be written at all: the only writers are
//!   [`Model::set_app_data`] (local app) and [`Model::set_unit_data`] (local unit).
//! - Writes go through `relation-set` and are applied to the cache (read-your-writes).
//! - A relation tool's "permission denied" on a call these checks allowed is reported as
//!   [`ToolError::RelationNotFound`]: as ops reads it, the relation is gone.
//! - The relation being broken is left out of [`Model::relations`], as ops does (Juju ≥ 3.4
//!   already omits it from `relation-ids`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use serde_json::{Map, Value};

use crate::context::JujuContext;
use crate::tools::{Databag, HookTools, Port, RelationRef, StatusName, ToolError};

/// Why a model operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A hook tool failed.
    #[error(transparent)]
    Tool(#[from] ToolError),
    /// Juju would refuse this read; refused here without running the tool.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// A leader-only operation on a non-leader unit; refused without running the tool.
    #[error("this unit is not the leader: cannot {0}")]
    NotLeader(String),
    /// The relation's remote application is not known (e.g. no units and Juju did not say).
    #[error("relation {0} has no known remote application")]
    NoRemoteApp(RelationRef),
}

/// A relation of this unit, as seen in this hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The local endpoint.
    pub endpoint: String,
    /// The relation id.
    pub id: u64,
    /// The remote application (own application for peer relations).
    pub app: Option<String>,
    /// Whether the endpoint is a peer endpoint.
    pub is_peer: bool,
    /// `false` for the relation being broken in this hook (ops' `Relation.active`).
    pub active: bool,
}

impl Relation {
    /// How the tools address this relation (`-r endpoint:id`).
    pub fn reference(&self) -> RelationRef {
        RelationRef::new(self.endpoint.clone(), self.id)
    }
}

/// A status with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Ready.
    Active(String),
    /// Needs operator intervention.
    Blocked(String),
    /// Waiting on something outside this charm.
    Waiting(String),
    /// Doing work.
    Maintenance(String),
}

impl Status {
    /// `active` with a message (use `""` for none).
    pub fn active(message: impl Into<String>) -> Status {
        Status::Active(message.into())
    }

    /// `blocked` with a message.
    pub fn blocked(message: impl Into<String>) -> Status {
        Status::Blocked(message.into())
    }

    /// `waiting` with a message.
    pub fn waiting(message: impl Into<String>) -> Status {
        Status::Waiting(message.into())
    }

    /// `maintenance` with a message.
    pub fn maintenance(message: impl Into<String>) -> Status {
        Status::Maintenance(message.into())
    }

    /// The status name.
    pub fn name(&self) -> StatusName {
        match self {
            Status::Active(_) => StatusName::Active,
            Status::Blocked(_) => StatusName::Blocked,
            Status::Waiting(_) => StatusName::Waiting,
            Status::Maintenance(_) => StatusName::Maintenance,
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Status::Active(m)
            | Status::Blocked(m)
            | Status::Waiting(m)
            | Status::Maintenance(m) => m,
        }
    }
}

/// A relation tool's "permission denied" on a call the model's own checks allowed means the
/// relation is gone (a remote side removed, a broken relation's app bag), as ops'
/// `_relation_is_gone` reads it: Juju answers that way so as not to say whether it existed.
fn gone(e: ToolError) -> ToolError {
    match e {
        ToolError::PermissionDenied { tool, stderr } => {
            ToolError::RelationNotFound { tool, stderr }
        }
        other => other,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Member {
    App(String),
    Unit(String),
}

#[derive(Debug, Default)]
struct Cache {
    relation_ids: HashMap<String, Vec<u64>>,
    relations: HashMap<(String, u64), Relation>,
    units: HashMap<(String, u64), Vec<String>>,
    bags: HashMap<(u64, Member), Databag>,
}

/// The cached model view for one hook. `Send + Sync`; cheap reads after the first.
#[derive(Debug)]
pub struct Model {
    ctx: JujuContext,
    tools: HookTools,
    peers: BTreeSet<String>,
    config: OnceLock<Map<String, Value>>,
    leader: OnceLock<bool>,
    cache: Mutex<Cache>,
}

impl Model {
    /// A model over `tools` for the hook described by `ctx`. Declare peer endpoints with
    /// [`Model::with_peer_endpoints`] (they come from the charm's metadata).
    pub fn new(ctx: JujuContext, tools: HookTools) -> Model {
        Model {
            ctx,
            tools,
            peers: BTreeSet::new(),
            config: OnceLock::new(),
            leader: OnceLock::new(),
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Declare which endpoints are peer relations (their app bag is readable by all units).
    pub fn with_peer_endpoints<I, S>(mut self, endpoints: I) -> Model
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.peers.extend(endpoints.into_iter().map(Into::into));
        self
    }

    /// The hook context.
    pub fn context(&self) -> &JujuContext {
        &self.ctx
    }

    /// The hook tools (uncached).
    pub fn tools(&self) -> &HookTools {
        &self.tools
    }

    /// This unit, e.g. `myapp/0`.
    pub fn unit_name(&self) -> &str {
        &self.ctx.unit_name
    }

    /// This application.
    pub fn app_name(&self) -> &str {
        &self.ctx.app_name
    }

    /// The model name (the namespace on Kubernetes).
    pub fn model_name(&self) -> &str {
        &self.ctx.model_name
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        // A panic elsewhere cannot leave the cache half-updated in a harmful way: every
        // update is a single insert.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The charm config (`config-get`), read once per hook.
    pub fn config(&self) -> Result<&Map<String, Value>, ModelError> {
        if let Some(c) = self.config.get() {
            return Ok(c);
        }
        let c = self.tools.config_get()?;
        Ok(self.config.get_or_init(|| c))
    }

    /// Whether this unit is the leader (`is-leader`), read once per hook: Juju guarantees
    /// the answer for a 30 s lease, far longer than a hook should run.
    pub fn is_leader(&self) -> Result<bool, ModelError> {
        if let Some(l) = self.leader.get() {
            return Ok(*l);
        }
        let l = self.tools.is_leader()?;
        Ok(*self.leader.get_or_init(|| l))
    }

    /// The ids of the live relations on `endpoint` (the one being broken excluded).
    pub fn relation_ids(&self, endpoint: &str) -> Result<Vec<u64>, ModelError> {
        if let Some(ids) = self.cache().relation_ids.get(endpoint) {
            return Ok(ids.clone());
        }
        let broken = self.ctx.broken_relation_id();
        let ids: Vec<u64> = self
            .tools
            .relation_ids(endpoint)?
            .into_iter()
            .filter(|id| Some(*id) != broken)
            .collect();
        self.cache()
            .relation_ids
            .insert(endpoint.to_string(), ids.clone());
        Ok(ids)
    }

    /// The live relations on `endpoint`, with their remote app.
    pub fn relations(&self, endpoint: &str) -> Result<Vec<Relation>, ModelError> {
        self.relation_ids(endpoint)?
            .into_iter()
            .map(|id| self.relation(endpoint, id))
            .collect()
    }

    /// Relation `id` on `endpoint` (also works for the relation being broken, with
    /// `active == false`). An unknown id is a [`ToolError::RelationNotFound`].
    pub fn relation(&self, endpoint: &str, id: u64) -> Result<Relation, ModelError> {
        let key = (endpoint.to_string(), id);
        if let Some(r) = self.cache().relations.get(&key) {
            return Ok(r.clone());
        }
        let rel = RelationRef::new(endpoint, id);
        let is_peer = self.peers.contains(endpoint);
        // The unit list is not read here: a charm reading the app bags of many relations
        // needs only the remote app, and every tool call is a process.
        let app = if is_peer {
            // Reading the units checks that the id exists; peer users want them anyway.
            self.units_of(&rel)?;
            Some(self.ctx.app_name.clone())
        } else if self.ctx.relation_id == Some(id) && self.ctx.remote_app.is_some() {
            self.ctx.remote_app.clone()
        } else {
            match self.tools.relation_list_app(&rel).map_err(gone) {
                Ok(app) => app,
                Err(ToolError::RelationNotFound { .. }) => None,
                Err(e) => return Err(e.into()),
            }
        };
        // Last resort, as ops: the app of any remote unit.
        let app = match app {
            Some(app) => Some(app),
            None => self
                .units_of(&rel)?
                .first()
                .and_then(|u| u.split_once('/'))
                .map(|(a, _)| a.to_string()),
        };
        let relation = Relation {
            endpoint: endpoint.to_string(),
            id,
            app,
            is_peer,
            active: self.ctx.broken_relation_id() != Some(id),
        };
        self.cache().relations.insert(key, relation.clone());
        Ok(relation)
    }

    /// Remote units of `relation` currently in scope (peers: the other units of this app),
    /// read once per hook.
    pub fn relation_units(&self, relation: &Relation) -> Result<Vec<String>, ModelError> {
        self.units_of(&relation.reference())
    }

    fn units_of(&self, rel: &RelationRef) -> Result<Vec<String>, ModelError> {
        let key = (rel.endpoint.clone(), rel.id);
        if let Some(units) = self.cache().units.get(&key) {
            return Ok(units.clone());
        }
        let units = self.tools.relation_list(rel).map_err(gone)?;
        self.cache().units.insert(key, units.clone());
        Ok(units)
    }

    /// The relation of the current relation hook, if any.
    pub fn event_relation(&self) -> Result<Option<Relation>, ModelError> {
        match (self.ctx.event.relation(), self.ctx.relation_id) {
            (Some((endpoint, _)), Some(id)) => self.relation(endpoint, id).map(Some),
            _ => Ok(None),
        }
    }

    fn read_bag(&self, rel: &Relation, member: Member) -> Result<Databag, ModelError> {
        let key = (rel.id, member);
        if let Some(bag) = self.cache().bags.get(&key) {
            return Ok(bag.clone());
        }
        let bag = match &key.1 {
            Member::App(app) => self.tools.relation_get(&rel.reference(), app, true),
            Member::Unit(unit) => self.tools.relation_get(&rel.reference(), unit, false),
        }
        .map_err(gone)?;
        self.cache().bags.insert(key, bag.clone());
        Ok(bag)
    }

    /// The application databag of `app` (this app or the remote one), read once per hook.
    ///
    /// A non-leader reading its own app bag of a non-peer relation gets
    /// [`ModelError::PermissionDenied`] without a tool call, as Juju would refuse.
    pub fn app_data(&self, rel: &Relation, app: &str) -> Result<Databag, ModelError> {
        if app == self.ctx.app_name && !rel.is_peer && !self.is_leader()? {
            return Err(ModelError::PermissionDenied(format!(
                "a non-leader unit cannot read its own application databag of relation {}",
                rel.reference()
            )));
        }
        self.read_bag(rel, Member::App(app.to_string()))
    }

    /// The databag of `unit` (this unit or a remote/peer unit), read once per hook.
    pub fn unit_data(&self, rel: &Relation, unit: &str) -> Result<Databag, ModelError> {
        self.read_bag(rel, Member::Unit(unit.to_string()))
    }

    /// This application's databag in `rel` (see [`Model::app_data`] for permissions).
    pub fn local_app_data(&self, rel: &Relation) -> Result<Databag, ModelError> {
        self.app_data(rel, &self.ctx.app_name)
    }

    /// The remote application's databag in `rel`.
    pub fn remote_app_data(&self, rel: &Relation) -> Result<Databag, ModelError> {
        let app = rel
            .app
            .as_deref()
            .ok_or_else(|| ModelError::NoRemoteApp(rel.reference()))?;
        self.app_data(rel, app)
    }

    /// This unit's databag in `rel`.
    pub fn local_unit_data(&self, rel: &Relation) -> Result<Databag, ModelError> {
        self.unit_data(rel, &self.ctx.unit_name)
    }

    /// Apply `updates` to a bag: only keys whose value changes are written when the bag is
    /// cached (level-triggered charms rewrite everything each hook), all keys otherwise. An
    /// empty value deletes the key.
    fn write_bag<I, K, V>(
        &self,
        rel: &Relation,
        member: Member,
        updates: I,
    ) -> Result<(), ModelError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let key = (rel.id, member);
        let updates: Databag = updates
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let changes: Databag = match self.cache().bags.get(&key) {
            Some(cached) => updates
                .into_iter()
                .filter(|(k, v)| match cached.get(k) {
                    Some(old) => old != v,
                    None => !v.is_empty(),
                })
                .collect(),
            None => updates,
        };
        if changes.is_empty() {
            return Ok(());
        }
        let app = matches!(key.1, Member::App(_));
        self.tools
            .relation_set(&rel.reference(), &changes, app)
            .map_err(gone)?;
        if let Some(bag) = self.cache().bags.get_mut(&key) {
            for (k, v) in changes {
                if v.is_empty() {
                    bag.remove(&k);
                } else {
                    bag.insert(k, v);
                }
            }
        }
        Ok(())
    }

    /// Update this application's databag in `rel` (leader only; checked before running
    /// `relation-set --app`). An empty value deletes the key.
    pub fn set_app_data<I, K, V>(&self, rel: &Relation, updates: I) -> Result<(), ModelError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        if !self.is_leader()? {
            return Err(ModelError::NotLeader(format!(
                "write the application databag of relation {}",
                rel.reference()
            )));
        }
        self.write_bag(rel, Member::App(self.ctx.app_name.clone()), updates)
    }

    /// Update this unit's databag in `rel`. An empty value deletes the key.
    pub fn set_unit_data<I, K, V>(&self, rel: &Relation, updates: I) -> Result<(), ModelError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.write_bag(rel, Member::Unit(self.ctx.unit_name.clone()), updates)
    }

    /// How many units the application will have, as ops computes it: the units in
    /// `goal-state` whose status is not `dying`. Not cached (it is a fresh goal).
    pub fn planned_units(&self) -> Result<usize, ModelError> {
        let goal = self.tools.goal_state()?;
        Ok(goal.units.values().filter(|g| g.status != "dying").count())
    }

    /// Make `ports` exactly the unit's open ports, as ops' `Unit.set_ports`: close what is
    /// open but not wanted, then open what is wanted but not open (in sorted order).
    pub fn set_ports(&self, ports: &[Port]) -> Result<(), ModelError> {
        let wanted: BTreeSet<Port> = ports.iter().copied().collect();
        let opened: BTreeSet<Port> = self.tools.opened_ports()?.into_iter().collect();
        for port in opened.difference(&wanted) {
            self.tools.close_port(port)?;
        }
        for port in wanted.difference(&opened) {
            self.tools.open_port(port)?;
        }
        Ok(())
    }

    /// Set this unit's status.
    pub fn set_unit_status(&self, status: &Status) -> Result<(), ModelError> {
        self.tools
            .status_set(status.name(), status.message(), false)?;
        Ok(())
    }

    /// Set the application's status (leader only; checked before running the tool, as ops).
    pub fn set_app_status(&self, status: &Status) -> Result<(), ModelError> {
        if !self.is_leader()? {
            return Err(ModelError::NotLeader("set the application status".into()));
        }
        self.tools
            .status_set(status.name(), status.message(), true)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
