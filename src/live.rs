//! Reading the world (the thin I/O edge): owned objects, our labels, the namespace, the
//! waypoint Deployment, and the metrics-proxy Pebble plan. Only reads here.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::{Value, json};

use beacon_core::desired::Desired;
use beacon_core::kinds::{
    INSTANCE_LABEL, Kind, ObjectKey, SCOPE_LABEL, Scope, labels_at, labels_of,
};
use beacon_core::names::Names;
use beacon_core::plan::{Labels, Live, LiveObject};

/// A Kubernetes failure, sorted by what the hook should do about it.
#[derive(Debug, thiserror::Error)]
pub enum KubeFailure {
    /// Retrying can help (unreachable API, 5xx, 429, 409): the hook exits non-zero.
    #[error("{what}: {detail}")]
    Retryable { what: String, detail: String },
    /// Retrying cannot help until an operator acts: BlockedStatus, exit 0.
    #[error("{0}")]
    Blocked(String),
}

/// Sort a failed request. 403 means the charm lacks RBAC; other 4xx (except 409/429) mean
/// the request itself is wrong and will stay wrong.
pub fn classify(what: &str, err: kube::Error) -> KubeFailure {
    let retry = |detail: String| KubeFailure::Retryable {
        what: what.to_owned(),
        detail,
    };
    match &err {
        kube::Error::Api(status) => match status.code {
            403 => KubeFailure::Blocked(format!("{what} forbidden: did you deploy with --trust?")),
            code @ (409 | 429 | 500..=599) => retry(format!("HTTP {code}: {}", status.message)),
            code => {
                KubeFailure::Blocked(format!("{what} failed (HTTP {code}): {}", status.message))
            }
        },
        // Transport errors, timeouts, undecodable answers: the API server may be unreachable.
        _ => retry(err.to_string()),
    }
}

/// The HTTP status of an API error, if it is one.
pub fn api_code(err: &kube::Error) -> Option<u16> {
    match err {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// A namespace or name as one URL path segment: everything but RFC 3986's unreserved
/// characters is percent-encoded. The kube client joins names into paths as they are, so
/// every name and namespace we send goes through here (they are validated before, too).
pub fn segment(s: &str) -> std::borrow::Cow<'_, str> {
    const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    match s {
        // Unreserved, but a path step of their own: never a segment that moves the path.
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => percent_encoding::utf8_percent_encode(s, ESCAPED).into(),
    }
}

pub fn resource(kind: Kind) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(kind.group(), kind.version(), kind.name()),
        kind.plural(),
    )
}

