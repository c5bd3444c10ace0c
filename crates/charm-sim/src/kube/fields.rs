//! Field paths and field sets, the currency of managedFields (`fieldsV1`).
//!
//! A field set holds *leaf* paths: scalars, empty maps, atomic lists, set-list values, and the
//! membership of each map-list item (`k:{...}` with `.`) plus the fields inside it. That is
//! the shape structured-merge-diff writes into `fieldsV1`.

use std::collections::BTreeSet;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::registry::{ListType, ResourceType, list_type};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PathElem {
    Field(String),
    /// A map-list item, by its key fields as canonical JSON: `{"name":"mesh"}`.
    Key(String),
    /// A set-list item, as JSON.
    Value(String),
}

pub(crate) type FieldPath = Vec<PathElem>;
pub(crate) type FieldSet = BTreeSet<FieldPath>;

/// Metadata the server owns or that identifies the object: never part of a field set.
const SERVER_META: [&str; 9] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
];

/// The leaf paths of an object, without apiVersion, kind, server-owned metadata, and
/// `status` where a subresource owns it.
pub(crate) fn field_set(rt: &ResourceType, obj: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(m) = obj.as_object() else {
        return out;
    };
    for (k, v) in m {
        if k == "apiVersion" || k == "kind" || (k == "status" && rt.status_subresource) {
            continue;
        }
        if k == "metadata" {
            if let Some(meta) = v.as_object() {
                for (mk, mv) in meta {
                    if SERVER_META.contains(&mk.as_str()) {
                        continue;
                    }
                    let path = vec![PathElem::Field(k.clone()), PathElem::Field(mk.clone())];
                    walk(rt, mv, path, &mut vec![k.as_str(), mk.as_str()], &mut out);
                }
            }
            continue;
        }
        walk(
            rt,
            v,
            vec![PathElem::Field(k.clone())],
            &mut vec![k.as_str()],
            &mut out,
        );
    }
    out
}

fn walk<'a>(
    rt: &ResourceType,
    v: &'a Value,
    path: FieldPath,
    names: &mut Vec<&'a str>,
    out: &mut FieldSet,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                let mut p = path.clone();
                p.push(PathElem::Field(k.clone()));
                names.push(k.as_str());
                walk(rt, child, p, names, out);
                names.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match list_type(rt, names) {
            ListType::Atomic => {
                out.insert(path);
            }
            ListType::Set => {
                for i in items {
                    let mut p = path.clone();
                    p.push(PathElem::Value(i.to_string()));
                    out.insert(p);
                }
            }
            ListType::Map(keys) => {
                let item_keys: Option<Vec<String>> =
                    items.iter().map(|i| item_key(i, &keys)).collect();
                // An item without its keys cannot be tracked: own the list as a whole.
                let Some(item_keys) = item_keys else {
                    out.insert(path);
                    return;
                };
                for (i, key) in items.iter().zip(item_keys) {
                    let mut p = path.clone();
                    p.push(PathElem::Key(key));
                    out.insert(p.clone());
                    walk(rt, i, p, names, out);
                }
            }
        },
        _ => {
            out.insert(path);
        }
    }
}

/// The canonical key of a map-list item; `None` when it is not an object or lacks every key.
pub(crate) fn item_key(item: &Value, keys: &[String]) -> Option<String> {
    let m = item.as_object()?;
    let mut key = Map::new();
    for k in keys {
        if let Some(v) = m.get(k) {
            key.insert(k.clone(), v.clone());
        }
    }
    if key.is_empty() {
        return None;
    }
    Some(Value::Object(key).to_string())
}

fn item_matches_key(item: &Value, key: &str) -> bool {
    let Ok(Value::Object(k)) = serde_json::from_str::<Value>(key) else {
        return false;
    };
    k.iter().all(|(name, v)| item.get(name) == Some(v))
}

/// The value at a path, if present.
pub(crate) fn get<'a>(obj: &'a Value, path: &[PathElem]) -> Option<&'a Value> {
    let mut cur = obj;
    for e in path {
        cur = match e {
            PathElem::Field(f) => cur.get(f)?,
            PathElem::Key(k) => cur.as_array()?.iter().find(|i| item_matches_key(i, k))?,
            PathElem::Value(v) => {
                let want: Value = serde_json::from_str(v).ok()?;
                cur.as_array()?.iter().find(|i| **i == want)?
            }
        };
    }
    Some(cur)
}

fn get_mut<'a>(obj: &'a mut Value, path: &[PathElem]) -> Option<&'a mut Value> {
    let mut cur = obj;
    for e in path {
        cur = match e {
            PathElem::Field(f) => cur.get_mut(f)?,
            PathElem::Key(k) => cur
                .as_array_mut()?
                .iter_mut()
                .find(|i| item_matches_key(i, k))?,
            PathElem::Value(v) => {
                let want: Value = serde_json::from_str(v).ok()?;
                cur.as_array_mut()?.iter_mut().find(|i| **i == want)?
            }
        };
    }
    Some(cur)
}

