//! The kinds the server knows: a fixed set of built-ins plus whatever CRDs are installed.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::KubeSimError;

/// One served group/version/resource.
#[derive(Debug)]
pub(crate) struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    /// Discovery categories (`kubectl get all`, `kubectl get istio-io`).
    pub categories: Vec<String>,
    /// A CRD version's `additionalPrinterColumns` (server-side printing); empty for built-ins.
    pub printer_columns: Vec<Value>,
    pub namespaced: bool,
    /// Served from a CRD (custom resource semantics: no strategic merge patch, schema checks).
    pub custom: bool,
    /// Whether the server maintains `metadata.generation` for this kind.
    pub has_generation: bool,
    /// The version objects are stored (and reported by `objects_for_output`) in.
    pub storage: bool,
    /// `status` belongs to a `/status` subresource: writes to the main resource through the
    /// API keep the stored status (and SSA does not track it).
    pub status_subresource: bool,
    pub schema: Option<Arc<Schema>>,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// A CRD version's `openAPIV3Schema`, raw (for list types), as the root pruning and defaulting
/// walk (see [`root_for_pruning`]), and compiled. All three are built once, when the CRD is
/// installed: every write of a custom resource uses them.
pub(crate) struct Schema {
    pub raw: Value,
    pub pruning_root: Value,
    pub validator: jsonschema::Validator,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

/// How a list is merged by server-side apply and strategic merge patch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ListType {
    Atomic,
    Set,
    /// Items identified by these key fields.
    Map(Vec<String>),
}

fn builtin(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    has_generation: bool,
    short: &[&str],
) -> ResourceType {
    ResourceType {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_ascii_lowercase(),
        short_names: short.iter().map(|s| s.to_string()).collect(),
        // As upstream: the workload kinds and their services are in `all`.
        categories: match kind {
            "Pod" | "Service" | "StatefulSet" | "Deployment" | "HorizontalPodAutoscaler" => {
                vec!["all".to_string()]
            }
            _ => Vec::new(),
        },
        printer_columns: Vec::new(),
        namespaced,
        custom: false,
        has_generation,
        storage: true,
        status_subresource: matches!(
            kind,
            "Namespace"
                | "Service"
                | "Pod"
                | "StatefulSet"
                | "Deployment"
                | "HorizontalPodAutoscaler"
        ),
        schema: None,
    }
}

/// The built-in kinds this server serves.
pub(crate) fn builtins() -> Vec<Arc<ResourceType>> {
    [
        builtin("", "v1", "Namespace", "namespaces", false, false, &["ns"]),
        builtin("", "v1", "ConfigMap", "configmaps", true, false, &["cm"]),
        builtin("", "v1", "Service", "services", true, false, &["svc"]),
        builtin(
            "",
            "v1",
            "ServiceAccount",
            "serviceaccounts",
            true,
            false,
            &["sa"],
        ),
        builtin("", "v1", "Pod", "pods", true, false, &["po"]),
        builtin(
            "apps",
            "v1",
            "StatefulSet",
            "statefulsets",
            true,
            true,
            &["sts"],
        ),
        builtin(
            "apps",
            "v1",
            "Deployment",
            "deployments",
            true,
            true,
            &["deploy"],
        ),
        builtin(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
            true,
            &["hpa"],
        ),
        builtin(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            true,
            &["crd", "crds"],
        ),
    ]
    .into_iter()
    .map(Arc::new)
    .collect()
}

