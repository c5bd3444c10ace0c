//! Writing to storage: defaults, validation and server-populated fields, no-op writes left
//! alone, and what a delete takes with it.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{Key, State, Stored, meta_mut, meta_str, now};
use crate::kube::registry::{self, ResourceType};
use crate::kube::ssa::ManagedEntry;
use crate::kube::status::{ApiError, Cause};
use crate::kube::validate;

/// `a == b` once the `skip` members are removed from both (when they are objects), compared
/// in place. JSON object equality ignores member order.
fn eq_without(a: &Value, b: &Value, skip: &[&str]) -> bool {
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let kept =
                |m: &Map<String, Value>| m.keys().filter(|k| !skip.contains(&k.as_str())).count();
            kept(a) == kept(b)
                && a.iter()
                    .filter(|(k, _)| !skip.contains(&k.as_str()))
                    .all(|(k, v)| b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

/// Same spec: everything but metadata and status, for generation bumps.
fn same_spec(a: &Value, b: &Value) -> bool {
    eq_without(a, b, &["metadata", "status", "apiVersion", "kind"])
}

/// Equal but for the fields a no-op write would still change.
fn same_but_server_fields(a: &Value, b: &Value) -> bool {
    const META: &[&str] = &["resourceVersion", "managedFields"];
    let (Some(am), Some(bm)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let meta_eq = match (am.get("metadata"), bm.get("metadata")) {
        (Some(x), Some(y)) => eq_without(x, y, META),
        (x, y) => x == y,
    };
    meta_eq && eq_without(a, b, &["metadata"])
}

impl State {
    /// Removes an object and what goes with it: a namespace's objects, a CRD's types and
    /// custom resources (a real server does both asynchronously).
    pub(super) fn remove_object(&mut self, key: &Key) {
        let Some(old) = self.objects.remove(key) else {
            return;
        };
        self.rv += 1;
        let (group, kind, _, name) = key;
        if group.is_empty() && kind == "Namespace" {
            self.objects.retain(|(_, _, ns, _), _| ns != name);
        }
        if group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition" {
            let crd_group = old.obj.pointer("/spec/group").and_then(Value::as_str);
            let crd_kind = old.obj.pointer("/spec/names/kind").and_then(Value::as_str);
            if let (Some(g), Some(k)) = (crd_group, crd_kind) {
                self.types
                    .retain(|t| !(t.custom && t.group == g && t.kind == k));
                self.objects
                    .retain(|(og, ok, _, _), _| !(og == g && ok == k));
            }
        }
    }

    /// Defaults, validation, server-populated fields, then the write itself (skipped for a
    /// no-op or a dry run).
    pub(super) fn commit(
        &mut self,
        rt: &Arc<ResourceType>,
        key: Key,
        mut obj: Value,
        managed: Vec<ManagedEntry>,
        dry_run: bool,
    ) -> Result<Vec<u8>, ApiError> {
        let (_, _, ns, name) = &key;
        if rt.namespaced && !self.namespace_exists(ns) {
            return Err(ApiError::not_found("namespaces", "", ns));
        }
        let storage = self
            .storage_type(&rt.group, &rt.kind)
            .unwrap_or_else(|| rt.clone());
        if let Some(o) = obj.as_object_mut() {
            o.insert("apiVersion".into(), Value::String(storage.api_version()));
            o.insert("kind".into(), Value::String(rt.kind.clone()));
        }
        if rt.kind == "Namespace" && rt.group.is_empty() {
            let meta = meta_mut(&mut obj).ok_or_else(|| ApiError::internal("bad metadata"))?;
            let labels = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(l) = labels.as_object_mut() {
                l.insert(
                    "kubernetes.io/metadata.name".into(),
                    Value::String(name.clone()),
                );
            }
        }
        // ObjectMeta's maps are `omitempty`: an emptied label or annotation map disappears.
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in ["labels", "annotations"] {
                if meta
                    .get(k)
                    .and_then(Value::as_object)
                    .is_some_and(Map::is_empty)
                {
                    meta.shift_remove(k);
                }
            }
        }
        if let Some(schema) = &rt.schema {
            registry::drop_nulls(&mut obj);
            registry::prune_and_default(&schema.pruning_root, &mut obj);
        }
        let mut causes = validate::metadata(rt, &obj);
        causes.extend(validate::schema(rt, &obj));
        causes.extend(validate::cel_rules(rt, &obj));
        causes.extend(validate::builtin_rules(rt, &obj));
        let crd_types =
            if rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition" {
                match registry::crd_types(&obj) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        causes.push(Cause {
                            reason: "FieldValueInvalid".into(),
                            message: e.to_string(),
                            field: "spec".into(),
                        });
                        None
                    }
                }
            } else {
                None
            };
        if !causes.is_empty() {
            return Err(ApiError::invalid(&rt.kind, &rt.group, name, causes));
        }

        let old = self.objects.get(&key);
        let old_meta = old.map(|o| &o.obj);
        let uid = old_meta
            .and_then(|o| meta_str(o, "uid"))
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_string);
        let created = old_meta
            .and_then(|o| meta_str(o, "creationTimestamp"))
            .map_or_else(now, str::to_string);
        let generation = if rt.has_generation {
            let old_gen = old_meta
                .and_then(|o| o.get("metadata")?.get("generation"))
                .and_then(Value::as_u64);
            Some(match (old_gen, old_meta) {
                (Some(g), Some(o)) if same_spec(o, &obj) => g,
                (Some(g), Some(_)) => g + 1,
                _ => 1,
            })
        } else {
            None
        };
        {
            let meta = meta_mut(&mut obj).ok_or_else(|| ApiError::internal("bad metadata"))?;
            meta.insert("uid".into(), Value::String(uid));
            meta.insert("creationTimestamp".into(), Value::String(created));
            match generation {
                Some(g) => meta.insert("generation".into(), json!(g)),
                None => meta.shift_remove("generation"),
            };
            meta.shift_remove("managedFields");
            if let Some(rv) = old_meta.and_then(|o| meta_str(o, "resourceVersion")) {
                meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
            }
        }
        if let Some(o) = old {
            let same_owners = o.managed.len() == managed.len()
                && o.managed.iter().zip(&managed).all(|(a, b)| {
                    a.manager == b.manager && a.operation == b.operation && a.fields == b.fields
                });
            if same_owners && same_but_server_fields(&o.obj, &obj) {
                return Self::render(rt, o);
            }
        }
        let rv = self.rv + 1;
        if let Some(meta) = meta_mut(&mut obj) {
            // A dry run stores nothing, so no new resourceVersion: an update answers the
            // current one, a create none (as upstream's DryRunnableStorage).
            match (dry_run, old) {
                (false, _) => {
                    meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
                }
                (true, None) => {
                    meta.shift_remove("resourceVersion");
                }
                (true, Some(_)) => {}
            }
        }
        let stored = Stored { obj, managed };
        let out = Self::render(rt, &stored)?;
        if dry_run {
            return Ok(out);
        }
        self.rv = rv;
        if let Some(new_types) = crd_types {
            if let (Some(g), Some(k)) = (
                new_types.first().map(|t| t.group.clone()),
                new_types.first().map(|t| t.kind.clone()),
            ) {
                self.types
                    .retain(|t| !(t.custom && t.group == g && t.kind == k));
            }
            self.types.extend(new_types);
        }
        self.objects.insert(key, stored);
        Ok(out)
    }
}
