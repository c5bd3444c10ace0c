//! The server state and the verbs: get, list, create, replace, patch, apply, delete.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use super::fault::{ArmedFault, Fault, FaultError, take_fault};
use super::registry::{self, ResourceType};
use super::selector::{FieldSelector, LabelSelector};
use super::ssa::{self, ManagedEntry, ManagedFields, Writer};
use super::status::{ApiError, Cause};
use super::{KubeSimError, RecordedRequest, patch, validate};

/// (group, kind, namespace or "", name): objects are stored once, whatever version wrote them.
type Key = (String, String, String, String);

#[derive(Debug, Clone)]
struct Stored {
    /// The object in its storage version, without managedFields.
    obj: Value,
    managed: Vec<ManagedEntry>,
}

/// Options of a write request.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteParams {
    pub field_manager: Option<String>,
    pub force: Option<bool>,
    pub dry_run: bool,
    /// Used for the manager name when `fieldManager` is absent, as the apiserver does.
    pub user_agent: Option<String>,
    /// Written through the simulator interface: may set `status` directly.
    pub actor: bool,
}

impl WriteParams {
    fn manager(&self) -> String {
        if let Some(m) = &self.field_manager {
            return m.clone();
        }
        self.user_agent
            .as_deref()
            .and_then(|ua| ua.split('/').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("unknown")
            .to_string()
    }
}

/// The patch formats a PATCH can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchKind {
    Apply,
    Strategic,
    Merge,
    Json,
}

/// The manager name used for objects written through the simulator interface.
const ACTOR: &str = "charm-sim";

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

/// An object as a client sees it through one version: the stored object with that
/// `apiVersion` and its `metadata.managedFields`, serialized without copying the object.
/// Members added that the object lacks go last, as `Map::insert` puts them.
struct Presented<'a> {
    api_version: &'a str,
    stored: &'a Stored,
    /// An item of a typed (built-in) list: no apiVersion and kind.
    list_item: bool,
}

impl Serialize for Presented<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let Some(obj) = self.stored.obj.as_object() else {
            return self.stored.obj.serialize(ser);
        };
        let managed =
            (!self.stored.managed.is_empty()).then(|| ManagedFields(&self.stored.managed));
        let mut map = ser.serialize_map(None)?;
        let (mut has_api_version, mut has_metadata) = (false, false);
        for (k, v) in obj {
            match (k.as_str(), &managed) {
                ("apiVersion", _) => {
                    has_api_version = true;
                    if !self.list_item {
                        map.serialize_entry(k, self.api_version)?;
                    }
                }
                ("kind", _) if self.list_item => {}
                ("metadata", Some(managed)) => {
                    has_metadata = true;
                    // A metadata that is not an object is replaced, as `meta_mut` does.
                    let meta = WithManaged {
                        meta: v.as_object(),
                        managed,
                    };
                    map.serialize_entry(k, &meta)?;
                }
                _ => map.serialize_entry(k, v)?,
            }
        }
        if !has_api_version && !self.list_item {
            map.serialize_entry("apiVersion", self.api_version)?;
        }
        if let Some(managed) = &managed
            && !has_metadata
        {
            map.serialize_entry(
                "metadata",
                &WithManaged {
                    meta: None,
                    managed,
                },
            )?;
        }
        map.end()
    }
}

/// Metadata with `managedFields` in place (or last).
struct WithManaged<'a> {
    meta: Option<&'a Map<String, Value>>,
    managed: &'a ManagedFields<'a>,
}

impl Serialize for WithManaged<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut map = ser.serialize_map(None)?;
        let mut placed = false;
        for (k, v) in self.meta.into_iter().flatten() {
            if k == "managedFields" {
                placed = true;
                map.serialize_entry(k, self.managed)?;
            } else {
                map.serialize_entry(k, v)?;
            }
        }
        if !placed {
            map.serialize_entry("managedFields", self.managed)?;
        }
        map.end()
    }
}

/// A list response, items serialized from the stored objects.
#[derive(serde::Serialize)]
struct ListBody<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: String,
    metadata: ListMeta,
    items: Vec<Presented<'a>>,
}

#[derive(serde::Serialize)]
struct ListMeta {
    #[serde(rename = "resourceVersion")]
    resource_version: String,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    continue_token: Option<String>,
}