fn builtin(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

pub fn namespace_resource() -> ApiResource {
    builtin("", "v1", "Namespace", "namespaces")
}
pub fn configmap_resource() -> ApiResource {
    builtin("", "v1", "ConfigMap", "configmaps")
}
pub fn statefulset_resource() -> ApiResource {
    builtin("apps", "v1", "StatefulSet", "statefulsets")
}
pub fn service_resource() -> ApiResource {
    builtin("", "v1", "Service", "services")
}
fn deployment_resource() -> ApiResource {
    builtin("apps", "v1", "Deployment", "deployments")
}

/// The CRD a kind comes from, for the Blocked message when it is missing.
fn missing_crd_message(kind: Kind) -> String {
    let hint = match kind {
        Kind::Gateway => "is the Gateway API installed?",
        Kind::TrafficTarget | Kind::HttpRouteGroup | Kind::TcpRoute => {
            "are the SMI CRDs installed (mesh-backend=smi)?"
        }
        Kind::ServiceIntentions => "is Consul installed (mesh-backend=consul)?",
        Kind::LinkerdServer
        | Kind::LinkerdAuthorizationPolicy
        | Kind::MeshTlsAuthentication
        | Kind::LinkerdHttpRoute => "is Linkerd installed (mesh-backend=linkerd)?",
        _ => "is Istio installed?",
    };
    format!(
        "{} CRD ({}) not found: {hint}",
        kind.name(),
        kind.api_version()
    )
}

/// Label selector for objects we own in the given scopes, including the legacy owner value.
pub fn owner_selector(names: &Names, scopes: &[Scope]) -> String {
    let mut owners = vec![names.instance.as_str()];
    owners.extend(names.legacy_instance.as_deref());
    let scopes: Vec<&str> = scopes.iter().map(|s| s.label()).collect();
    format!(
        "{INSTANCE_LABEL} in ({}),{SCOPE_LABEL} in ({})",
        owners.join(","),
        scopes.join(",")
    )
}

/// A list response: only its items matter here (a body without them is a decode error).
#[derive(serde::Deserialize)]
struct ListBody {
    items: Vec<ListItem>,
}

/// What the plan compares of an owned object: its identity, labels and spec. The rest
/// (managedFields above all, status) is skipped while parsing: with thousands of policies
/// it would dominate the hook's memory.
#[derive(serde::Deserialize)]
struct ListItem {
    metadata: ItemMeta,
    spec: Option<Value>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemMeta {
    name: String,
    namespace: Option<String>,
    labels: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    managed_fields: Vec<ManagedBy>,
}

/// Of a `managedFields` entry, only who: the field sets are skipped while parsing.
#[derive(serde::Deserialize)]
struct ManagedBy {
    #[serde(default)]
    manager: String,
}

/// A policy list: identity, labels and resourceVersion typed, the spec kept as raw JSON;
/// everything else (managedFields above all) skipped while parsing. Thousands of policies
/// are listed on every hook, and most are never looked at more closely.
#[derive(serde::Deserialize)]
struct Page<T> {
    items: Vec<T>,
    #[serde(default)]
    metadata: ListMeta,
}

#[derive(serde::Deserialize, Default)]
struct ListMeta {
    #[serde(rename = "continue")]
    continue_token: Option<String>,
}

fn managers(entries: Vec<ManagedBy>) -> Vec<String> {
    entries.into_iter().map(|e| e.manager).collect()
}

/// Policies per LIST page: the hook holds one page's response at a time.
const POLICY_PAGE: u32 = 500;

#[derive(serde::Deserialize)]
struct PolicyItem {
    metadata: PolicyMeta,
    spec: Option<Box<serde_json::value::RawValue>>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyMeta {
    name: String,
    namespace: Option<String>,
    #[serde(default)]
    labels: Labels,
    resource_version: Option<String>,
    #[serde(default)]
    managed_fields: Vec<ManagedBy>,
}

/// The LIST request of `kind` in `namespace` (all namespaces: `None`).
fn list_request(
    kind: Kind,
    namespace: Option<&str>,
    params: &ListParams,
) -> Result<http::Request<Vec<u8>>, KubeFailure> {
    let namespace = namespace.map(segment);
    let path = <DynamicObject as kube::Resource>::url_path(&resource(kind), namespace.as_deref());
    kube::core::Request::new(path).list(params).map_err(|e| {
        classify(
            &format!("list {}", kind.plural()),
            kube::Error::BuildRequest(e),
        )
    })
}

/// LIST `kind` in `namespace` (all: `None`) in pages of [`POLICY_PAGE`], each item decoded as
/// `T` and turned into an `O` before the next page is read. `Ok(None)`: the CRD is missing.
async fn list_paged<T: serde::de::DeserializeOwned, O>(
    client: &Client,
    kind: Kind,
    namespace: Option<&str>,
    params: ListParams,
    mut convert: impl FnMut(T) -> O,
) -> Result<Option<Vec<O>>, KubeFailure> {
    let mut params = params.limit(POLICY_PAGE);
    let mut out = Vec::new();
    loop {
        let request = list_request(kind, namespace, &params)?;
        let page = match client.request::<Page<T>>(request).await {
            Ok(page) => page,
            Err(e) if api_code(&e) == Some(404) => return Ok(None),
            Err(e) => {
                let what = match namespace {
                    Some(ns) => format!("list {} in {ns}", kind.plural()),
                    None => format!("list {}", kind.plural()),
                };
                return Err(classify(&what, e));
            }
        };
        out.extend(page.items.into_iter().map(&mut convert));
        match page.metadata.continue_token.filter(|t| !t.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(Some(out)),
        }
    }
}

/// LIST owned objects of `kind` (AuthorizationPolicies, a `mesh-backend`'s kinds) across
/// all namespaces, paged, each as a [`LiveObject`] (its spec parsed only if compared).
/// `Ok(None)`: the CRD is missing.
pub async fn list_live(
    client: &Client,
    kind: Kind,
    selector: &str,
) -> Result<Option<Vec<LiveObject>>, KubeFailure> {
    let params = ListParams::default().labels(selector);
    list_paged(client, kind, None, params, |item: PolicyItem| LiveObject {
        key: ObjectKey {
            kind,
            namespace: item.metadata.namespace.unwrap_or_default(),
            name: item.metadata.name,
        },
        labels: item.metadata.labels,
        managers: managers(item.metadata.managed_fields),
        resource_version: item.metadata.resource_version,
        spec: item.spec,
    })
    .await
}

/// LIST owned objects of one kind across all namespaces. `Ok(None)`: the CRD is missing.
pub async fn list_owned(
    client: &Client,
    kind: Kind,
    selector: &str,
) -> Result<Option<Vec<Value>>, KubeFailure> {
    // The list is decoded straight into JSON values: going through `DynamicObject` (a
    // flattened serde type) and back costs more than the rest of a no-op reconcile.
    let params = ListParams::default().labels(selector);
    match client
        .request::<ListBody>(list_request(kind, None, &params)?)
        .await
    {
        Ok(list) => {
            let out = list
                .items
                .into_iter()
                .map(|item| {
                    // List items may omit apiVersion/kind; identity needs them.
                    let mut obj = json!({
                        "apiVersion": kind.api_version(),
                        "kind": kind.name(),
                        "metadata": {"name": item.metadata.name},
                    });
                    if let Some(ns) = item.metadata.namespace {
                        obj["metadata"]["namespace"] = Value::String(ns);
                    }
                    if let Some(labels) = item.metadata.labels {
                        obj["metadata"]["labels"] = Value::Object(labels);
                    }
                    // Who wrote it: only what proves it ours to delete.
                    let managers = managers(item.metadata.managed_fields);
                    obj["metadata"]["managedFields"] = managers
                        .into_iter()
                        .map(|manager| json!({ "manager": manager }))
                        .collect();
                    if let Some(spec) = item.spec {
                        obj["spec"] = spec;
                    }
                    obj
                })
                .collect();
            Ok(Some(out))
        }
        Err(e) if api_code(&e) == Some(404) => Ok(None),
        Err(e) => Err(classify(&format!("list {}", kind.plural()), e)),
    }
}

/// GET one object as JSON; `Ok(None)` on 404.
pub async fn get(
    client: &Client,
    ar: &ApiResource,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Value>, KubeFailure> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), &segment(ns), ar),
        None => Api::all_with(client.clone(), ar),
    };
    match api.get_opt(&segment(name)).await {
        Ok(Some(obj)) => serde_json::to_value(&obj).map(Some).map_err(|e| {
            classify(
                &format!("decode {} {name}", ar.kind),
                kube::Error::SerdeError(e),
            )
        }),
        Ok(None) => Ok(None),
        Err(e) => Err(classify(&format!("get {} {name}", ar.kind), e)),
    }
}