/// The CRDs shipped in `crates/charm-sim/crds/`.
pub(crate) fn default_crds() -> Vec<Value> {
    const FILES: [(&str, &str); 12] = [
        (
            "security.istio.io__v1__AuthorizationPolicy.yaml",
            include_str!("../../crds/security.istio.io__v1__AuthorizationPolicy.yaml"),
        ),
        (
            "networking.istio.io__v1__DestinationRule.yaml",
            include_str!("../../crds/networking.istio.io__v1__DestinationRule.yaml"),
        ),
        (
            "security.istio.io__v1__PeerAuthentication.yaml",
            include_str!("../../crds/security.istio.io__v1__PeerAuthentication.yaml"),
        ),
        (
            "gateway.networking.k8s.io__v1__Gateway.yaml",
            include_str!("../../crds/gateway.networking.k8s.io__v1__Gateway.yaml"),
        ),
        (
            "access.smi-spec.io__v1alpha3__TrafficTarget.yaml",
            include_str!("../../crds/access.smi-spec.io__v1alpha3__TrafficTarget.yaml"),
        ),
        (
            "specs.smi-spec.io__v1alpha4__HTTPRouteGroup.yaml",
            include_str!("../../crds/specs.smi-spec.io__v1alpha4__HTTPRouteGroup.yaml"),
        ),
        (
            "specs.smi-spec.io__v1alpha4__TCPRoute.yaml",
            include_str!("../../crds/specs.smi-spec.io__v1alpha4__TCPRoute.yaml"),
        ),
        (
            "consul.hashicorp.com__v1alpha1__ServiceIntentions.yaml",
            include_str!("../../crds/consul.hashicorp.com__v1alpha1__ServiceIntentions.yaml"),
        ),
        (
            "policy.linkerd.io__v1beta3__Server.yaml",
            include_str!("../../crds/policy.linkerd.io__v1beta3__Server.yaml"),
        ),
        (
            "policy.linkerd.io__v1alpha1__AuthorizationPolicy.yaml",
            include_str!("../../crds/policy.linkerd.io__v1alpha1__AuthorizationPolicy.yaml"),
        ),
        (
            "policy.linkerd.io__v1alpha1__MeshTLSAuthentication.yaml",
            include_str!("../../crds/policy.linkerd.io__v1alpha1__MeshTLSAuthentication.yaml"),
        ),
        (
            "policy.linkerd.io__v1beta3__HTTPRoute.yaml",
            include_str!("../../crds/policy.linkerd.io__v1beta3__HTTPRoute.yaml"),
        ),
    ];
    FILES
        .iter()
        .filter_map(
            |(name, text)| match serde_yaml_ng::from_str::<Value>(text) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::error!("shipped CRD {name} does not parse: {e}");
                    None
                }
            },
        )
        .collect()
}

/// The resource types a CRD object serves (one per served version).
pub(crate) fn crd_types(crd: &Value) -> Result<Vec<Arc<ResourceType>>, KubeSimError> {
    let bad = |m: &str| KubeSimError::InvalidCrd(m.to_string());
    let spec = crd.get("spec").ok_or_else(|| bad("no spec"))?;
    let s = |v: Option<&Value>, what: &str| -> Result<String, KubeSimError> {
        v.and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("missing {what}")))
    };
    let group = s(spec.get("group"), "spec.group")?;
    let names = spec.get("names").ok_or_else(|| bad("missing spec.names"))?;
    let kind = s(names.get("kind"), "spec.names.kind")?;
    let plural = s(names.get("plural"), "spec.names.plural")?;
    let singular = names
        .get("singular")
        .and_then(Value::as_str)
        .map_or_else(|| kind.to_ascii_lowercase(), str::to_string);
    let strings = |key: &str| -> Vec<String> {
        names
            .get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let short_names = strings("shortNames");
    let categories = strings("categories");
    let crd_name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if crd_name != format!("{plural}.{group}") {
        return Err(bad(&format!(
            "metadata.name {crd_name:?} must be spec.names.plural+\".\"+spec.group"
        )));
    }
    let namespaced = match spec.get("scope").and_then(Value::as_str) {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        other => return Err(bad(&format!("spec.scope {other:?}"))),
    };
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("missing spec.versions"))?;
    let mut out = Vec::new();
    for v in versions {
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let version = s(v.get("name"), "spec.versions[].name")?;
        let schema = match v.pointer("/schema/openAPIV3Schema") {
            Some(raw) => Some(Arc::new(compile(raw).map_err(|e| {
                KubeSimError::InvalidCrd(format!("{crd_name} {version}: {e}"))
            })?)),
            None => None,
        };
        out.push(Arc::new(ResourceType {
            group: group.clone(),
            version,
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            short_names: short_names.clone(),
            categories: categories.clone(),
            printer_columns: v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            namespaced,
            custom: true,
            has_generation: true,
            storage: v.get("storage").and_then(Value::as_bool) == Some(true),
            status_subresource: v.pointer("/subresources/status").is_some(),
            schema,
        }));
    }
    Ok(out)
}

