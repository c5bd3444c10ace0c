//! Custom resources: served only while their CRD is installed, in every served version,
//! validated against the version's openAPIV3Schema.

mod kubeclient;
use kubeclient::{api_err, client};

use charm_sim::kube::{ApiServer, ApiServerConfig};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use serde_json::{Value, json};

fn server(crds: Vec<Value>) -> ApiServer {
    ApiServer::start(ApiServerConfig {
        crds,
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cos"}}),
        ],
        faults: vec![],
    })
    .expect("server starts")
}

fn ap_resource(version: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("security.istio.io", version, "AuthorizationPolicy"),
        "authorizationpolicies",
    )
}

/// The dynamic API of `kind` (`plural` in `group`/`version`) in namespace `prod`.
fn prod_api(
    client: kube::Client,
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
) -> Api<DynamicObject> {
    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    Api::namespaced_with(client, "prod", &resource)
}

fn policy(name: &str, ns: &str, scope: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
        "metadata": {"name": name, "namespace": ns, "labels": {
            "app.kubernetes.io/instance": "prod-istio-beacon-k8s",
            "kubernetes-resource-handler-scope": scope}},
        "spec": spec,
    }))
    .expect("policy")
}

fn unit_policy() -> Value {
    json!({"selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
        "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/cos/sa/prometheus"]}}],
            "to": [{"operation": {"ports": ["9090"]}}]}]})
}

#[tokio::test]
async fn authorization_policies_across_namespaces_and_versions() {
    let server = server(ApiServer::default_crds());
    let client = client(&server).await;
    let pp = PatchParams::apply("istio-beacon-k8s").force();
    for (name, ns, scope) in [
        ("a", "prod", "istio-authorization-policy"),
        ("b", "cos", "istio-authorization-policy"),
        ("c", "prod", "modeloperator-authorization-policy"),
    ] {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &ap_resource("v1"));
        api.patch(
            name,
            &pp,
            &Patch::Apply(policy(name, ns, scope, unit_policy())),
        )
        .await
        .expect("apply");
    }
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &ap_resource("v1"));
    let list = all
        .list(&ListParams::default().labels(
            "app.kubernetes.io/instance=prod-istio-beacon-k8s,kubernetes-resource-handler-scope=istio-authorization-policy",
        ))
        .await
        .expect("list all namespaces");
    let found: Vec<(String, String)> = list
        .items
        .iter()
        .map(|o| {
            (
                o.metadata.namespace.clone().unwrap_or_default(),
                o.metadata.name.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("cos".to_string(), "b".to_string()),
            ("prod".to_string(), "a".to_string())
        ]
    );
    assert_eq!(
        server.take_requests().last().map(|r| r.path.clone()),
        Some("/apis/security.istio.io/v1/authorizationpolicies".to_string())
    );

    // v1beta1 is served too and answers in the version asked for.
    let beta: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "prod", &ap_resource("v1beta1"));
    let a = beta.get("a").await.expect("v1beta1 get");
    assert_eq!(
        a.types.as_ref().map(|t| t.api_version.as_str()),
        Some("security.istio.io/v1beta1")
    );
    let out = server.objects_for_output();
    assert!(
        out.iter()
            .filter(|o| o["kind"] == "AuthorizationPolicy")
            .all(|o| o["apiVersion"] == "security.istio.io/v1"),
        "stored in the storage version"
    );

    let v1: Api<DynamicObject> = Api::namespaced_with(client, "prod", &ap_resource("v1"));
    v1.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let e = api_err(
        v1.delete("a", &DeleteParams::default())
            .await
            .expect_err("gone"),
    );
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    assert_eq!(
        e.message,
        "authorizationpolicies.security.istio.io \"a\" not found"
    );
}