/// Every object of `kind` in `namespace` (AuthorizationPolicies, a `mesh-backend`'s kinds),
/// whoever owns it, as JSON (for `check-access`); none when the CRD is not installed.
pub async fn list_in_namespace(
    client: &Client,
    kind: Kind,
    namespace: &str,
) -> Result<Vec<Value>, KubeFailure> {
    // What the evaluator reads of a policy; managedFields (most of a listed object) and
    // status are skipped while parsing.
    #[derive(serde::Deserialize)]
    struct Item {
        metadata: ItemMeta,
        #[serde(default)]
        spec: Value,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct ItemMeta {
        name: String,
        namespace: Option<String>,
        #[serde(default)]
        creation_timestamp: Option<String>,
        // `istio.io/dry-run` lives here.
        #[serde(default)]
        annotations: Option<serde_json::Map<String, Value>>,
    }
    let listed = list_paged(
        client,
        kind,
        Some(namespace),
        ListParams::default(),
        |item: Item| {
            json!({
                "apiVersion": kind.api_version(),
                "kind": kind.name(),
                "metadata": {
                    "name": item.metadata.name,
                    "namespace": item.metadata.namespace.unwrap_or_else(|| namespace.to_owned()),
                    "creationTimestamp": item.metadata.creation_timestamp,
                    "annotations": item.metadata.annotations,
                },
                "spec": item.spec,
            })
        },
    )
    .await?;
    Ok(listed.unwrap_or_default())
}

/// Labels and ServiceAccount of one pod matching `selector` in `namespace`, if any.
pub async fn first_pod(
    client: &Client,
    namespace: &str,
    selector: &str,
) -> Result<Option<(Labels, String)>, KubeFailure> {
    let ar = builtin("", "v1", "Pod", "pods");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &segment(namespace), &ar);
    let params = ListParams::default().labels(selector).limit(1);
    let list = api
        .list(&params)
        .await
        .map_err(|e| classify(&format!("list pods in {namespace}"), e))?;
    Ok(list.items.first().map(|pod| {
        let value = serde_json::to_value(pod).unwrap_or_default();
        let sa = value
            .pointer("/spec/serviceAccountName")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_owned();
        (labels_of(&value), sa)
    }))
}

