//! The simulator's side: objects put, deleted and read by other actors (the scenario's
//! `kubernetes` and updates), and the cluster state for the run's output.

use std::sync::Arc;

use serde_json::Value;

use super::verbs::WriteParams;
use super::{State, meta_mut, meta_str};
use crate::kube::KubeSimError;
use crate::kube::registry::ResourceType;

/// The manager name used for objects written through the simulator interface.
const ACTOR: &str = "charm-sim";

fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.sort_keys();
            m.values_mut().for_each(sort_keys);
        }
        Value::Array(a) => a.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

impl State {
    fn actor_type(&self, api_version: &str, kind: &str) -> Result<Arc<ResourceType>, KubeSimError> {
        self.find_gvk(api_version, kind).ok_or_else(|| {
            KubeSimError::Rejected(format!(
                "no resource type {kind} in {api_version} (is its CRD installed?)"
            ))
        })
    }

    /// Create-or-replace by another actor (operation Update): manager `charm-sim`, or the
    /// `manager` of the object's first `metadata.managedFields` entry, so that a scenario
    /// can seed objects as another controller (e.g. an earlier charm) wrote them.
    pub fn put_as_actor(&mut self, obj: Value) -> Result<(), KubeSimError> {
        let av = obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
        let rt = self.actor_type(av, kind)?;
        let name = meta_str(&obj, "name").unwrap_or_default().to_string();
        let ns = meta_str(&obj, "namespace").map(str::to_string);
        if rt.namespaced && ns.is_none() {
            return Err(KubeSimError::Rejected(format!(
                "{kind} {name:?} needs metadata.namespace"
            )));
        }
        let manager = obj
            .pointer("/metadata/managedFields/0/manager")
            .and_then(Value::as_str)
            .unwrap_or(ACTOR);
        let p = WriteParams {
            field_manager: Some(manager.into()),
            actor: true,
            ..WriteParams::default()
        };
        let key = Self::key(&rt, ns.as_deref(), &name);
        let mut body = obj;
        if let Some(m) = meta_mut(&mut body) {
            for k in ["resourceVersion", "managedFields", "uid"] {
                m.shift_remove(k);
            }
        }
        let result = if self.objects.contains_key(&key) {
            self.replace(&rt, ns.as_deref(), &name, body, &p)
        } else {
            self.create(&rt, ns.as_deref(), body, &p)
        };
        result
            .map(|_| ())
            .map_err(|e| KubeSimError::Rejected(e.message))
    }

    pub fn delete_as_actor(
        &mut self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Result<bool, KubeSimError> {
        let rt = self.actor_type(api_version, kind)?;
        match self.delete(&rt, ns, name, false) {
            Ok(_) => Ok(true),
            Err(e) if e.code == 404 => Ok(false),
            Err(e) => Err(KubeSimError::Rejected(e.message)),
        }
    }

    pub fn get_as_actor(
        &self,
        api_version: &str,
        kind: &str,
        ns: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let rt = self.find_gvk(api_version, kind)?;
        let s = self.stored(&rt, ns, name).ok()?;
        Self::present(&rt, s).ok()
    }

    pub fn objects_for_output(&self) -> Vec<Value> {
        // CRDs are the scenario's `crds` input, not cluster state worth diffing (and large).
        let mut out: Vec<Value> = self
            .objects
            .iter()
            .filter(|((g, k, _, _), _)| {
                !(g == "apiextensions.k8s.io" && k == "CustomResourceDefinition")
            })
            .map(|(_, s)| {
                let mut o = s.obj.clone();
                if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                    for k in [
                        "uid",
                        "resourceVersion",
                        "generation",
                        "creationTimestamp",
                        "managedFields",
                    ] {
                        m.shift_remove(k);
                    }
                }
                sort_keys(&mut o);
                o
            })
            .collect();
        let sort_key = |o: &Value| {
            let s = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
            (
                s(o.get("apiVersion")),
                s(o.get("kind")),
                s(o.pointer("/metadata/namespace")),
                s(o.pointer("/metadata/name")),
            )
        };
        out.sort_by_key(sort_key);
        out
    }
}