/// Compiles a structural schema as Draft 4 after translating the Kubernetes extensions that
/// change what is valid (`x-kubernetes-int-or-string`, OpenAPI `nullable`). Other
/// `x-kubernetes-*` keys are unknown keywords to the validator and are ignored by it.
fn compile(raw: &Value) -> Result<Schema, String> {
    let mut prepared = raw.clone();
    translate_extensions(&mut prepared);
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&prepared)
        .map_err(|e| e.to_string())?;
    Ok(Schema {
        raw: raw.clone(),
        pruning_root: root_for_pruning(raw),
        validator,
    })
}

fn translate_extensions(node: &mut Value) {
    match node {
        Value::Object(m) => {
            if m.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
                && !m.contains_key("type")
                && !m.contains_key("anyOf")
            {
                m.insert(
                    "anyOf".into(),
                    json!([{"type": "integer"}, {"type": "string"}]),
                );
            }
            if m.get("nullable") == Some(&Value::Bool(true))
                && let Some(Value::String(t)) = m.get("type").cloned()
            {
                m.insert("type".into(), json!([t, "null"]));
            }
            for v in m.values_mut() {
                translate_extensions(v);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(translate_extensions),
        _ => {}
    }
}

/// The schema node for a value reached through these field names (arrays walked through
/// their `items`).
fn schema_at<'a>(root: &'a Value, names: &[&str]) -> Option<&'a Value> {
    let mut node = root;
    for name in names {
        if node.get("type").and_then(Value::as_str) == Some("array") {
            node = node.get("items")?;
        }
        node = match node.get("properties").and_then(|p| p.get(*name)) {
            Some(n) => n,
            None => node.get("additionalProperties").filter(|a| a.is_object())?,
        };
    }
    Some(node)
}

/// How the list at this path (field names from the object root) is merged.
pub(crate) fn list_type(rt: &ResourceType, names: &[&str]) -> ListType {
    if names.first() == Some(&"metadata") {
        return builtin_list_type(rt, names);
    }
    if let Some(schema) = &rt.schema {
        let Some(node) = schema_at(&schema.raw, names) else {
            return ListType::Atomic;
        };
        return match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("map") => ListType::Map(
                node.get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|k| k.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            Some("set") => ListType::Set,
            _ => ListType::Atomic,
        };
    }
    builtin_list_type(rt, names)
}

/// The patch merge keys of the built-in API fields this simulator cares about
/// (`patchMergeKey`/`listType=map` tags in k8s.io/api).
fn builtin_list_type(rt: &ResourceType, names: &[&str]) -> ListType {
    let map = |k: &[&str]| ListType::Map(k.iter().map(|s| s.to_string()).collect());
    let last = names.last().copied().unwrap_or_default();
    let parent = if names.len() >= 2 {
        names[names.len() - 2]
    } else {
        ""
    };
    match (parent, last) {
        ("metadata", "finalizers") => ListType::Set,
        ("metadata", "ownerReferences") => map(&["uid"]),
        (_, "containers" | "initContainers" | "ephemeralContainers") => map(&["name"]),
        ("containers" | "initContainers" | "ephemeralContainers", "ports") => {
            map(&["containerPort", "protocol"])
        }
        ("spec", "ports") if rt.kind == "Service" => map(&["port", "protocol"]),
        (_, "env" | "volumes" | "imagePullSecrets") => map(&["name"]),
        (_, "volumeMounts") => map(&["mountPath"]),
        (_, "volumeDevices") => map(&["devicePath"]),
        (_, "hostAliases") => map(&["ip"]),
        ("status", "conditions") => map(&["type"]),
        _ => ListType::Atomic,
    }
}

/// Drops fields the schema does not know (unless `x-kubernetes-preserve-unknown-fields`) and
/// fills `default`s, as the apiserver does for custom resources on every write.
pub(crate) fn prune_and_default(schema: &Value, value: &mut Value) {
    let Value::Object(obj) = value else {
        if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
            items
                .iter_mut()
                .for_each(|i| prune_and_default(item_schema, i));
        }
        return;
    };
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    if let Some(props) = props {
        for (k, s) in props {
            if !obj.contains_key(k)
                && let Some(d) = s.get("default")
            {
                obj.insert(k.clone(), d.clone());
            }
        }
    }
    let keep_unknown = preserve || (props.is_none() && additional.is_none());
    obj.retain(|k, v| match props.and_then(|p| p.get(k)).or(additional) {
        Some(s) => {
            prune_and_default(s, v);
            true
        }
        None => keep_unknown,
    });
}