/// Owned objects in every scope (for the reconcile and the teardown).
/// The owned objects of every scope, as the plan's [`Live`] holds them (the rest default).
/// `backend_kinds`: the `mesh-backend` kinds to list too ([`backend_kinds`]).
pub async fn read_owned(
    client: &Client,
    names: &Names,
    backend_kinds: &[Kind],
) -> Result<Live, KubeFailure> {
    let policy_sel = owner_selector(names, &[Scope::Policy, Scope::ModelOperator]);
    let waypoint_sel = owner_selector(names, &[Scope::Waypoint]);
    let traffic_sel = owner_selector(names, &[Scope::Traffic]);
    let backend_sel = owner_selector(names, &[Scope::Backend]);
    let backend = futures::future::try_join_all(backend_kinds.iter().map(|&kind| {
        let selector = &backend_sel;
        async move { Ok::<_, KubeFailure>((kind, list_live(client, kind, selector).await?)) }
    }));
    let (policies, gateways, hpas, destination_rules, peer_authentications, backend) = tokio::try_join!(
        list_live(client, Kind::AuthorizationPolicy, &policy_sel),
        list_owned(client, Kind::Gateway, &waypoint_sel),
        list_owned(client, Kind::HorizontalPodAutoscaler, &waypoint_sel),
        list_owned(client, Kind::DestinationRule, &traffic_sel),
        list_owned(client, Kind::PeerAuthentication, &traffic_sel),
        backend,
    )?;
    Ok(Live {
        backend: backend.into_iter().collect(),
        policies,
        gateways,
        // HPAs are built in: a 404 here is not a missing CRD but an odd cluster; none.
        hpas: hpas.unwrap_or_default(),
        destination_rules,
        peer_authentications,
        ..Live::default()
    })
}

/// The `mesh-backend` kinds a hook lists: the current backend's always (none for Istio);
/// every non-Istio backend's on hooks that read everything (`everything`), so that a switch
/// of backend, which comes with config-changed, deletes the previous backend's objects.
pub fn backend_kinds(backend: &service_mesh::backends::Backend, everything: bool) -> Vec<Kind> {
    if everything {
        Kind::BACKEND.to_vec()
    } else {
        Kind::of_backend(backend)
    }
}

/// The Services of `namespace` bound to a waypoint (`istio.io/use-waypoint` set).
async fn waypoint_services(
    client: &Client,
    namespace: &str,
) -> Result<std::collections::BTreeSet<String>, KubeFailure> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), &segment(namespace), &service_resource());
    let params = ListParams::default().labels("istio.io/use-waypoint,istio.io/use-waypoint!=none");
    let list = api
        .list(&params)
        .await
        .map_err(|e| classify(&format!("list services in {namespace}"), e))?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .collect())
}