/// A LIST's `limit` and `continue` parameters. Tokens are opaque to clients (here: the hex
/// of the last key returned); unlike a real apiserver, pages are not one snapshot, so
/// objects written between pages may or may not appear.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

impl Page {
    fn token((namespace, name): (&str, &str)) -> String {
        format!("{namespace}\0{name}")
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The key the page starts after; a token we did not issue is a 400, as upstream.
    fn after(&self) -> Result<Option<(String, String)>, ApiError> {
        let Some(token) = &self.continue_token else {
            return Ok(None);
        };
        let invalid = || {
            ApiError::bad_request(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            )
        };
        let bytes = (0..token.len())
            .step_by(2)
            .map(|i| {
                token
                    .get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(invalid)?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (namespace, name) = text.split_once('\0').ok_or_else(invalid)?;
        Ok(Some((namespace.to_owned(), name.to_owned())))
    }
}

/// `body` as JSON; `capacity` is a guess at its size, sparing the buffer's regrowth.
fn to_json(body: &impl Serialize, capacity: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut out, body)
        .map_err(|e| ApiError::internal(format!("cannot serialize: {e}")))?;
    Ok(out)
}

/// A guess at the size of one object's JSON.
const OBJECT_JSON_CAPACITY: usize = 2048;

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

/// Main-resource writes cannot change a status owned by a subresource: the stored status
/// (none on create) wins, as in the apiserver's PrepareForCreate/PrepareForUpdate.
fn protect_status(rt: &ResourceType, old: Option<&Value>, obj: &mut Value, p: &WriteParams) {
    if !rt.status_subresource || p.actor {
        return;
    }
    if let Some(o) = obj.as_object_mut() {
        match old.and_then(|v| v.get("status")) {
            Some(s) => {
                o.insert("status".into(), s.clone());
            }
            None => {
                o.shift_remove("status");
            }
        }
    }
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

    pub fn arm_fault(&mut self, f: Fault) -> Result<(), KubeSimError> {
        self.faults.push(ArmedFault::new(f)?);
        Ok(())
    }

    /// Numbers an arriving request and consumes the fault it triggers, if any.
    pub fn arrive(&mut self, method: &str, path: &str) -> (u64, Option<FaultError>) {
        self.arrivals += 1;
        (self.arrivals, take_fault(&mut self.faults, method, path))
    }

    pub fn record(&mut self, arrival: u64, r: RecordedRequest) {
        self.requests.insert(arrival, r);
    }

    /// The answered requests, in arrival order; requests still in flight stay for later.
    pub fn take_requests(&mut self) -> Vec<RecordedRequest> {
        std::mem::take(&mut self.requests).into_values().collect()
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

    // ---- presentation -------------------------------------------------------------------

    /// The object as a client sees it through `rt`'s version.
    fn present(rt: &ResourceType, s: &Stored) -> Result<Value, ApiError> {
        let api_version = rt.api_version();
        let p = Presented {
            api_version: &api_version,
            stored: s,
            list_item: false,
        };
        serde_json::to_value(p).map_err(|e| ApiError::internal(format!("cannot present: {e}")))
    }

    /// The JSON response body of [`Self::present`].
    fn render(rt: &ResourceType, s: &Stored) -> Result<Vec<u8>, ApiError> {
        let api_version = rt.api_version();
        let p = Presented {
            api_version: &api_version,
            stored: s,
            list_item: false,
        };
        to_json(&p, OBJECT_JSON_CAPACITY)
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

    // ---- verbs --------------------------------------------------------------------------

    pub fn get(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Vec<u8>, ApiError> {
        let s = self.stored(rt, ns, name)?;
        Self::render(rt, s)
    }

    fn stored(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> Result<&Stored, ApiError> {
        self.objects
            .get(&Self::key(rt, ns, name))
            .ok_or_else(|| ApiError::not_found(&rt.plural, &rt.group, name))
    }

    /// A list in key order (namespace, name). With a `page`, at most `limit` items after
    /// the page's start, and a continue token when more remain.
    pub fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
        page: &Page,
    ) -> Result<Vec<u8>, ApiError> {
        let api_version = rt.api_version();
        let after = page.after()?;
        let mut matching = self
            .objects
            .iter()
            .filter(|((g, k, n, _), _)| {
                *g == rt.group && *k == rt.kind && ns.is_none_or(|ns| !rt.namespaced || n == ns)
            })
            .filter(|((_, _, n, name), _)| {
                after
                    .as_ref()
                    .is_none_or(|(an, aname)| (n.as_str(), name.as_str()) > (an, aname))
            })
            .filter(|(_, s)| labels.matches(&s.obj) && fields.matches(&s.obj));
        let mut items = Vec::new();
        let mut last = None;
        let mut more = false;
        for ((_, _, n, name), s) in matching.by_ref() {
            if page.limit.is_some_and(|limit| items.len() >= limit) {
                more = true;
                break;
            }
            last = Some((n.as_str(), name.as_str()));
            items.push(Presented {
                api_version: &api_version,
                stored: s,
                // Typed built-in lists carry no per-item apiVersion/kind; unstructured ones do.
                list_item: !rt.custom,
            });
        }
        let capacity = (items.len() + 1) * OBJECT_JSON_CAPACITY;
        let list = ListBody {
            api_version: &api_version,
            kind: format!("{}List", rt.kind),
            metadata: ListMeta {
                resource_version: self.rv.to_string(),
                continue_token: last.filter(|_| more).map(Page::token),
            },
            items,
        };
        to_json(&list, capacity)
    }

    /// Checks apiVersion, kind, name and namespace of a request body against the URL, and
    /// fills the namespace in.
    fn check_identity(
        rt: &ResourceType,
        ns: Option<&str>,
        name: Option<&str>,
        body: &mut Value,
    ) -> Result<(), ApiError> {
        if !body.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        let av = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind.is_empty() {
            return Err(ApiError::bad_request(
                "Object 'Kind' is missing in request body",
            ));
        }
        if av != rt.api_version() || kind != rt.kind {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({}) or the kind ({kind}) is not {}",
                rt.api_version(),
                rt.kind
            )));
        }
        let body_ns = meta_str(body, "namespace").map(str::to_string);
        let body_name = meta_str(body, "name").map(str::to_string);
        let meta =
            meta_mut(body).ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
        if rt.namespaced {
            match (body_ns.as_deref(), ns) {
                (Some(b), Some(u)) if !b.is_empty() && b != u => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                (_, Some(u)) => {
                    meta.insert("namespace".into(), Value::String(u.to_string()));
                }
                _ => {}
            }
        } else {
            meta.shift_remove("namespace");
        }
        if let Some(n) = name {
            match body_name.as_deref() {
                Some(b) if b != n => {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({b}) does not match the name on the URL ({n})"
                    )));
                }
                _ => {
                    meta.insert("name".into(), Value::String(n.to_string()));
                }
            }
        }
        Ok(())
    }

    pub fn create(
        &mut self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        mut body: Value,
        p: &WriteParams,
    ) -> Result<Vec<u8>, ApiError> {
        Self::check_identity(rt, ns, None, &mut body)?;
        if meta_str(&body, "name").unwrap_or_default().is_empty()
            && let Some(prefix) = meta_str(&body, "generateName").map(str::to_string)
            && let Some(m) = meta_mut(&mut body)
        {
            let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..5].to_string();
            m.insert("name".into(), Value::String(format!("{prefix}{suffix}")));
        }
        let name = meta_str(&body, "name").unwrap_or_default().to_string();
        let key = Self::key(rt, ns, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(&rt.plural, &rt.group, &name));
        }
        protect_status(rt, None, &mut body, p);
        let mut managed = Vec::new();
        let w = Writer {
            manager: &p.manager(),
            api_version: &rt.api_version(),
            now: &now(),
        };
        ssa::record_update(rt, None, &body, &mut managed, &w);
        self.commit(rt, key, body, managed, p.dry_run)
    }

    pub fn replace(
        &mut self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        name: &str,
        mut body: Value,
        p: &WriteParams,
    ) -> Result<Vec<u8>, ApiError> {
        Self::check_identity(rt, ns, Some(name), &mut body)?;
        let key = Self::key(rt, ns, name);
        let old = self.stored(rt, ns, name)?;
        self.check_precondition(rt, name, old, &body)?;
        protect_status(rt, Some(&old.obj), &mut body, p);
        let mut managed = old.managed.clone();
        let w = Writer {
            manager: &p.manager(),
            api_version: &rt.api_version(),
            now: &now(),
        };
        ssa::record_update(rt, Some(&old.obj), &body, &mut managed, &w);
        self.commit(rt, key, body, managed, p.dry_run)
    }

    /// Optimistic concurrency: a resourceVersion in the body must be the current one.
    fn check_precondition(
        &self,
        rt: &ResourceType,
        name: &str,
        old: &Stored,
        body: &Value,
    ) -> Result<(), ApiError> {
        match meta_str(body, "resourceVersion") {
            Some(rv) if !rv.is_empty() && Some(rv) != meta_str(&old.obj, "resourceVersion") => {
                Err(ApiError::stale(&rt.plural, &rt.group, name))
            }
            _ => Ok(()),
        }
    }

    /// PATCH in any of the supported formats; returns the status code (201 for an apply that
    /// created the object) and the object.
    pub fn patch(
        &mut self,
        rt: &Arc<ResourceType>,
        ns: Option<&str>,
        name: &str,
        kind: PatchKind,
        body: Value,
        p: &WriteParams,
    ) -> Result<(u16, Vec<u8>), ApiError> {
        if kind != PatchKind::Apply && p.force.is_some() {
            return Err(ApiError::invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                vec![Cause {
                    reason: "FieldValueForbidden".into(),
                    message: "Forbidden: may not be specified for non-apply patch".into(),
                    field: "force".into(),
                }],
            ));
        }
        if kind == PatchKind::Strategic && rt.custom {
            return Err(ApiError::unsupported_media_type(
                "application/strategic-merge-patch+json",
            ));
        }
        let key = Self::key(rt, ns, name);
        let old = self.objects.get(&key);
        let w = Writer {
            manager: &p.manager(),
            api_version: &rt.api_version(),
            now: &now(),
        };
        if kind == PatchKind::Apply {
            let Some(field_manager) = p.field_manager.as_deref() else {
                return Err(ApiError::invalid(
                    "PatchOptions",
                    "meta.k8s.io",
                    "",
                    vec![Cause {
                        reason: "FieldValueRequired".into(),
                        message: "Required value: is required for apply patch".into(),
                        field: "fieldManager".into(),
                    }],
                ));
            };
            let mut config = body;
            Self::check_identity(rt, ns, Some(name), &mut config)?;
            registry::drop_nulls(&mut config);
            let w = Writer {
                manager: field_manager,
                ..w
            };
            if let Some(old) = old {
                self.check_precondition(rt, name, old, &config)?;
            }
            // Apply configurations carry no server-populated metadata.
            if let Some(m) = meta_mut(&mut config) {
                m.shift_remove("resourceVersion");
                m.shift_remove("managedFields");
            }
            let live = old.map(|o| (&o.obj, o.managed.as_slice()));
            let applied = ssa::apply(rt, live, config, p.force.unwrap_or(false), &w)
                .map_err(|causes| ApiError::apply_conflict(&rt.plural, &rt.group, name, causes))?;
            let code = if old.is_some() { 200 } else { 201 };
            let mut object = applied.object;
            protect_status(rt, old.map(|o| &o.obj), &mut object, p);
            let obj = self.commit(rt, key, object, applied.managed, p.dry_run)?;
            return Ok((code, obj));
        }
        let Some(old) = old else {
            return Err(ApiError::not_found(&rt.plural, &rt.group, name));
        };
        let mut obj = Self::present(rt, old)?;
        match kind {
            PatchKind::Merge => json_patch::merge(&mut obj, &body),
            PatchKind::Strategic => patch::strategic_merge(rt, &mut obj, &body),
            PatchKind::Json => patch::json_patch(&mut obj, body).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?,
            PatchKind::Apply => {}
        }
        if meta_str(&obj, "name") != Some(name)
            || (rt.namespaced && meta_str(&obj, "namespace") != ns)
        {
            return Err(ApiError::invalid(
                &rt.kind,
                &rt.group,
                name,
                vec![Cause {
                    reason: "FieldValueInvalid".into(),
                    message: "Invalid value: field is immutable".into(),
                    field: "metadata.name".into(),
                }],
            ));
        }
        self.check_precondition(rt, name, old, &obj)?;
        protect_status(rt, Some(&old.obj), &mut obj, p);
        if let Some(m) = meta_mut(&mut obj) {
            m.shift_remove("managedFields");
        }
        if rt.custom {
            registry::drop_nulls(&mut obj);
        }
        let mut managed = old.managed.clone();
        ssa::record_update(rt, Some(&old.obj), &obj, &mut managed, &w);
        Ok((200, self.commit(rt, key, obj, managed, p.dry_run)?))
    }

    pub fn delete(
        &mut self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        dry_run: bool,
    ) -> Result<Vec<u8>, ApiError> {
        let old = self.stored(rt, ns, name)?;
        // Custom resources and namespaces answer with the object, other built-ins with a
        // Success Status (ReturnDeletedObject in their registries).
        let answer = if rt.custom || rt.kind == "Namespace" {
            Self::render(rt, old)?
        } else {
            to_json(
                &json!({
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": {
                        "name": name,
                        "group": rt.group,
                        "kind": rt.plural,
                        "uid": meta_str(&old.obj, "uid").unwrap_or_default(),
                    },
                }),
                OBJECT_JSON_CAPACITY,
            )?
        };
        if !dry_run {
            self.remove_object(&Self::key(rt, ns, name));
        }
        Ok(answer)
    }

    /// Removes an object and what goes with it: a namespace's objects, a CRD's types and
    /// custom resources (a real server does both asynchronously).
    fn remove_object(&mut self, key: &Key) {
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
    fn commit(
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
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
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

    // ---- the simulator-side interface ---------------------------------------------------

    fn actor_type(&self, api_version: &str, kind: &str) -> Result<Arc<ResourceType>, KubeSimError> {
        self.find_gvk(api_version, kind).ok_or_else(|| {
            KubeSimError::Rejected(format!(
                "no resource type {kind} in {api_version} (is its CRD installed?)"
            ))
        })
    }

    /// Create-or-replace by another actor (manager `charm-sim`, operation Update).
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
        let p = WriteParams {
            field_manager: Some(ACTOR.into()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str) -> RecordedRequest {
        RecordedRequest {
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            status: 200,
            content_type: None,
            body: None,
        }
    }

    #[test]
    fn presented_sets_api_version_in_place_and_managed_fields_last() {
        use super::super::fields::PathElem;
        use super::super::ssa::Operation;
        let path = |p: &[&str]| p.iter().map(|f| PathElem::Field(f.to_string())).collect();
        let stored = Stored {
            obj: json!({"apiVersion": "g/v1", "kind": "K",
                "metadata": {"name": "a", "uid": "u"}, "spec": {"x": 1}}),
            managed: vec![ManagedEntry {
                manager: "m".into(),
                operation: Operation::Apply,
                api_version: "g/v1".into(),
                time: "t".into(),
                fields: [path(&["spec", "x"])].into_iter().collect(),
            }],
        };
        let managed = r#""managedFields":[{"manager":"m","operation":"Apply","apiVersion":"g/v1","time":"t","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:x":{}}}}]"#;
        let text = |list_item| {
            let p = Presented {
                api_version: "g/v2",
                stored: &stored,
                list_item,
            };
            serde_json::to_string(&p).expect("serializes")
        };
        assert_eq!(
            text(false),
            format!(
                r#"{{"apiVersion":"g/v2","kind":"K","metadata":{{"name":"a","uid":"u",{managed}}},"spec":{{"x":1}}}}"#
            )
        );
        assert_eq!(
            text(true),
            format!(r#"{{"metadata":{{"name":"a","uid":"u",{managed}}},"spec":{{"x":1}}}}"#)
        );
    }

    #[test]
    fn requests_are_listed_in_arrival_order() {
        let mut st = State::new();
        let (first, _) = st.arrive("GET", "/held");
        let (second, _) = st.arrive("GET", "/quick");
        // The held request is answered last, yet listed first.
        st.record(second, req("/quick"));
        st.record(first, req("/held"));
        let paths: Vec<String> = st.take_requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/held", "/quick"]);
        assert!(st.take_requests().is_empty());
    }
}