/// Removes `null` map values (the apiserver drops nulls of non-nullable fields; none of the
/// shipped schemas uses `nullable`).
pub(crate) fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// The root of a custom resource: the schema root plus the fields every object has.
fn root_for_pruning(schema: &Value) -> Value {
    let mut root = schema.clone();
    if let Some(m) = root.as_object_mut() {
        let props = m
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(p) = props.as_object_mut() {
            for k in ["apiVersion", "kind"] {
                p.entry(k).or_insert_with(|| json!({"type": "string"}));
            }
            // metadata is validated separately; keep all of it.
            p.insert(
                "metadata".into(),
                json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            );
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ap(version: &str) -> Arc<ResourceType> {
        let crds = default_crds();
        let crd = crds
            .iter()
            .find(|c| c["spec"]["names"]["kind"] == "AuthorizationPolicy")
            .expect("shipped AuthorizationPolicy CRD");
        crd_types(crd)
            .expect("CRD compiles")
            .into_iter()
            .find(|t| t.version == version)
            .expect("version served")
    }

    #[test]
    fn shipped_crds_serve_v1_and_v1beta1() {
        let mut kinds = Vec::new();
        for crd in default_crds() {
            let types = crd_types(&crd).expect("CRD compiles");
            let versions: Vec<String> = types.iter().map(|t| t.version.clone()).collect();
            let kind = types[0].kind.clone();
            // Istio's DestinationRule also still serves v1alpha3; the SMI, Consul and Linkerd
            // CRDs (service_mesh::backends) serve one version each.
            let expected: &[&str] = match (types[0].group.as_str(), kind.as_str()) {
                (_, "DestinationRule") => &["v1", "v1alpha3", "v1beta1"],
                ("access.smi-spec.io", _) => &["v1alpha3"],
                ("specs.smi-spec.io", _) => &["v1alpha4"],
                ("consul.hashicorp.com", _) => &["v1alpha1"],
                ("policy.linkerd.io", "Server" | "HTTPRoute") => {
                    &["v1alpha1", "v1beta1", "v1beta2", "v1beta3"]
                }
                ("policy.linkerd.io", _) => &["v1alpha1"],
                _ => &["v1", "v1beta1"],
            };
            assert_eq!(versions, expected, "{kind}");
            assert!(types.iter().all(|t| t.namespaced), "{kind}");
            kinds.push(kind);
        }
        assert_eq!(
            kinds,
            [
                "AuthorizationPolicy",
                "DestinationRule",
                "PeerAuthentication",
                "Gateway",
                "TrafficTarget",
                "HTTPRouteGroup",
                "TCPRoute",
                "ServiceIntentions",
                "Server",
                "AuthorizationPolicy",
                "MeshTLSAuthentication",
                "HTTPRoute",
            ]
        );
        assert!(ap("v1").namespaced);
    }

    #[test]
    fn gateway_listeners_are_a_map_list_and_defaults_apply() {
        let crds = default_crds();
        let crd = crds
            .iter()
            .find(|c| c["spec"]["names"]["kind"] == "Gateway")
            .expect("shipped Gateway CRD");
        let gw = crd_types(crd).expect("compiles").remove(0);
        assert_eq!(
            list_type(&gw, &["spec", "listeners"]),
            ListType::Map(vec!["name".into()])
        );
        let schema = gw.schema.as_ref().expect("schema");
        let mut obj = json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "g"}, "unknown": 1,
            "spec": {"gatewayClassName": "c", "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE", "typo": true}]}});
        prune_and_default(&schema.pruning_root, &mut obj);
        assert!(obj.get("unknown").is_none());
        assert!(obj["spec"]["listeners"][0].get("typo").is_none());
        assert_eq!(
            obj["spec"]["listeners"][0]["allowedRoutes"]["namespaces"]["from"],
            "Same"
        );
    }

    #[test]
    fn schema_rejects_integer_ports() {
        let t = ap("v1");
        let schema = t.schema.as_ref().expect("schema");
        let bad = json!({"spec": {"rules": [{"to": [{"operation": {"ports": [80]}}]}]}});
        let good = json!({"spec": {"rules": [{"to": [{"operation": {"ports": ["80"]}}]}]}});
        assert!(!schema.validator.is_valid(&bad));
        assert!(schema.validator.is_valid(&good));
    }
}
