//! Connections, routing, fault injection, request recording and discovery documents.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::RecordedRequest;
use super::fault::FaultError;
use super::openapi;
use super::registry::{ResourceType, prune_and_default};
use super::selector::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{Page, PatchKind, State, WriteParams};
use super::table;

/// How long a "timeout" fault holds a request before answering 504.
const FAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The largest request body accepted.
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Marks a request whose connection must be dropped without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection reset by injected fault")]
struct ResetConnection;

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Accepts connections until `shutdown` fires.
pub(crate) async fn serve(
    listener: std::net::TcpListener,
    state: Arc<Mutex<State>>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("kube API server cannot listen: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        continue;
                    }
                };
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| handle(Arc::clone(&state), req));
                    // Errors here are client disconnects and injected resets.
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await
                    {
                        tracing::debug!("connection ended: {e}");
                    }
                });
            }
        }
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Query values decoded as `application/x-www-form-urlencoded`.
fn query_params(query: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// A request body as JSON, or YAML for the yaml media types (apply patches). Protobuf and
/// CBOR bodies (client-go's typed clients send built-in kinds as protobuf, e.g. `kubectl
/// create namespace`) are refused with 415, as a server that does not speak them would.
fn parse_body(content_type: Option<&str>, bytes: &[u8]) -> Result<Value, ApiError> {
    if content_type.is_some_and(|c| c.contains("protobuf") || c.contains("cbor")) {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {:?})",
                content_type.unwrap_or_default()
            ),
        ));
    }
    if content_type.is_some_and(|c| c.contains("yaml")) {
        if let Some(v) = yaml_as_json(bytes) {
            return Ok(v);
        }
        return serde_yaml_ng::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the object provided is unrecognized (body is not valid JSON: {e})"
        ))
    })
}

/// A YAML body that is plain JSON text (what kube-rs sends as an apply patch) read by the
/// JSON parser, many times cheaper than the YAML one. Only text both parsers read alike is
/// taken: one line of printable ASCII without escapes or runs of spaces, holding an object
/// with no floats (the parsers may round differently), keys well short of libyaml's limit of
/// 1024 characters from a key to its `:` (no runs of spaces: nothing else can sit between
/// them), and nesting well inside both parsers' depth limit of 128. Anything else (`None`)
/// goes to the YAML parser.
fn yaml_as_json(bytes: &[u8]) -> Option<Value> {
    let plain = bytes.first() == Some(&b'{')
        && bytes
            .iter()
            .all(|b| (b' '..=b'~').contains(b) && *b != b'\\')
        && !bytes.windows(2).any(|w| w == b"  ");
    if !plain {
        return None;
    }
    let v: Value = serde_json::from_slice(bytes).ok()?;
    read_alike(&v, 0).then_some(v)
}

