//! OpenAPI documents (`/openapi/v3`, `/openapi/v2`): the operations of every served kind
//! with their `x-kubernetes-*` extensions and query parameters, as client-go reads them to
//! learn whether the server validates fields itself (`fieldValidation` on PATCH; kubectl
//! refuses to apply without a document it can read). No schemas (`components.schemas`,
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

/// `/openapi/v2` as protobuf (gnostic's `openapi_v2.Document`), what client-go asks for
/// first: only field 1, `swagger: "2.0"`. No paths and no definitions: a client finds no
/// schema to validate against and no parameter to rely on.
pub(super) const V2_PROTOBUF: &[u8] = b"\x0a\x032.0";

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