/// Removes the element at a path (a map field or a list item); absent paths are a no-op.
pub(crate) fn remove(obj: &mut Value, path: &[PathElem]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let Some(parent) = get_mut(obj, parent) else {
        return;
    };
    match last {
        PathElem::Field(f) => {
            if let Some(m) = parent.as_object_mut() {
                m.shift_remove(f);
            }
        }
        PathElem::Key(k) => {
            if let Some(a) = parent.as_array_mut() {
                a.retain(|i| !item_matches_key(i, k));
            }
        }
        PathElem::Value(v) => {
            if let (Some(a), Ok(want)) = (parent.as_array_mut(), serde_json::from_str::<Value>(v)) {
                a.retain(|i| *i != want);
            }
        }
    }
}

/// `a` is `b` or an ancestor or descendant of it.
pub(crate) fn overlaps(a: &[PathElem], b: &[PathElem]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// `.spec.listeners[name="mesh"].port`, as in apiserver conflict messages.
pub(crate) fn display(path: &[PathElem]) -> String {
    let mut s = String::new();
    for e in path {
        match e {
            PathElem::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            PathElem::Key(k) => {
                let parts: Vec<String> = match serde_json::from_str::<Value>(k) {
                    Ok(Value::Object(m)) => m.iter().map(|(n, v)| format!("{n}={v}")).collect(),
                    _ => vec![k.clone()],
                };
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            PathElem::Value(v) => s.push_str(&format!("[={v}]")),
        }
    }
    s
}

/// The `fieldsV1` tree of a field set, serialized straight from the set: one `f:`/`k:`/`v:`
/// member per path element, `{}` at the leaves, and `".": {}` first in a map-list item that
/// is itself in the set.
pub(crate) struct FieldsV1<'a>(pub &'a FieldSet);

impl Serialize for FieldsV1<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let paths: Vec<&[PathElem]> = self.0.iter().map(Vec::as_slice).collect();
        FieldsNode {
            paths: &paths,
            depth: 0,
        }
        .serialize(ser)
    }
}

/// The tree node at `depth` shared by `paths` (sorted, all with the same first `depth`
/// elements).
struct FieldsNode<'a> {
    paths: &'a [&'a [PathElem]],
    depth: usize,
}

impl Serialize for FieldsNode<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let d = self.depth;
        let mut map = ser.serialize_map(None)?;
        // A path ending here sorts before the paths through here.
        let mut rest = self.paths;
        if let Some((first, tail)) = rest.split_first()
            && first.len() == d
        {
            if matches!(first.last(), Some(PathElem::Key(_))) {
                map.serialize_entry(".", &Empty)?;
            }
            rest = tail;
        }
        // Sorted: the paths through one child are consecutive.
        while let Some(first) = rest.first() {
            let elem = &first[d];
            let n = rest.iter().take_while(|p| &p[d] == elem).count();
            let (group, tail) = rest.split_at(n);
            map.serialize_entry(
                &ElemKey(elem),
                &FieldsNode {
                    paths: group,
                    depth: d + 1,
                },
            )?;
            rest = tail;
        }
        map.end()
    }
}

/// `f:name`, `k:{"name":"x"}` or `v:"x"`.
struct ElemKey<'a>(&'a PathElem);

impl Serialize for ElemKey<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            PathElem::Field(f) => ser.collect_str(&format_args!("f:{f}")),
            PathElem::Key(k) => ser.collect_str(&format_args!("k:{k}")),
            PathElem::Value(v) => ser.collect_str(&format_args!("v:{v}")),
        }
    }
}

/// `{}`
struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_map(Some(0))?.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::registry::builtins;
    use serde_json::json;

    fn sts() -> std::sync::Arc<ResourceType> {
        builtins()
            .into_iter()
            .find(|t| t.kind == "StatefulSet")
            .expect("built-in StatefulSet")
    }

    #[test]
    fn fields_v1_of_map_list_items() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "a", "labels": {"x": "1"}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        let set = field_set(&sts(), &obj);
        assert_eq!(
            serde_json::to_value(FieldsV1(&set)).expect("serializes"),
            json!({"f:metadata": {"f:labels": {"f:x": {}}},
                "f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"c\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
        );
        let item = set
            .iter()
            .find(|p| matches!(p.last(), Some(PathElem::Field(f)) if f == "image"))
            .expect("image path");
        assert_eq!(
            display(item),
            ".spec.template.spec.containers[name=\"c\"].image"
        );
        assert_eq!(get(&obj, item), Some(&json!("i")));
        let mut o = obj.clone();
        remove(&mut o, &item[..item.len() - 1]);
        assert_eq!(o["spec"]["template"]["spec"]["containers"], json!([]));
    }
}
