//! JSON merge patch (RFC 7386), strategic merge patch (built-in kinds) and JSON patch (RFC 6902).

use serde_json::Value;

use super::registry::{ListType, ResourceType, list_type};

/// RFC 7386: maps merge, `null` deletes, anything else replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(t) = target else {
        return;
    };
    for (k, v) in p {
        if v.is_null() {
            t.shift_remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Strategic merge patch as apimachinery applies it to built-in types: maps merge, `null`
/// deletes, lists with a patch merge key merge item by item (`$patch: delete` removes one),
/// other lists replace; `$patch: replace` on a map replaces it; `$setElementOrder/*`,
/// `$retainKeys` and `$deleteFromPrimitiveList/*` directives are accepted and ignored.
pub(crate) fn strategic_merge(rt: &ResourceType, target: &mut Value, patch: &Value) {
    smp(rt, target, patch, &mut Vec::new());
}

fn smp<'a>(rt: &ResourceType, target: &mut Value, patch: &'a Value, names: &mut Vec<&'a str>) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut clean = patch.clone();
        strip_directives(&mut clean);
        *target = clean;
        return;
    }
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(t) = target else {
        return;
    };
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        names.push(k.as_str());
        if v.is_null() {
            t.shift_remove(k);
        } else if let Value::Array(items) = v {
            match (list_type(rt, names), t.get_mut(k)) {
                (ListType::Map(keys), Some(Value::Array(live))) => {
                    merge_list(rt, live, items, &keys, names)
                }
                (ListType::Set, Some(Value::Array(live))) => {
                    for i in items {
                        if !live.contains(i) {
                            live.push(i.clone());
                        }
                    }
                }
                _ => {
                    let mut clean = v.clone();
                    strip_directives(&mut clean);
                    t.insert(k.clone(), clean);
                }
            }
        } else {
            smp(rt, t.entry(k.clone()).or_insert(Value::Null), v, names);
        }
        names.pop();
    }
}

fn merge_list<'a>(
    rt: &ResourceType,
    live: &mut Vec<Value>,
    items: &'a [Value],
    keys: &[String],
    names: &mut Vec<&'a str>,
) {
    // Strategic merge identifies items by the first key only (patchMergeKey).
    let Some(key) = keys.first() else {
        return;
    };
    for item in items {
        let Some(kv) = item.get(key) else {
            continue;
        };
        let pos = live.iter().position(|l| l.get(key) == Some(kv));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                live.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => smp(rt, &mut live[i], item, names),
            (None, false) => {
                let mut clean = item.clone();
                strip_directives(&mut clean);
                live.push(clean);
            }
        }
    }
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn split_pointer(path: &str) -> Result<(String, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok((parent.to_string(), unescape(last)))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(m)) => {
            m.insert(last, value);
            Ok(())
        }
        Some(Value::Array(a)) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= a.len())
                    .ok_or_else(|| format!("invalid array index {last:?}"))?
            };
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("missing path {parent:?}")),
    }
}

fn remove_at(doc: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(m)) => m
            .shift_remove(&last)
            .ok_or_else(|| format!("missing path {path:?}")),
        Some(Value::Array(a)) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(format!("invalid array index {last:?}")),
        },
        _ => Err(format!("missing path {parent:?}")),
    }
}

/// RFC 6902 JSON patch.
pub(crate) fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be a list of operations")?;
    for op in ops {
        let name = op.get("op").and_then(Value::as_str).unwrap_or_default();
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or("operation without path")?;
        let value = || op.get("value").cloned().ok_or("operation without value");
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or("operation without from")
        };
        match name {
            "add" => add(doc, path, value()?)?,
            "remove" => {
                remove_at(doc, path)?;
            }
            "replace" => {
                remove_at(doc, path)?;
                add(doc, path, value()?)?;
            }
            "move" => {
                let v = remove_at(doc, from()?)?;
                add(doc, path, v)?;
            }
            "copy" => {
                let v = doc
                    .pointer(from()?)
                    .cloned()
                    .ok_or("copy from a missing path")?;
                add(doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(format!("test failed at {path:?}"));
                }
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::registry::builtins;
    use serde_json::json;

    fn kind(k: &str) -> std::sync::Arc<ResourceType> {
        builtins()
            .into_iter()
            .find(|t| t.kind == k)
            .expect("built-in kind")
    }

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge_patch(&mut t, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(t, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn strategic_merge_containers_by_name() {
        let mut t = json!({"spec": {"template": {"metadata": {"labels": {"a": "1", "b": "2"}},
            "spec": {"containers": [{"name": "c1", "image": "x"}, {"name": "c2", "image": "y"}]}}}});
        let p = json!({"spec": {"template": {"metadata": {"labels": {"a": null, "c": "3"}},
            "spec": {"containers": [{"name": "c1", "image": "z"}, {"name": "c2", "$patch": "delete"},
                {"name": "c3", "image": "w"}]}}}});
        strategic_merge(&kind("StatefulSet"), &mut t, &p);
        assert_eq!(
            t,
            json!({"spec": {"template": {"metadata": {"labels": {"b": "2", "c": "3"}},
            "spec": {"containers": [{"name": "c1", "image": "z"}, {"name": "c3", "image": "w"}]}}}})
        );
    }

    #[test]
    fn json_patch_ops() {
        let mut d = json!({"a": [1, 2], "b": {"c": 1}});
        json_patch(
            &mut d,
            &json!([{"op": "add", "path": "/a/-", "value": 3},
                {"op": "replace", "path": "/b/c", "value": 2},
                {"op": "remove", "path": "/a/0"},
                {"op": "test", "path": "/b/c", "value": 2}]),
        )
        .expect("applies");
        assert_eq!(d, json!({"a": [2, 3], "b": {"c": 2}}));
        assert!(json_patch(&mut d, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }
}
