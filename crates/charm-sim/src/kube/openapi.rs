//! OpenAPI documents (`/openapi/v3`, `/openapi/v2`): the operations of every served kind
//! with their `x-kubernetes-*` extensions and query parameters, as client-go reads them to
//! learn whether the server validates fields itself (`fieldValidation` on PATCH; kubectl
//! refuses to apply without a document it can read; kubectl 1.20 reads v2, as protobuf, for
//! `dryRun` support). No schemas (`components.schemas`,
//! `definitions` are empty): clients find nothing to validate locally, the server does it.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::registry::ResourceType;

/// The `/openapi/v3` key of a group/version: `api/v1`, `apis/<group>/<version>`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per served group/version, its URL carrying a hash of the
/// document (it changes when a CRD changes what the document holds).
pub(super) fn v3_root(types: &[Arc<ResourceType>]) -> Value {
    let mut paths = Map::new();
    for t in types {
        let key = gv_path(&t.group, &t.version);
        if paths.contains_key(&key) {
            continue;
        }
        let doc = v3_group_version(types, &key).unwrap_or_default();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        doc.to_string().hash(&mut h);
        let url = format!("/openapi/v3/{key}?hash={:016X}", h.finish());
        paths.insert(key, json!({"serverRelativeURL": url}));
    }
    json!({ "paths": paths })
}

/// `/openapi/v3/<api/v1 | apis/group/version>`; `None` for a group/version not served.
pub(super) fn v3_group_version(types: &[Arc<ResourceType>], key: &str) -> Option<Value> {
    let served: Vec<&Arc<ResourceType>> = types
        .iter()
        .filter(|t| gv_path(&t.group, &t.version) == key)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    for t in served {
        operations(t, &mut paths, true);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": super::http::GIT_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

/// `/openapi/v2` as JSON.
pub(super) fn v2(types: &[Arc<ResourceType>]) -> Value {
    let mut paths = Map::new();
    for t in types {
        operations(t, &mut paths, false);
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": super::http::GIT_VERSION},
        "paths": paths,
        "definitions": {},
    })
}

/// `/openapi/v2` as protobuf (gnostic's `openapi_v2.Document`), what client-go asks for:
/// [`v2`]'s paths with their operations, parameters and `x-kubernetes-*` extensions (kubectl
/// 1.20 looks for `dryRun` among a kind's PATCH parameters there). No definitions.
pub(super) fn v2_protobuf(types: &[Arc<ResourceType>]) -> Vec<u8> {
    let doc = v2(types);
    let mut paths = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let mut path_item = Vec::new();
        // PathItem: get = 2, put = 3, post = 4, delete = 5, patch = 8.
        for (verb, field) in [
            ("get", 2),
            ("put", 3),
            ("post", 4),
            ("delete", 5),
            ("patch", 8),
        ] {
            if let Some(op) = item.get(verb) {
                pb_bytes(&mut path_item, field, &pb_operation(op));
            }
        }
        // NamedPathItem: name = 1, value = 2.
        let mut named = Vec::new();
        pb_bytes(&mut named, 1, path.as_bytes());
        pb_bytes(&mut named, 2, &path_item);
        // Paths: path = 2.
        pb_bytes(&mut paths, 2, &named);
    }
    // Info: title = 1, version = 2.
    let mut info = Vec::new();
    pb_bytes(&mut info, 1, b"Kubernetes");
    pb_bytes(&mut info, 2, super::http::GIT_VERSION.as_bytes());
    // Document: swagger = 1, info = 2, paths = 8.
    let mut out = Vec::new();
    pb_bytes(&mut out, 1, b"2.0");
    pb_bytes(&mut out, 2, &info);
    pb_bytes(&mut out, 8, &paths);
    out
}

