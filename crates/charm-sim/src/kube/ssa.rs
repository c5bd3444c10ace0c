//! Server-side apply and the managedFields bookkeeping of ordinary writes.
//!
//! Simplifications (documented in the module report): lists are atomic unless the schema (or,
//! for built-ins, the k8s.io/api tags) says `list-type=map`/`set`; map-list items keep the live
//! order with new items appended; conflicts with one's own Update entry are not reported.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

use super::fields::{self, FieldPath, FieldSet, FieldsV1, field_set};
use super::registry::{ListType, ResourceType, list_type};
use super::status::Cause;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Apply,
    Update,
}

/// One `managedFields` entry.
#[derive(Debug, Clone)]
pub(crate) struct ManagedEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: String,
    pub fields: FieldSet,
}

/// The `metadata.managedFields` JSON, serialized straight from the entries.
pub(crate) struct ManagedFields<'a>(pub &'a [ManagedEntry]);

impl Serialize for ManagedFields<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(Some(self.0.len()))?;
        for e in self.0 {
            seq.serialize_element(&Entry(e))?;
        }
        seq.end()
    }
}

struct Entry<'a>(&'a ManagedEntry);

impl Serialize for Entry<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut map = ser.serialize_map(Some(6))?;
        map.serialize_entry("manager", &e.manager)?;
        map.serialize_entry(
            "operation",
            match e.operation {
                Operation::Apply => "Apply",
                Operation::Update => "Update",
            },
        )?;
        map.serialize_entry("apiVersion", &e.api_version)?;
        map.serialize_entry("time", &e.time)?;
        map.serialize_entry("fieldsType", "FieldsV1")?;
        map.serialize_entry("fieldsV1", &FieldsV1(&e.fields))?;
        map.end()
    }
}

/// Who wrote, in which version, when.
pub(crate) struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub now: &'a str,
}

fn entry_mut<'e>(
    entries: &'e mut Vec<ManagedEntry>,
    w: &Writer<'_>,
    op: Operation,
) -> &'e mut ManagedEntry {
    let pos = entries
        .iter()
        .position(|e| e.manager == w.manager && e.operation == op);
    let i = match pos {
        Some(i) => i,
        None => {
            entries.push(ManagedEntry {
                manager: w.manager.to_string(),
                operation: op,
                api_version: w.api_version.to_string(),
                time: w.now.to_string(),
                fields: FieldSet::new(),
            });
            entries.len() - 1
        }
    };
    let e = &mut entries[i];
    e.api_version = w.api_version.to_string();
    e.time = w.now.to_string();
    e
}

/// Ownership after an ordinary write (POST, PUT, non-apply PATCH): the writer takes every
/// field it added or changed, and removed fields leave every set.
pub(crate) fn record_update(
    rt: &ResourceType,
    old: Option<&Value>,
    new: &Value,
    managed: &mut Vec<ManagedEntry>,
    w: &Writer<'_>,
) {
    let new_set = field_set(rt, new);
    let changed: FieldSet = new_set
        .iter()
        .filter(|p| old.and_then(|o| fields::get(o, p)) != fields::get(new, p))
        .cloned()
        .collect();
    for e in managed.iter_mut() {
        let is_writer = e.manager == w.manager && e.operation == Operation::Update;
        e.fields
            .retain(|p| new_set.contains(p) && (is_writer || !changed.contains(p)));
    }
    if !changed.is_empty() {
        entry_mut(managed, w, Operation::Update)
            .fields
            .extend(changed);
    }
    managed.retain(|e| !e.fields.is_empty());
}

/// The result of an apply.
pub(crate) struct Applied {
    pub object: Value,
    pub managed: Vec<ManagedEntry>,
}