/// Everything the leader reconcile reads from the API server: the Kubernetes part of what
/// the plan compares (the caller adds Pebble, databags and the memo), and whether the
/// waypoint Deployment is ready (`None` when no waypoint is wanted). One GET of the
/// Deployment, never a wait: not ready means Waiting, and the next event looks again.
pub async fn read(
    client: &Client,
    model: &str,
    desired: &Desired,
    names: &Names,
    backend_kinds: &[Kind],
) -> Result<(Live, Option<bool>), KubeFailure> {
    let name = &desired.charm_labels.workload_name;
    let (configmaps, statefulsets, services) = (
        configmap_resource(),
        statefulset_resource(),
        service_resource(),
    );
    let waypoint = async {
        // At 0 planned units there is no waypoint to wait for.
        if desired.waypoint.is_empty() {
            return Ok(None);
        }
        waypoint_ready(client, model, &desired.waypoint_name)
            .await
            .map(Some)
    };
    // Independent reads: issue them together (about one round trip of latency instead of eight).
    let bound = async {
        // Only to say which traffic intents no waypoint serves (a namespace on the mesh
        // binds every Service).
        let on_mesh = desired
            .namespace
            .wanted()
            .is_some_and(|mesh| mesh.is_istio());
        if desired.traffic.services.is_empty() || on_mesh {
            return Ok(None);
        }
        waypoint_services(client, model).await.map(Some)
    };
    let (
        owned,
        (namespace_labels, namespace_annotations),
        record,
        sts,
        svc,
        waypoint_ready,
        waypoint_services,
    ) = tokio::try_join!(
        read_owned(client, names, backend_kinds),
        read_namespace(client, model),
        get(
            client,
            &configmaps,
            Some(model),
            &desired.charm_labels.record_name
        ),
        get(client, &statefulsets, Some(model), name),
        get(client, &services, Some(model), name),
        waypoint,
        bound,
    )?;
    let label_record = record.map(|cm| {
        // Upstream stores json.dumps(labels); unreadable content counts as "nothing recorded".
        cm.pointer("/data/labels")
            .and_then(Value::as_str)
            .and_then(|s| {
                serde_json::from_str::<std::collections::BTreeMap<String, String>>(s).ok()
            })
            .unwrap_or_default()
    });
    let live = Live {
        namespace_labels,
        namespace_annotations,
        label_record,
        statefulset_labels: sts.map(|o| labels_at(&o, "/spec/template/metadata/labels")),
        service_labels: svc.map(|o| labels_of(&o)),
        waypoint_services,
        ..owned
    };
    Ok((live, waypoint_ready))
}

/// Blocked messages for the CRDs missing that the desired state needs: a missing CRD only
/// matters when we have something of that kind to create.
pub fn missing_crds(live: &Live, desired: &Desired) -> Vec<String> {
    let wants_policies = !desired.policies.is_empty() || !desired.modeloperator.is_empty();
    let mut out = Vec::new();
    if live.policies.is_none() && wants_policies {
        out.push(missing_crd_message(Kind::AuthorizationPolicy));
    }
    if live.gateways.is_none() && !desired.waypoint.is_empty() {
        out.push(missing_crd_message(Kind::Gateway));
    }
    for (kind, listed) in [
        (Kind::DestinationRule, &live.destination_rules),
        (Kind::PeerAuthentication, &live.peer_authentications),
    ] {
        let wanted = desired
            .traffic
            .objects
            .iter()
            .any(|o| Kind::of(o) == Some(kind));
        if listed.is_none() && wanted {
            out.push(missing_crd_message(kind));
        }
    }
    for (kind, listed) in &live.backend {
        let wanted = desired
            .backend_objects
            .iter()
            .any(|o| Kind::of(o) == Some(*kind));
        if listed.is_none() && wanted {
            out.push(missing_crd_message(*kind));
        }
    }
    out
}

/// The labels and annotations of the Namespace `model`.
pub async fn read_namespace(client: &Client, model: &str) -> Result<(Labels, Labels), KubeFailure> {
    match get(client, &namespace_resource(), None, model).await? {
        Some(ns) => Ok((labels_of(&ns), labels_at(&ns, "/metadata/annotations"))),
        None => Err(KubeFailure::Blocked(format!("Namespace {model} not found"))),
    }
}