#[tokio::test]
async fn schema_invalid_policies_are_rejected_with_causes() {
    let server = server(ApiServer::default_crds());
    let api: Api<DynamicObject> =
        Api::namespaced_with(client(&server).await, "prod", &ap_resource("v1"));
    let pp = PatchParams::apply("istio-beacon-k8s").force();

    let int_ports = json!({"rules": [{"to": [{"operation": {"ports": [5432]}}]}]});
    let e = api_err(
        api.patch("p", &pp, &Patch::Apply(policy("p", "prod", "s", int_ports)))
            .await
            .expect_err("integer ports"),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    let causes = e
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field, "spec.rules[0].to[0].operation.ports[0]");
    assert_eq!(causes[0].reason, "FieldValueTypeInvalid");
    assert_eq!(
        causes[0].message,
        "Invalid value: \"integer\": spec.rules[0].to[0].operation.ports[0] in body must be of type string: \"integer\""
    );
    assert!(
        e.message
            .starts_with("AuthorizationPolicy.security.istio.io \"p\" is invalid: "),
        "{}",
        e.message
    );

    let bad_rule = json!({"rules": ["allow-everyone"]});
    let e = api_err(
        api.create(&PostParams::default(), &policy("q", "prod", "s", bad_rule))
            .await
            .expect_err("a rule that is not an object"),
    );
    assert_eq!(e.code, 422);
    let causes = e
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(causes[0].field, "spec.rules[0]");

    let e = api_err(
        api.create(
            &PostParams::default(),
            &policy("q", "prod", "s", json!({"action": "MAYBE"})),
        )
        .await
        .expect_err("enum"),
    );
    assert_eq!(e.code, 422);
    let causes = e
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(causes[0].reason, "FieldValueNotSupported");
    assert_eq!(causes[0].field, "spec.action");
    assert!(
        server
            .object(
                "security.istio.io/v1",
                "AuthorizationPolicy",
                Some("prod"),
                "q"
            )
            .is_none()
    );

    // An undeclared field in an apply patch fails its conversion to the schema's type: a real
    // server answers 500 with no reason (structured-merge-diff's error, kubernetes#122480).
    let typo = policy("r", "prod", "s", json!({"action": "ALLOW", "typo": 1}));
    let e = api_err(
        api.patch("r", &pp, &Patch::Apply(typo.clone()))
            .await
            .expect_err("undeclared field in an apply patch"),
    );
    assert_eq!(e.code, 500);
    assert_eq!(
        e.message,
        "failed to create typed patch object (prod/r; security.istio.io/v1, \
         Kind=AuthorizationPolicy): .spec.typo: field not declared in schema"
    );
    // A create without fieldValidation=Strict prunes it instead.
    let pruned = api
        .create(&PostParams::default(), &typo)
        .await
        .expect("valid");
    assert_eq!(pruned.data["spec"], json!({"action": "ALLOW"}));
}

#[tokio::test]
async fn crd_cel_rules_that_matter_are_enforced() {
    let server = server(ApiServer::default_crds());
    let client = client(&server).await;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "prod", &ap_resource("v1"));
    let both = json!({"selector": {"matchLabels": {"app": "a"}},
        "targetRefs": [{"group": "", "kind": "Service", "name": "a"}]});
    let e = api_err(
        api.create(&PostParams::default(), &policy("p", "prod", "s", both))
            .await
            .expect_err("selector and targetRefs"),
    );
    assert_eq!(e.code, 422);
    assert!(
        e.message.ends_with(
            "spec: Invalid value: \"object\": only one of targetRefs or selector can be set"
        ),
        "{}",
        e.message
    );
    let cross =
        json!({"targetRefs": [{"group": "", "kind": "Service", "name": "a", "namespace": "cos"}]});
    let e = api_err(
        api.create(&PostParams::default(), &policy("p", "prod", "s", cross))
            .await
            .expect_err("cross-namespace"),
    );
    let causes = e
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(causes[0].field, "spec.targetRefs[0].namespace");

    let gws: Api<DynamicObject> = prod_api(
        client,
        "gateway.networking.k8s.io",
        "v1",
        "Gateway",
        "gateways",
    );
    let listener = json!({"name": "mesh", "port": 15008, "protocol": "HBONE"});
    let gw: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "w"},
        "spec": {"gatewayClassName": "istio-waypoint", "listeners": [listener, listener]}}))
    .expect("gateway");
    let e = api_err(
        gws.create(&PostParams::default(), &gw)
            .await
            .expect_err("duplicate listener"),
    );
    assert_eq!(e.code, 422);
    assert!(
        e.message
            .contains("Listener name must be unique within the Gateway")
    );
}