/// Server-side apply of `config` by `w.manager` onto `live`; `Err` carries the conflicts
/// when `force` is false.
pub(crate) fn apply(
    rt: &ResourceType,
    live: Option<(&Value, &[ManagedEntry])>,
    config: Value,
    force: bool,
    w: &Writer<'_>,
) -> Result<Applied, Vec<Cause>> {
    let applied_set = field_set(rt, &config);
    let Some((live, live_managed)) = live else {
        let mut managed = Vec::new();
        entry_mut(&mut managed, w, Operation::Apply).fields = applied_set;
        managed.retain(|e| !e.fields.is_empty());
        return Ok(Applied {
            object: config,
            managed,
        });
    };
    let mut managed: Vec<ManagedEntry> = live_managed.to_vec();

    let mut object = live.clone();
    // Fields this manager applied before and now omits go away unless someone else owns them.
    let previous: FieldSet = managed
        .iter()
        .find(|e| e.manager == w.manager && e.operation == Operation::Apply)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    for p in previous.difference(&applied_set) {
        let owned_elsewhere = managed.iter().any(|e| {
            !(e.manager == w.manager && e.operation == Operation::Apply)
                && e.fields.iter().any(|q| q.starts_with(p))
        });
        if !owned_elsewhere {
            fields::remove(&mut object, p);
        }
    }
    merge(rt, &mut object, &config, &mut Vec::new());

    // Conflicts: a field another manager owns that this apply touches and changes.
    let mut conflicts: Vec<(usize, FieldPath)> = Vec::new();
    for (i, e) in managed.iter().enumerate() {
        if e.manager == w.manager {
            continue;
        }
        for q in &e.fields {
            let touched = applied_set.iter().any(|p| fields::overlaps(p, q));
            if touched && fields::get(&object, q) != fields::get(live, q) {
                conflicts.push((i, q.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts
            .iter()
            .map(|(i, q)| {
                let e = &managed[*i];
                let field = fields::display(q);
                Cause {
                    reason: "FieldManagerConflict".into(),
                    message: format!(
                        "conflict with \"{}\" using {}: {field}",
                        e.manager, e.api_version
                    ),
                    field,
                }
            })
            .collect());
    }
    for (i, q) in &conflicts {
        managed[*i].fields.remove(q);
    }

    entry_mut(&mut managed, w, Operation::Apply).fields = applied_set;
    let final_set = field_set(rt, &object);
    for e in managed.iter_mut() {
        e.fields.retain(|p| final_set.contains(p));
    }
    managed.retain(|e| !e.fields.is_empty());
    Ok(Applied { object, managed })
}

/// Deep merge of an apply configuration into the live object.
fn merge<'a>(rt: &ResourceType, live: &mut Value, config: &'a Value, names: &mut Vec<&'a str>) {
    match (live, config) {
        (Value::Object(l), Value::Object(c)) => {
            for (k, cv) in c {
                names.push(k.as_str());
                match l.get_mut(k) {
                    Some(lv) => merge(rt, lv, cv, names),
                    None => {
                        l.insert(k.clone(), cv.clone());
                    }
                }
                names.pop();
            }
        }
        (Value::Array(l), Value::Array(c)) => match list_type(rt, names) {
            ListType::Map(keys) => {
                for ci in c {
                    let key = fields::item_key(ci, &keys);
                    let found = key.as_ref().and_then(|k| {
                        l.iter_mut()
                            .find(|li| fields::item_key(li, &keys).as_ref() == Some(k))
                    });
                    match found {
                        Some(li) => merge(rt, li, ci, names),
                        None => l.push(ci.clone()),
                    }
                }
            }
            ListType::Set => {
                for ci in c {
                    if !l.contains(ci) {
                        l.push(ci.clone());
                    }
                }
            }
            ListType::Atomic => *l = c.clone(),
        },
        (l, c) => *l = c.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::registry::builtins;
    use serde_json::json;

    fn cm() -> std::sync::Arc<ResourceType> {
        builtins()
            .into_iter()
            .find(|t| t.kind == "ConfigMap")
            .expect("built-in ConfigMap")
    }

    fn w(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "v1",
            now: "2026-01-01T00:00:00Z",
        }
    }

    #[test]
    fn apply_conflicts_force_and_removal() {
        let rt = cm();
        let a1 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"x": "1", "y": "2"}});
        let first = apply(&rt, None, a1, false, &w("a")).expect("create");
        // b sets x differently: conflict naming a and .data.x.
        let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"x": "9"}});
        let live = Some((&first.object, first.managed.as_slice()));
        let causes = apply(&rt, live, b.clone(), false, &w("b"))
            .err()
            .expect("conflict");
        assert_eq!(causes.len(), 1);
        assert_eq!(causes[0].field, ".data.x");
        assert!(causes[0].message.contains("\"a\""));
        // Forced: b owns x now.
        let forced = apply(&rt, live, b, true, &w("b")).expect("forced");
        assert_eq!(forced.object["data"]["x"], "9");
        // a re-applies without x and y: y goes, x stays (b owns it).
        let a2 = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
            "data": {"z": "3"}});
        let after = apply(
            &rt,
            Some((&forced.object, forced.managed.as_slice())),
            a2,
            false,
            &w("a"),
        )
        .expect("no conflict");
        assert_eq!(after.object["data"], json!({"x": "9", "z": "3"}));
    }
}