/// One GET of the waypoint Deployment (never waits): is it ready?
async fn waypoint_ready(client: &Client, model: &str, name: &str) -> Result<bool, KubeFailure> {
    let Some(dep) = get(client, &deployment_resource(), Some(model), name).await? else {
        return Ok(false);
    };
    let count = |p: &str| dep.pointer(p).and_then(Value::as_i64);
    Ok(beacon_core::status::deployment_ready(
        count("/status/replicas"),
        count("/status/readyReplicas"),
    ))
}

/// The current metrics-proxy plan, or `None` when Pebble cannot be reached.
pub async fn pebble_plan(container: &str) -> Option<Value> {
    let client = charm_runtime::pebble::Client::for_container(container);
    match client.get_plan().await {
        Ok(plan) => serde_json::to_value(&plan).ok(),
        Err(e) => {
            tracing::debug!("Pebble in {container} not reachable: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(Status {
            code,
            message: "nope".into(),
            ..Status::default()
        }))
    }

    #[test]
    fn only_retryable_failures_fail_the_hook() {
        for code in [409, 429, 500, 503] {
            assert!(
                matches!(classify("x", api(code)), KubeFailure::Retryable { .. }),
                "{code}"
            );
        }
        let transport = kube::Error::Service("connection refused".into());
        assert!(matches!(
            classify("x", transport),
            KubeFailure::Retryable { .. }
        ));
        match classify("list authorizationpolicies", api(403)) {
            KubeFailure::Blocked(msg) => {
                assert_eq!(
                    msg,
                    "list authorizationpolicies forbidden: did you deploy with --trust?"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(classify("x", api(422)), KubeFailure::Blocked(_)));
    }

    #[test]
    fn no_name_changes_a_request_url() {
        let hostile = [
            "x?dryRun=All",
            "x#frag",
            "a/b",
            "a%2Fb",
            "..",
            ".",
            "sp ace",
            "nul\u{0}",
            "é",
            "x&fieldManager=evil",
        ];
        for name in hostile {
            for ns in ["prod", name] {
                let key = ObjectKey {
                    kind: Kind::AuthorizationPolicy,
                    namespace: ns.into(),
                    name: name.into(),
                };
                let req = crate::apply::apply_request(
                    &key,
                    &kube::api::PatchParams::apply("istio-beacon-k8s").force(),
                    &json!({}),
                )
                .expect("request");
                let uri = req.uri();
                // The query is exactly ours, and the path has exactly its segments.
                assert_eq!(
                    uri.query(),
                    Some("&force=true&fieldManager=istio-beacon-k8s"),
                    "{name:?}"
                );
                let segments: Vec<String> = uri
                    .path()
                    .split('/')
                    .map(|s| {
                        percent_encoding::percent_decode_str(s)
                            .decode_utf8()
                            .expect("utf-8")
                            .into_owned()
                    })
                    .collect();
                assert_eq!(
                    segments,
                    [
                        "",
                        "apis",
                        "security.istio.io",
                        "v1",
                        "namespaces",
                        ns,
                        "authorizationpolicies",
                        name
                    ],
                    "{name:?} in {ns:?}: {uri}"
                );
            }
        }
    }

    #[test]
    fn missing_crds_name_the_crd() {
        assert_eq!(
            missing_crd_message(Kind::AuthorizationPolicy),
            "AuthorizationPolicy CRD (security.istio.io/v1) not found: is Istio installed?"
        );
        assert_eq!(
            missing_crd_message(Kind::Gateway),
            "Gateway CRD (gateway.networking.k8s.io/v1) not found: is the Gateway API installed?"
        );
    }

    #[test]
    fn owner_selector_includes_the_legacy_owner() {
        let names = Names::new("prod", "istio-beacon-k8s").expect("names");
        assert_eq!(
            owner_selector(&names, &[Scope::Waypoint]),
            "app.kubernetes.io/instance in (prod-istio-beacon-k8s,istio-beacon-k8s-prod),kubernetes-resource-handler-scope in (istio-waypoint)"
        );
    }
}