fn read_alike(v: &Value, depth: usize) -> bool {
    match v {
        Value::Number(n) => !n.is_f64(),
        Value::Array(a) => depth < 100 && a.iter().all(|i| read_alike(i, depth + 1)),
        Value::Object(m) => {
            depth < 100
                && m.iter()
                    .all(|(k, i)| k.len() < 1000 && read_alike(i, depth + 1))
        }
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

fn json_response(code: u16, body: &Value) -> Response<Full<Bytes>> {
    json_bytes_response(code, body.to_string().into_bytes())
}

fn json_bytes_response(code: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error_response(e: &ApiError) -> Response<Full<Bytes>> {
    let mut r = json_response(e.code, &e.body());
    if let Some(s) = e.details.retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(s));
    }
    r
}

/// What a real apiserver answers for a path no handler claims (an unknown group/version).
fn page_not_found() -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(b"404 page not found\n")));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let method = req.method().clone();
    let raw_path = req.uri().path().to_string();
    let raw_query = req.uri().query().unwrap_or_default().to_string();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Read it all (stopping early would cut the connection before the answer), then refuse
    // bodies over the apiserver's 3 MiB limit.
    let (bytes, too_large) = match req.into_body().collect().await {
        Ok(b) => {
            let b = b.to_bytes();
            if b.len() > MAX_BODY {
                (Bytes::new(), true)
            } else {
                (b, false)
            }
        }
        Err(e) => {
            tracing::debug!("request body unreadable: {e}");
            (Bytes::new(), false)
        }
    };
    // Parsed once: the record keeps a copy, the handler consumes the original.
    let body = (!bytes.is_empty()).then(|| parse_body(content_type.as_deref(), &bytes));
    let mut record = RecordedRequest {
        method: method.to_string(),
        path: decode(&raw_path),
        // Queries are form-encoded: '+' is a space.
        query: decode(&raw_query.replace('+', " ")),
        status: 0,
        content_type: content_type.clone(),
        body: body.as_ref().and_then(|b| b.as_ref().ok()).cloned(),
    };

    let (arrival, fault) = lock(&state).arrive(method.as_str(), &record.path);
    // A fault `after` the request lets it through, then replaces its answer.
    let (fault, after) = match fault {
        Some(f) if f.after => (None, Some(f.error)),
        f => (f.map(|f| f.error), None),
    };
    let response = match fault {
        Some(FaultError::Reset) => {
            lock(&state).record(arrival, record);
            return Err(ResetConnection);
        }
        Some(FaultError::Timeout) => {
            tokio::time::sleep(FAULT_TIMEOUT).await;
            error_response(&ApiError::timeout())
        }
        Some(FaultError::Status(code)) => error_response(&ApiError::injected(code)),
        None if too_large => error_response(&ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {MAX_BODY}"),
        )),
        None => {
            let mut ctx = Ctx {
                method: &method,
                query: query_params(&raw_query),
                content_type: content_type.as_deref(),
                user_agent,
                accept,
                body,
            };
            let mut st = lock(&state);
            route(&mut st, &raw_path, &mut ctx)
        }
    };
    let response = match after {
        None => response,
        Some(FaultError::Reset) => {
            lock(&state).record(arrival, record);
            return Err(ResetConnection);
        }
        Some(FaultError::Timeout) => {
            tokio::time::sleep(FAULT_TIMEOUT).await;
            error_response(&ApiError::timeout())
        }
        Some(FaultError::Status(code)) => error_response(&ApiError::injected(code)),
    };
    record.status = response.status().as_u16();
    lock(&state).record(arrival, record);
    Ok(response)
}

struct Ctx<'a> {
    method: &'a Method,
    query: BTreeMap<String, String>,
    content_type: Option<&'a str>,
    user_agent: Option<String>,
    accept: Option<String>,
    /// The parsed body; `None` when the request had none (or it was already taken).
    body: Option<Result<Value, ApiError>>,
}

impl Ctx<'_> {
    fn write_params(&self) -> Result<WriteParams, ApiError> {
        let force = match self.query.get("force").map(String::as_str) {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "invalid value for force: {other:?}"
                )));
            }
        };
        let field_manager = self
            .query
            .get("fieldManager")
            .cloned()
            .filter(|m| !m.is_empty());
        if field_manager.as_ref().is_some_and(|m| m.len() > 128) {
            return Err(ApiError::bad_request(
                "fieldManager: Too long: must have at most 128 bytes",
            ));
        }
        Ok(WriteParams {
            field_manager,
            force,
            dry_run: self.query.get("dryRun").is_some_and(|d| d == "All"),
            user_agent: self.user_agent.clone(),
            actor: false,
        })
    }

    /// Takes the body; an empty one is decoded here, for the decoder's own error.
    fn json_body(&mut self) -> Result<Value, ApiError> {
        self.body
            .take()
            .unwrap_or_else(|| parse_body(self.content_type, &[]))
    }
}

/// The parts of a resource URL after `/api/v1` or `/apis/<g>/<v>`.
struct ResourcePath<'a> {
    namespace: Option<String>,
    plural: &'a str,
    name: Option<String>,
    subresource: Option<&'a str>,
}

fn resource_path<'a>(segs: &[&'a str]) -> Option<ResourcePath<'a>> {
    let (namespace, segs) = match segs {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(decode(ns)), rest),
        _ => (None, segs),
    };
    match segs {
        [plural, rest @ ..] => Some(ResourcePath {
            namespace,
            plural,
            name: rest.first().map(|n| decode(n)),
            subresource: match rest {
                [_] | [] => None,
                [_, sub] => Some(sub),
                _ => return None,
            },
        }),
        [] => None,
    }
}

