//! Server-side printing of custom resources: a `meta.k8s.io/v1` `Table` for a client that
//! asks for one (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, what `kubectl get`
//! sends), with the CRD version's `additionalPrinterColumns` as the apiextensions server's
//! table convertor builds it: a Name column, then each printer column (or an Age column when
//! the CRD has none), each cell the first match of the column's JSONPath. Built-in kinds are
//! answered as plain JSON (their own printers are not simulated): kubectl then prints itself.

use serde_json::{Map, Value, json};

use super::registry::ResourceType;

/// The media type of a Table answer.
pub(super) const CONTENT_TYPE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// Whether an `Accept` header takes a `meta.k8s.io/v1` Table.
pub(super) fn wanted(accept: &str) -> bool {
    accept.split(',').any(|item| {
        let params: Vec<&str> = item.split(';').map(str::trim).collect();
        params.first() == Some(&"application/json")
            && params.contains(&"as=Table")
            && params.contains(&"v=v1")
            && params.contains(&"g=meta.k8s.io")
    })
}

/// The Table of a GET (one object) or LIST answer `body`. `include` is the request's
/// `includeObject`: `None`, `Object`, or (the default) `Metadata`.
pub(super) fn table(rt: &ResourceType, body: &Value, include: &str, now: jiff::Timestamp) -> Value {
    let mut defs = vec![json!({"name": "Name", "type": "string", "format": "name",
        "description": NAME_DESCRIPTION, "priority": 0})];
    let mut paths = Vec::new();
    if rt.printer_columns.is_empty() {
        defs.push(json!({"name": "Age", "type": "date", "format": "",
            "description": AGE_DESCRIPTION, "priority": 0}));
        paths.push((
            ".metadata.creationTimestamp".to_string(),
            "date".to_string(),
        ));
    }
    for c in &rt.printer_columns {
        let s = |k: &str| {
            c.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        defs.push(
            json!({"name": s("name"), "type": s("type"), "format": s("format"),
            "description": s("description"),
            "priority": c.get("priority").and_then(Value::as_i64).unwrap_or(0)}),
        );
        paths.push((s("jsonPath"), s("type")));
    }
    let (objects, list_meta): (Vec<&Value>, Option<&Value>) = match body.get("items") {
        Some(Value::Array(items)) => (items.iter().collect(), body.get("metadata")),
        _ => (vec![body], None),
    };
    let rows: Vec<Value> = objects
        .into_iter()
        .map(|obj| {
            let mut cells = vec![obj["metadata"]["name"].clone()];
            for (path, ty) in &paths {
                let first = find(obj, path).into_iter().next();
                cells.push(first.map_or(Value::Null, |v| cell(v, ty, now)));
            }
            let mut row = json!({ "cells": cells });
            match include {
                "None" => {}
                "Object" => row["object"] = obj.clone(),
                _ => {
                    row["object"] = json!({"kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
                }
            }
            row
        })
        .collect();
    let mut metadata = Map::new();
    for k in ["resourceVersion", "continue", "remainingItemCount"] {
        if let Some(v) = list_meta.and_then(|m| m.get(k)) {
            metadata.insert(k.to_string(), v.clone());
        }
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
        "columnDefinitions": defs, "rows": rows})
}

/// A printer column's cell from its first JSONPath match, by the column's type.
fn cell(v: &Value, ty: &str, now: jiff::Timestamp) -> Value {
    match (ty, v) {
        ("string", Value::String(_)) => v.clone(),
        ("string", other) => Value::String(other.to_string()),
        ("integer", Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map_or(Value::Null, |i| json!(i)),
        ("integer", Value::String(s)) => s.parse::<i64>().map_or(Value::Null, |i| json!(i)),
        ("number", Value::Number(_)) => v.clone(),
        ("number", Value::String(s)) => s.parse::<f64>().map_or(Value::Null, |f| json!(f)),
        ("boolean", Value::Bool(_)) => v.clone(),
        ("boolean", Value::String(s)) => s.parse::<bool>().map_or(Value::Null, Value::Bool),
        ("date", Value::String(s)) => s.parse::<jiff::Timestamp>().map_or(Value::Null, |t| {
            Value::String(human_duration(now.as_second() - t.as_second()))
        }),
        _ => Value::Null,
    }
}

/// apimachinery's `duration.HumanDuration` of a number of seconds: `5s`, `3m2s`, `4h10m`, `3d`.
fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            d => format!("{}y{d}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// One step of the JSONPath subset printer columns use.
#[derive(Debug, PartialEq)]
enum Step {
    Field(String),
    All,
    Index(i64),
    /// `[?(@.a.b=="v")]`: the items whose field path equals the literal.
    Filter(Vec<String>, String),
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let path = path.trim();
    let path = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path);
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None; // `..` (recursive descent) is not supported
            }
            steps.push(Step::Field(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            steps.push(if inner == "*" {
                Step::All
            } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')')) {
                let (field, lit) = f.split_once("==")?;
                let lit = lit.trim();
                let lit = lit
                    .strip_prefix('"')
                    .and_then(|l| l.strip_suffix('"'))
                    .or_else(|| lit.strip_prefix('\'').and_then(|l| l.strip_suffix('\'')))
                    .unwrap_or(lit);
                Step::Filter(
                    field.trim().split('.').map(str::to_string).collect(),
                    lit.to_string(),
                )
            } else {
                Step::Index(inner.parse().ok()?)
            });
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// Every match of `path` in `obj`, in order; none for a path outside the subset.
fn find<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let Some(steps) = parse(path) else {
        return Vec::new();
    };
    let mut current = vec![obj];
    for step in &steps {
        let mut next = Vec::new();
        for v in current {
            match (step, v) {
                (Step::Field(f), Value::Object(m)) => next.extend(m.get(f)),
                (Step::All, Value::Array(a)) => next.extend(a.iter()),
                (Step::All, Value::Object(m)) => next.extend(m.values()),
                (Step::Index(i), Value::Array(a)) => {
                    let i = if *i < 0 { a.len() as i64 + i } else { *i };
                    next.extend(usize::try_from(i).ok().and_then(|i| a.get(i)));
                }
                (Step::Filter(fields, lit), Value::Array(a)) => {
                    next.extend(a.iter().filter(|item| {
                        let mut v = Some(*item);
                        for f in fields {
                            v = v.and_then(|v| v.get(f));
                        }
                        match v {
                            Some(Value::String(s)) => s == lit,
                            Some(other) => {
                                serde_json::from_str::<Value>(lit).is_ok_and(|l| &l == other)
                            }
                            None => false,
                        }
                    }));
                }
                _ => {}
            }
        }
        current = next;
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_column_paths() {
        let gw = json!({"spec": {"gatewayClassName": "istio"}, "status": {
            "addresses": [{"value": "10.0.0.1"}, {"value": "10.0.0.2"}],
            "conditions": [{"type": "Accepted", "status": "True"},
                {"type": "Programmed", "status": "False"}]}});
        let first = |p: &str| find(&gw, p).first().map(|v| (*v).clone());
        assert_eq!(first(".spec.gatewayClassName"), Some(json!("istio")));
        assert_eq!(first(".status.addresses[*].value"), Some(json!("10.0.0.1")));
        assert_eq!(
            first(".status.addresses[-1].value"),
            Some(json!("10.0.0.2"))
        );
        assert_eq!(
            first(r#".status.conditions[?(@.type=="Programmed")].status"#),
            Some(json!("False"))
        );
        assert_eq!(first(".spec.missing"), None);
        assert_eq!(first("..value"), None);
    }

    #[test]
    fn human_durations_as_apimachinery() {
        for (s, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (185, "3m5s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (9 * 3600, "9h"),
            (50 * 3600, "2d2h"),
            (10 * 86400, "10d"),
            (3 * 365 * 86400 + 86400, "3y1d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(human_duration(s), want, "{s}");
        }
    }

    #[test]
    fn accept_headers() {
        assert!(wanted(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wanted("application/json"));
        assert!(!wanted("application/json;as=Table;v=v1beta1;g=meta.k8s.io"));
    }
}
