//! The verbs as the HTTP layer calls them: get, list (with paging), create, replace, patch
//! (apply, strategic merge, merge, JSON) and delete.

use std::sync::Arc;

use serde_json::{Value, json};

use super::serialize::{ListBody, ListMeta, OBJECT_JSON_CAPACITY, Presented, to_json};
use super::{State, Stored, meta_mut, meta_str, now};
use crate::kube::patch;
use crate::kube::registry::{self, ResourceType};
use crate::kube::selector::{FieldSelector, LabelSelector};
use crate::kube::ssa::{self, Writer};
use crate::kube::status::{ApiError, Cause};

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
    pub fn get(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Vec<u8>, ApiError> {
        let s = self.stored(rt, ns, name)?;
        Self::render(rt, s)
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
}