#[tokio::test]
async fn custom_resources_need_their_crd() {
    let server = server(vec![]);
    let client = client(&server).await;
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "prod", &ap_resource("v1"));
    // Like a real apiserver, an unknown group answers a plain-text 404 page.
    let e = api_err(api.list(&ListParams::default()).await.expect_err("no CRD"));
    assert_eq!(e.code, 404);
    assert_eq!(e.message, "404 page not found");
    let e = api_err(
        api.patch(
            "p",
            &PatchParams::apply("m"),
            &Patch::Apply(policy("p", "prod", "s", json!({}))),
        )
        .await
        .expect_err("no CRD"),
    );
    assert_eq!(e.code, 404);

    // Installing the CRD through the API serves the kind; deleting it removes the kind.
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let crd: CustomResourceDefinition = serde_json::from_value(
        ApiServer::default_crds()
            .into_iter()
            .find(|c| c["spec"]["names"]["kind"] == "AuthorizationPolicy")
            .expect("shipped CRD"),
    )
    .expect("CRD parses");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("install");
    api.patch(
        "p",
        &PatchParams::apply("m"),
        &Patch::Apply(policy("p", "prod", "s", json!({}))),
    )
    .await
    .expect("served now");
    assert_eq!(
        api.list(&ListParams::default())
            .await
            .expect("list")
            .items
            .len(),
        1
    );
    crds.delete(
        "authorizationpolicies.security.istio.io",
        &DeleteParams::default(),
    )
    .await
    .expect("uninstall");
    let e = api_err(api.get("p").await.expect_err("kind gone"));
    assert_eq!(e.code, 404);
    assert!(
        server
            .objects_for_output()
            .iter()
            .all(|o| o["kind"] != "AuthorizationPolicy"),
        "custom resources go with their CRD"
    );
}

#[tokio::test]
async fn discovery_lists_installed_groups() {
    let server = server(ApiServer::default_crds());
    let client = client(&server).await;
    let groups = client.list_api_groups().await.expect("/apis");
    let names: Vec<String> = groups.groups.iter().map(|g| g.name.clone()).collect();
    assert!(names.contains(&"security.istio.io".to_string()));
    assert!(names.contains(&"apps".to_string()));
    let resources = client
        .list_api_group_resources("security.istio.io/v1beta1")
        .await
        .expect("resource list");
    assert_eq!(resources.resources[0].name, "authorizationpolicies");
    assert!(resources.resources[0].namespaced);
    let core = client.list_core_api_versions().await.expect("/api");
    assert_eq!(core.versions, ["v1"]);
    // An unknown resource in a CRD group gets the plain-text page; in a built-in group, a Status.
    let raw = |uri: &str| {
        http::Request::get(uri.to_string())
            .body(Vec::new())
            .expect("request")
    };
    let e = api_err(
        client
            .request_text(raw("/apis/security.istio.io/v1/foos"))
            .await
            .expect_err("unknown resource"),
    );
    assert_eq!((e.code, e.message.as_str()), (404, "404 page not found"));
    let e = api_err(
        client
            .request_text(raw("/apis/apps/v1/foos"))
            .await
            .expect_err("unknown resource"),
    );
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    let version = client.apiserver_version().await.expect("/version");
    assert_eq!(version.major, "1");
}