fn route(st: &mut State, raw_path: &str, ctx: &mut Ctx<'_>) -> Response<Full<Bytes>> {
    let segs: Vec<&str> = raw_path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest): (String, &str, &[&str]) = match segs.as_slice() {
        ["version"] => return json_response(200, &version_info()),
        ["api"] => {
            return json_response(
                200,
                &json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
            );
        }
        ["apis"] => return json_response(200, &group_list(st)),
        ["openapi", "v3"] => return json_response(200, &openapi::v3_root(st.types())),
        ["openapi", "v3", gv @ ..] => {
            return match openapi::v3_group_version(st.types(), &gv.join("/")) {
                Some(doc) => json_response(200, &doc),
                None => page_not_found(),
            };
        }
        ["openapi", "v2"] => {
            // client-go asks for protobuf; anything else gets JSON.
            if ctx
                .accept
                .as_deref()
                .is_some_and(|a| a.contains("protobuf"))
            {
                let mut r = Response::new(Full::new(Bytes::from(openapi::v2_protobuf(st.types()))));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static(openapi::V2_PROTOBUF_TYPE),
                );
                return r;
            }
            return json_response(200, &openapi::v2(st.types()));
        }
        ["apis", g] => {
            return match group_doc(st, g) {
                Some(doc) => json_response(200, &doc),
                None => page_not_found(),
            };
        }
        ["api", "v1", rest @ ..] => (String::new(), "v1", rest),
        ["apis", g, v, rest @ ..] => (decode(g), *v, rest),
        _ => return page_not_found(),
    };
    if !st.group_version_known(&group, version) {
        return page_not_found();
    }
    if rest.is_empty() {
        return json_response(200, &resource_list(st, &group, version));
    }
    let Some(rp) = resource_path(rest) else {
        return error_response(&ApiError::no_resource());
    };
    let Some(rt) = st.find_type(&group, version, rp.plural) else {
        // Built-in groups answer a JSON NotFound; a CRD group's handler delegates unknown
        // resources to the apiserver's plain-text 404 page.
        return if st.types().iter().any(|t| t.group == group && !t.custom) {
            error_response(&ApiError::no_resource())
        } else {
            page_not_found()
        };
    };
    // Namespaced URL for a cluster-scoped kind, or a subresource: not served here.
    if (rp.namespace.is_some() && !rt.namespaced) || rp.subresource.is_some() {
        return error_response(&ApiError::no_resource());
    }
    match dispatch(st, &rt, &rp, ctx) {
        // Server-side printing, for custom resources (see `table`).
        Ok((200, body))
            if ctx.method == Method::GET
                && rt.custom
                && ctx.accept.as_deref().is_some_and(table::wanted) =>
        {
            let Ok(v) = serde_json::from_slice::<Value>(&body) else {
                return error_response(&ApiError::internal("unreadable list"));
            };
            let include = ctx
                .query
                .get("includeObject")
                .map_or("Metadata", String::as_str);
            let t = table::table(&rt, &v, include, jiff::Timestamp::now());
            let mut r = json_response(200, &t);
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(table::CONTENT_TYPE),
            );
            r
        }
        Ok((code, body)) => json_bytes_response(code, body),
        Err(e) => error_response(&e),
    }
}

fn dispatch(
    st: &mut State,
    rt: &Arc<ResourceType>,
    rp: &ResourcePath<'_>,
    ctx: &mut Ctx<'_>,
) -> Result<(u16, Vec<u8>), ApiError> {
    let ns = rp.namespace.as_deref();
    // A namespaced kind addressed by name needs its namespace in the URL.
    if rt.namespaced && rp.name.is_some() && ns.is_none() {
        return Err(ApiError::no_resource());
    }
    if ctx
        .query
        .get("watch")
        .is_some_and(|w| w == "true" || w == "1")
    {
        return Err(ApiError::method_not_allowed("watch (not simulated)"));
    }
    match (&rp.name, ctx.method) {
        (None, &Method::GET) => {
            let labels = LabelSelector::parse(
                ctx.query
                    .get("labelSelector")
                    .map(String::as_str)
                    .unwrap_or_default(),
            )
            .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
            let fields = FieldSelector::parse(
                ctx.query
                    .get("fieldSelector")
                    .map(String::as_str)
                    .unwrap_or_default(),
            )
            .map_err(ApiError::bad_request)?;
            let limit = match ctx.query.get("limit").map(|l| l.parse::<i64>()) {
                None => None,
                // limit=0 (or negative) means no limit, as upstream.
                Some(Ok(l)) => usize::try_from(l).ok().filter(|l| *l > 0),
                Some(Err(e)) => return Err(ApiError::bad_request(format!("limit: {e}"))),
            };
            let page = Page {
                limit,
                continue_token: ctx.query.get("continue").cloned().filter(|c| !c.is_empty()),
            };
            Ok((200, st.list(rt, ns, &labels, &fields, &page)?))
        }
        (None, &Method::POST) => {
            if rt.namespaced && ns.is_none() {
                return Err(ApiError::method_not_allowed("POST"));
            }
            let p = ctx.write_params()?;
            let body = ctx.json_body()?;
            strict_fields(ctx, rt, &body)?;
            Ok((201, st.create(rt, ns, body, &p)?))
        }
        (Some(name), &Method::GET) => Ok((200, st.get(rt, ns, name)?)),
        (Some(name), &Method::PUT) => {
            let p = ctx.write_params()?;
            let body = ctx.json_body()?;
            strict_fields(ctx, rt, &body)?;
            Ok((200, st.replace(rt, ns, name, body, &p)?))
        }
        (Some(name), &Method::PATCH) => {
            let ct = ctx.content_type.unwrap_or_default();
            let media = ct.split(';').next().unwrap_or_default().trim();
            let kind = match media {
                "application/apply-patch+yaml" => PatchKind::Apply,
                "application/strategic-merge-patch+json" => PatchKind::Strategic,
                "application/merge-patch+json" => PatchKind::Merge,
                "application/json-patch+json" => PatchKind::Json,
                _ => return Err(ApiError::unsupported_media_type(ct)),
            };
            let p = ctx.write_params()?;
            let body = ctx.json_body()?;
            if kind == PatchKind::Apply {
                apply_fields_declared(rt, &body)?;
            }
            st.patch(rt, ns, name, kind, body, &p)
        }
        (Some(name), &Method::DELETE) => {
            let dry_run = ctx.query.get("dryRun").is_some_and(|d| d == "All");
            Ok((200, st.delete(rt, ns, name, dry_run)?))
        }
        (_, m) => Err(ApiError::method_not_allowed(m.as_str())),
    }
}

