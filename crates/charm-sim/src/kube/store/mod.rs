//! The server state: the stored objects and the types served, and what is done with them.
//! `verbs` answers get, list, create, replace, patch, apply and delete; `storage` writes
//! (defaults, validation, server-populated fields, no-op writes, cascades); `serialize`
//! presents stored objects to clients; `faults` and `requests` arm injected faults and record
//! answered requests; `actor` is the simulator's own interface (scenario objects, output).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::RecordedRequest;
use super::fault::ArmedFault;
use super::registry::{self, ResourceType};
use super::ssa::ManagedEntry;
use super::status::ApiError;

mod actor;
mod faults;
mod requests;
mod serialize;
mod storage;
mod verbs;

pub(crate) use verbs::{Page, PatchKind, WriteParams};

/// (group, kind, namespace or "", name): objects are stored once, whatever version wrote them.
type Key = (String, String, String, String);

#[derive(Debug, Clone)]
struct Stored {
    /// The object in its storage version, without managedFields.
    obj: Value,
    managed: Vec<ManagedEntry>,
}

pub(crate) struct State {
    types: Vec<Arc<ResourceType>>,
    objects: BTreeMap<Key, Stored>,
    rv: u64,
    faults: Vec<ArmedFault>,
    /// Answered requests keyed by arrival number, so a request held by a timeout fault is
    /// still listed before the ones that arrived after it.
    requests: BTreeMap<u64, RecordedRequest>,
    arrivals: u64,
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

fn meta_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let o = obj.as_object_mut()?;
    let m = o
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut()
}

impl State {
    pub fn new() -> Self {
        State {
            types: registry::builtins(),
            objects: BTreeMap::new(),
            rv: 1,
            faults: Vec::new(),
            requests: BTreeMap::new(),
            arrivals: 0,
        }
    }

    // ---- type lookups -------------------------------------------------------------------

    pub fn group_version_known(&self, group: &str, version: &str) -> bool {
        self.types
            .iter()
            .any(|t| t.group == group && t.version == version)
    }

    pub fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
            .cloned()
    }

    fn find_gvk(&self, api_version: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.types
            .iter()
            .find(|t| t.api_version() == api_version && t.kind == kind)
            .cloned()
    }

    fn storage_type(&self, group: &str, kind: &str) -> Option<Arc<ResourceType>> {
        let mut of_kind = self
            .types
            .iter()
            .filter(|t| t.group == group && t.kind == kind);
        let first = of_kind.next()?;
        Some(
            std::iter::once(first)
                .chain(of_kind)
                .find(|t| t.storage)
                .unwrap_or(first)
                .clone(),
        )
    }

    pub fn types(&self) -> &[Arc<ResourceType>] {
        &self.types
    }

    fn key(rt: &ResourceType, ns: Option<&str>, name: &str) -> Key {
        (
            rt.group.clone(),
            rt.kind.clone(),
            if rt.namespaced {
                ns.unwrap_or_default().to_string()
            } else {
                String::new()
            },
            name.to_string(),
        )
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        self.objects.contains_key(&(
            String::new(),
            "Namespace".into(),
            String::new(),
            ns.to_string(),
        ))
    }

    fn stored(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Result<&Stored, ApiError> {
        self.objects
            .get(&Self::key(rt, ns, name))
            .ok_or_else(|| ApiError::not_found(&rt.plural, &rt.group, name))
    }
}