#[tokio::test]
async fn destination_rules_and_peer_authentications_are_validated() {
    let server = server(ApiServer::default_crds());
    let client = client(&server).await;
    let pp = PatchParams::apply("istio-beacon-k8s").force();
    let dr_api: Api<DynamicObject> = prod_api(
        client.clone(),
        "networking.istio.io",
        "v1",
        "DestinationRule",
        "destinationrules",
    );
    let dr = |simple: &str| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "mydb", "namespace": "prod"},
            "spec": {"host": "mydb.prod.svc.cluster.local", "trafficPolicy": {
                "loadBalancer": {"simple": simple},
                "connectionPool": {"tcp": {"maxConnections": 100, "connectTimeout": "5s"}},
                "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s"},
                "portLevelSettings": [{"port": {"number": 8080}, "tls": {"mode": "ISTIO_MUTUAL"}}]}},
        }))
        .expect("DestinationRule")
    };
    dr_api
        .patch("mydb", &pp, &Patch::Apply(dr("LEAST_REQUEST")))
        .await
        .expect("valid DestinationRule");
    let e = api_err(
        dr_api
            .patch("mydb", &pp, &Patch::Apply(dr("BOGUS")))
            .await
            .expect_err("bad enum"),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));

    let pa_api: Api<DynamicObject> = prod_api(
        client,
        "security.istio.io",
        "v1",
        "PeerAuthentication",
        "peerauthentications",
    );
    let pa = |mode: &str| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "mydb", "namespace": "prod"},
            "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
                     "mtls": {"mode": mode}},
        }))
        .expect("PeerAuthentication")
    };
    pa_api
        .patch("mydb", &pp, &Patch::Apply(pa("STRICT")))
        .await
        .expect("valid PeerAuthentication");
    let e = api_err(
        pa_api
            .patch("mydb", &pp, &Patch::Apply(pa("ISTIO_MUTUAL")))
            .await
            .expect_err("bad mode"),
    );
    assert_eq!(e.code, 422);
}

#[tokio::test]
async fn istio_traffic_cel_rules_are_enforced() {
    let server = server(ApiServer::default_crds());
    let client = client(&server).await;
    let pp = PatchParams::apply("istio-beacon-k8s").force();
    let dr_api: Api<DynamicObject> = prod_api(
        client.clone(),
        "networking.istio.io",
        "v1",
        "DestinationRule",
        "destinationrules",
    );
    let dr = |interval: &str| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "mydb", "namespace": "prod"},
            "spec": {"host": "mydb", "trafficPolicy": {
                "portLevelSettings": [{"port": {"number": 80},
                    "outlierDetection": {"interval": interval}}]}},
        }))
        .expect("DestinationRule")
    };
    for ok in ["1ms", "1.5s", "1h2m"] {
        dr_api
            .patch("mydb", &pp, &Patch::Apply(dr(ok)))
            .await
            .unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for bad in ["0s", "999us", "10", "1d"] {
        let e = api_err(
            dr_api
                .patch("mydb", &pp, &Patch::Apply(dr(bad)))
                .await
                .expect_err(bad),
        );
        assert_eq!(e.code, 422, "{bad}");
        assert!(
            e.message.contains(
                "spec.trafficPolicy.portLevelSettings[0].outlierDetection.interval: Invalid value: \"string\": must be a valid duration greater than 1ms"
            ),
            "{bad}: {}",
            e.message
        );
    }

    let pa_api: Api<DynamicObject> = prod_api(
        client,
        "security.istio.io",
        "v1",
        "PeerAuthentication",
        "peerauthentications",
    );
    let pa = |spec: Value| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "mydb", "namespace": "prod"}, "spec": spec,
        }))
        .expect("PeerAuthentication")
    };
    for (spec, message) in [
        (
            json!({"portLevelMtls": {"8080": {"mode": "DISABLE"}}}),
            "portLevelMtls requires selector",
        ),
        (
            json!({"selector": {"matchLabels": {"app": "*"}}}),
            "wildcard not allowed in label value match",
        ),
    ] {
        let e = api_err(
            pa_api
                .patch("mydb", &pp, &Patch::Apply(pa(spec)))
                .await
                .expect_err(message),
        );
        assert_eq!(e.code, 422);
        assert!(e.message.contains(message), "{}", e.message);
    }
    pa_api
        .patch(
            "mydb",
            &pp,
            &Patch::Apply(pa(json!({
                "selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
                "portLevelMtls": {"8080": {"mode": "DISABLE"}}}))),
        )
        .await
        .expect("port-level mTLS with a selector");
}