/// The fields of a custom resource body that its schema does not declare (what pruning would
/// drop), as paths: `spec.rules[0].bogus`. Empty for built-in kinds (no schema here).
fn undeclared_fields(rt: &ResourceType, body: &Value) -> Vec<String> {
    fn walk(before: &Value, after: &Value, path: &str, out: &mut Vec<String>) {
        match (before, after) {
            (Value::Object(b), Value::Object(a)) => {
                for (k, v) in b {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    match a.get(k) {
                        Some(av) => walk(v, av, &p, out),
                        None => out.push(p),
                    }
                }
            }
            (Value::Array(b), Value::Array(a)) => {
                for (i, (bv, av)) in b.iter().zip(a).enumerate() {
                    walk(bv, av, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let Some(schema) = rt.schema.as_ref() else {
        return Vec::new();
    };
    let mut pruned = body.clone();
    prune_and_default(&schema.pruning_root, &mut pruned);
    let mut out = Vec::new();
    walk(body, &pruned, "", &mut out);
    out
}

/// `fieldValidation=Strict` (kubectl's default) on a create or replace: undeclared fields
/// are refused with the decoder's error instead of pruned.
fn strict_fields(ctx: &Ctx<'_>, rt: &ResourceType, body: &Value) -> Result<(), ApiError> {
    if ctx.query.get("fieldValidation").map(String::as_str) != Some("Strict") {
        return Ok(());
    }
    let unknown = undeclared_fields(rt, body);
    if unknown.is_empty() {
        return Ok(());
    }
    let fields: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    Err(ApiError::bad_request(format!(
        "{kind} in version {v:?} cannot be handled as a {kind}: strict decoding error: {}",
        fields.join(", "),
        kind = rt.kind,
        v = rt.version,
    )))
}

/// An apply patch is converted to the kind's typed schema whatever `fieldValidation` says:
/// a field the schema does not declare fails the request (a real server answers 500 with no
/// reason, from structured-merge-diff).
fn apply_fields_declared(rt: &ResourceType, body: &Value) -> Result<(), ApiError> {
    let unknown = undeclared_fields(rt, body);
    if unknown.is_empty() {
        return Ok(());
    }
    let errors: Vec<String> = unknown
        .iter()
        .map(|f| format!(".{f}: field not declared in schema"))
        .collect();
    let meta = &body["metadata"];
    let errors = match errors.as_slice() {
        [one] => one.clone(),
        many => format!("errors:\n  {}", many.join("\n  ")),
    };
    Err(ApiError::new(
        500,
        "",
        format!(
            "failed to create typed patch object ({}/{}; {}/{}, Kind={}): {errors}",
            meta["namespace"].as_str().unwrap_or_default(),
            meta["name"].as_str().unwrap_or_default(),
            rt.group,
            rt.version,
            rt.kind,
        ),
    ))
}

/// The version `/version` reports (and the OpenAPI documents carry).
pub(super) const GIT_VERSION: &str = "v1.33.0-charm-sim";

fn version_info() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": GIT_VERSION,
        "gitCommit": "", "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z",
        "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64",
    })
}

fn versions_of(st: &State, group: &str) -> Vec<String> {
    let mut vs: Vec<String> = Vec::new();
    // Storage version first: it is the preferred one.
    for t in st.types().iter().filter(|t| t.group == group) {
        if !vs.contains(&t.version) {
            if t.storage {
                vs.insert(0, t.version.clone());
            } else {
                vs.push(t.version.clone());
            }
        }
    }
    vs
}

fn group_doc(st: &State, group: &str) -> Option<Value> {
    if group.is_empty() {
        return None;
    }
    let vs = versions_of(st, group);
    let first = vs.first()?;
    let gv = |v: &String| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    Some(json!({
        "kind": "APIGroup", "apiVersion": "v1", "name": group,
        "versions": vs.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": gv(first),
    }))
}

fn group_list(st: &State) -> Value {
    let mut groups: Vec<String> = Vec::new();
    for t in st.types() {
        if !t.group.is_empty() && !groups.contains(&t.group) {
            groups.push(t.group.clone());
        }
    }
    let docs: Vec<Value> = groups.iter().filter_map(|g| group_doc(st, g)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": docs})
}

fn resource_list(st: &State, group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let resources: Vec<Value> = st
        .types()
        .iter()
        .filter(|t| t.group == group && t.version == version)
        .map(|t| {
            let mut r = json!({
                "name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                "kind": t.kind, "shortNames": t.short_names,
                "verbs": ["create", "delete", "get", "list", "patch", "update"],
            });
            if !t.categories.is_empty() {
                r["categories"] = json!(t.categories);
            }
            r
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(bytes: &[u8]) -> Option<Value> {
        serde_yaml_ng::from_slice(bytes).ok()
    }

    /// A deterministic assortment of JSON values: nested objects and lists, strings with
    /// YAML indicators, ints at the edges of their ranges, booleans and nulls.
    fn sample(seed: &mut u64, depth: usize) -> Value {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let pick = (*seed >> 33) as usize;
        const STRS: [&str; 10] = [
            "", "a", "true", "null", "~", "- x", "a: b", "#c", "{x}", "0123",
        ];
        const INTS: [i128; 6] = [
            0,
            1,
            -1,
            i64::MIN as i128,
            i64::MAX as i128,
            u64::MAX as i128,
        ];
        match (depth, pick % 7) {
            (d, 0 | 1) if d < 4 => Value::Object(
                (0..pick % 4)
                    .map(|i| {
                        (
                            format!("{}{i}", STRS[(pick >> 3) % 10]),
                            sample(seed, d + 1),
                        )
                    })
                    .collect(),
            ),
            (d, 2) if d < 4 => Value::Array((0..pick % 4).map(|_| sample(seed, d + 1)).collect()),
            (_, 3) => json!(INTS[(pick >> 3) % 6]),
            (_, 4) => Value::Bool(pick.is_multiple_of(2)),
            (_, 5) => Value::Null,
            _ => Value::String(STRS[(pick >> 3) % 10].to_string()),
        }
    }

    #[test]
    fn yaml_bodies_read_as_json_only_where_yaml_agrees() {
        let mut seed = 7;
        let mut taken = 0;
        for _ in 0..2000 {
            let v = json!({"apiVersion": "v1", "data": sample(&mut seed, 0)});
            // Compact (kube-rs) and with Python's default separators.
            let compact = v.to_string();
            let spaced = compact.replace(',', ", ").replace(':', ": ");
            for text in [compact, spaced] {
                if let Some(fast) = yaml_as_json(text.as_bytes()) {
                    taken += 1;
                    assert_eq!(Some(fast), yaml(text.as_bytes()), "{text}");
                }
            }
        }
        assert!(
            taken > 3000,
            "the fast path should take most samples, took {taken}"
        );
    }

    #[test]
    fn yaml_bodies_the_json_reader_leaves_to_yaml() {
        let long_key = format!("{{\"{}\":1}}", "k".repeat(2000));
        for text in [
            "{\"a\":1.5}",
            "{\"a\":1e3}",
            "{\"a\":\"\\ud83d\\ude00\"}",
            "{\"a\":\"x\\u0000\"}",
            "{\"a\"  :1}",
            "{\"a\":\n1}",
            "\t{\"a\":1}",
            "{\"a\":\"\u{e9}\"}",
            "[1]",
            "a: 1",
            long_key.as_str(),
        ] {
            assert_eq!(yaml_as_json(text.as_bytes()), None, "{text}");
        }
    }
}