/// gnostic's `Operation`: operation_id = 5, parameters = 8, vendor_extension = 13.
fn pb_operation(op: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(id) = op["operationId"].as_str() {
        pb_bytes(&mut out, 5, id.as_bytes());
    }
    for p in op["parameters"].as_array().into_iter().flatten() {
        // Query and path sub-schemas: required = 1, in = 2, name = 4, then type (6 for a
        // query parameter, 5 for a path one).
        let (kind, type_field) = if p["in"] == "path" { (4, 5) } else { (3, 6) };
        let mut sub = Vec::new();
        if p["required"] == true {
            pb_varint(&mut sub, 1 << 3);
            pb_varint(&mut sub, 1);
        }
        pb_bytes(&mut sub, 2, p["in"].as_str().unwrap_or_default().as_bytes());
        pb_bytes(
            &mut sub,
            4,
            p["name"].as_str().unwrap_or_default().as_bytes(),
        );
        pb_bytes(&mut sub, type_field, b"string");
        // NonBodyParameter (oneof sub-schema) in Parameter (non_body_parameter = 2) in
        // ParametersItem (parameter = 1).
        let mut non_body = Vec::new();
        pb_bytes(&mut non_body, kind, &sub);
        let mut parameter = Vec::new();
        pb_bytes(&mut parameter, 2, &non_body);
        let mut item = Vec::new();
        pb_bytes(&mut item, 1, &parameter);
        pb_bytes(&mut out, 8, &item);
    }
    for (name, value) in op.as_object().into_iter().flatten() {
        if !name.starts_with("x-") {
            continue;
        }
        // NamedAny: name = 1, value = 2 (Any: yaml = 2; JSON text is YAML).
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut any = Vec::new();
        pb_bytes(&mut any, 2, text.as_bytes());
        let mut named = Vec::new();
        pb_bytes(&mut named, 1, name.as_bytes());
        pb_bytes(&mut named, 2, &any);
        pb_bytes(&mut out, 13, &named);
    }
    out
}

fn pb_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field (wire type 2): strings, bytes and embedded messages.
fn pb_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    pb_varint(out, (field << 3) | 2);
    pb_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The media type a real server answers the protobuf document with.
pub(super) const V2_PROTOBUF_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// A string parameter, in OpenAPI v3's form (`schema`) or v2's (`type`).
fn param(name: &str, location: &str, v3: bool) -> Value {
    let mut p = json!({"name": name, "in": location});
    if location == "path" {
        p["required"] = json!(true);
    }
    if v3 {
        p["schema"] = json!({"type": "string"});
    } else {
        p["type"] = json!("string");
    }
    p
}

/// The collection and item paths of one kind, with the operations this server serves.
fn operations(t: &ResourceType, paths: &mut Map<String, Value>, v3: bool) {
    let prefix = format!("/{}", gv_path(&t.group, &t.version));
    let ns = if t.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let collection = format!("{prefix}{ns}/{}", t.plural);
    let item = format!("{collection}/{{name}}");
    let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
    let op = |action: &str, id: &str, item_path: bool, q: &[&str]| -> Value {
        let mut params: Vec<Value> = Vec::new();
        if item_path {
            params.push(param("name", "path", v3));
        }
        if t.namespaced {
            params.push(param("namespace", "path", v3));
        }
        params.extend(q.iter().map(|n| param(n, "query", v3)));
        json!({
            "operationId": format!("{id}{}", t.kind),
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "parameters": params,
            "responses": {"200": {"description": "OK"}},
        })
    };
    let write = ["dryRun", "fieldManager", "fieldValidation"];
    paths.insert(
        collection,
        json!({
            "get": op("list", "list", false, &["labelSelector", "fieldSelector", "limit", "continue"]),
            "post": op("post", "create", false, &write),
        }),
    );
    paths.insert(
        item,
        json!({
            "get": op("get", "read", true, &[]),
            "put": op("put", "replace", true, &write),
            "patch": op("patch", "patch", true, &["dryRun", "fieldManager", "fieldValidation", "force"]),
            "delete": op("delete", "delete", true, &["dryRun"]),
        }),
    );
}
