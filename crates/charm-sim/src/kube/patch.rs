//! Strategic merge patch (built-in kinds; ours, as no crate does it) and JSON patch
//! (RFC 6902). JSON merge patch (RFC 7386) is `json_patch::merge`.

use serde_json::Value;

use super::registry::{ListType, ResourceType, list_type};

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

/// RFC 6902 JSON patch, on the `json-patch` crate: all operations or none. The error says
/// what was wrong, whether the body is not a list of operations or one of them failed.
pub(crate) fn json_patch(doc: &mut Value, ops: Value) -> Result<(), String> {
    let ops: json_patch::Patch =
        serde_json::from_value(ops).map_err(|e| format!("invalid JSON patch: {e}"))?;
    json_patch::patch(doc, &ops).map_err(|e| e.to_string())
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
        json_patch::merge(&mut t, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
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
            json!([{"op": "add", "path": "/a/-", "value": 3},
                {"op": "replace", "path": "/b/c", "value": 2},
                {"op": "remove", "path": "/a/0"},
                {"op": "test", "path": "/b/c", "value": 2}]),
        )
        .expect("applies");
        assert_eq!(d, json!({"a": [2, 3], "b": {"c": 2}}));
        // A failing operation leaves the document as it was, earlier operations undone.
        let e = json_patch(
            &mut d,
            json!([{"op": "add", "path": "/b/d", "value": 1},
                {"op": "remove", "path": "/nope"}]),
        )
        .expect_err("no /nope");
        assert!(e.contains("/nope"), "{e}");
        assert_eq!(d, json!({"a": [2, 3], "b": {"c": 2}}));
        let e = json_patch(&mut d, json!({"op": "add"})).expect_err("not a list");
        assert!(e.starts_with("invalid JSON patch: "), "{e}");
        let e = json_patch(&mut d, json!([{"op": "frob", "path": "/a"}])).expect_err("no such op");
        assert!(e.contains("frob"), "{e}");
    }
}
