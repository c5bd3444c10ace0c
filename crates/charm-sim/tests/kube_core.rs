//! The simulated API server against the real `kube` client: CRUD, selectors, namespaces,
//! server-populated fields and the normalised output.

mod kubeclient;
use kubeclient::{api_err, client};

use charm_sim::kube::{ApiServer, ApiServerConfig};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;

fn server() -> ApiServer {
    ApiServer::start(ApiServerConfig {
        crds: ApiServer::default_crds(),
        objects: vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        ],
        faults: vec![],
    })
    .expect("server starts")
}

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}))
    .expect("configmap")
}

#[tokio::test]
async fn create_get_list_replace_delete_configmap() {
    let server = server();
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "prod");

    let created = cms
        .create(&PostParams::default(), &cm("a", json!({"app": "x"})))
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let rv1: u64 = created
        .metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .expect("numeric resourceVersion");

    let e = api_err(
        cms.create(&PostParams::default(), &cm("a", json!({})))
            .await
            .expect_err("duplicate"),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(e.message, "configmaps \"a\" already exists");

    let got = cms.get("a").await.expect("get");
    assert_eq!(
        got.data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("v")
    );

    let mut changed = got.clone();
    changed.data = Some([("k".to_string(), "w".to_string())].into());
    let replaced = cms
        .replace("a", &PostParams::default(), &changed)
        .await
        .expect("replace");
    let rv2: u64 = replaced
        .metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .expect("numeric resourceVersion");
    assert!(rv2 > rv1, "resourceVersion increments");

    // Replacing with the stale resourceVersion conflicts.
    let e = api_err(
        cms.replace("a", &PostParams::default(), &changed)
            .await
            .expect_err("stale"),
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));

    let e = api_err(
        cms.replace("nope", &PostParams::default(), &cm("nope", json!({})))
            .await
            .expect_err("absent"),
    );
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));

    cms.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let e = api_err(cms.get("a").await.expect_err("gone"));
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    assert_eq!(e.message, "configmaps \"a\" not found");
    let e = api_err(
        cms.delete("a", &DeleteParams::default())
            .await
            .expect_err("delete twice"),
    );
    assert_eq!(e.code, 404);
}

#[tokio::test]
async fn list_with_equality_and_set_based_selectors() {
    let server = server();
    let client = client(&server).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "prod");
    let pp = PostParams::default();
    cms.create(&pp, &cm("a", json!({"tier": "web", "env": "prod"})))
        .await
        .expect("a");
    cms.create(&pp, &cm("b", json!({"tier": "db", "env": "prod"})))
        .await
        .expect("b");
    cms.create(&pp, &cm("c", json!({"tier": "cache"})))
        .await
        .expect("c");

    let names = |sel: &'static str| {
        let cms = cms.clone();
        async move {
            let list = cms
                .list(&ListParams::default().labels(sel))
                .await
                .expect("list");
            list.items
                .iter()
                .map(|c| c.metadata.name.clone().unwrap_or_default())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("tier=web").await, ["a"]);
    assert_eq!(names("tier==db,env=prod").await, ["b"]);
    assert_eq!(names("tier!=web").await, ["b", "c"]);
    assert_eq!(names("tier in (web,cache)").await, ["a", "c"]);
    assert_eq!(names("tier notin (web)").await, ["b", "c"]);
    assert_eq!(names("env").await, ["a", "b"]);
    assert_eq!(names("!env").await, ["c"]);

    let list = cms.list(&ListParams::default()).await.expect("list");
    assert!(list.metadata.resource_version.is_some());

    // All namespaces.
    let all: Api<ConfigMap> = Api::all(client);
    assert_eq!(
        all.list(&ListParams::default().labels("env=prod"))
            .await
            .expect("list all")
            .items
            .len(),
        2
    );

    let e = api_err(
        cms.list(&ListParams::default().labels("tier in (web"))
            .await
            .expect_err("bad selector"),
    );
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
}

#[tokio::test]
async fn namespaces_are_labelled_and_required() {
    let server = server();
    let client = client(&server).await;
    let nss: Api<Namespace> = Api::all(client.clone());
    let prod = nss.get("prod").await.expect("prod exists");
    assert_eq!(
        prod.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("kubernetes.io/metadata.name"))
            .map(String::as_str),
        Some("prod")
    );

    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "nowhere");
    let e = api_err(
        missing
            .create(&PostParams::default(), &cm("a", json!({})))
            .await
            .expect_err("no namespace"),
    );
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    assert_eq!(e.message, "namespaces \"nowhere\" not found");

    let cms: Api<ConfigMap> = Api::namespaced(client, "prod");
    let e = api_err(
        cms.create(&PostParams::default(), &cm("Bad_Name", json!({})))
            .await
            .expect_err("bad name"),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    let causes = e
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert_eq!(causes[0].field, "metadata.name");

    let e = api_err(
        cms.create(
            &PostParams::default(),
            &cm("ok", json!({"k": "v".repeat(64)})),
        )
        .await
        .expect_err("long label value"),
    );
    assert_eq!(e.code, 422);
    assert!(e.message.contains("must be no more than 63 characters"));
}

#[tokio::test]
async fn generation_bumps_only_on_spec_changes() {
    let server = server();
    let client = client(&server).await;
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), "prod");
    let obj: StatefulSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "app"},
        "spec": {"selector": {"matchLabels": {"app": "app"}}, "serviceName": "app",
            "template": {"metadata": {"labels": {"app": "app"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    .expect("sts");
    let created = sts
        .create(&PostParams::default(), &obj)
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));

    let mut relabelled = created.clone();
    relabelled.metadata.labels = Some([("x".to_string(), "y".to_string())].into());
    let r = sts
        .replace("app", &PostParams::default(), &relabelled)
        .await
        .expect("metadata change");
    assert_eq!(r.metadata.generation, Some(1));

    let mut respec = r.clone();
    if let Some(spec) = respec.spec.as_mut() {
        spec.replicas = Some(3);
    }
    let r = sts
        .replace("app", &PostParams::default(), &respec)
        .await
        .expect("spec change");
    assert_eq!(r.metadata.generation, Some(2));

    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client, "prod");
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "w"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "w"},
            "minReplicas": 2, "maxReplicas": 2}}))
    .expect("hpa");
    let created = hpas
        .create(&PostParams::default(), &hpa)
        .await
        .expect("hpa");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.managed_fields.is_some());

    // A zero-replica HPA is refused, as by the real API server.
    let mut zero = created.clone();
    if let Some(spec) = zero.spec.as_mut() {
        spec.min_replicas = Some(0);
        spec.max_replicas = 0;
    }
    let e = api_err(
        hpas.replace("w", &PostParams::default(), &zero)
            .await
            .expect_err("zero replicas"),
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    let fields: Vec<String> = e
        .details
        .map(|d| d.causes.into_iter().map(|c| c.field).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["spec.minReplicas", "spec.maxReplicas"]);

    // A template that no longer matches the selector is refused.
    let e = api_err(
        sts.patch(
            "app",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Strategic(
                json!({"spec": {"template": {"metadata": {"labels": {"app": null}}}}}),
            ),
        )
        .await
        .expect_err("selector mismatch"),
    );
    assert_eq!(e.code, 422);
    assert!(
        e.message
            .contains("`selector` does not match template `labels`"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn actor_writes_requests_and_output() {
    let server = server();
    server
        .apply_objects(vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "z", "namespace": "prod", "annotations": {"b": "1", "a": "2"}},
                "data": {"y": "1", "x": "2"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}),
        ])
        .expect("actor writes");
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "prod");
    cms.get("z").await.expect("visible to clients");
    let reqs = server.take_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/api/v1/namespaces/prod/configmaps/z");
    assert_eq!(reqs[0].status, 200);
    assert!(server.take_requests().is_empty(), "taken once");

    cms.list(&ListParams::default().labels("a in (b,c)"))
        .await
        .expect("list");
    let reqs = server.take_requests();
    assert_eq!(reqs[0].query, "&labelSelector=a in (b,c)");

    let out = server.objects_for_output();
    let kinds: Vec<(String, String)> = out
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap_or_default().to_string(),
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("ConfigMap".to_string(), "z".to_string()),
            ("Namespace".to_string(), "other".to_string()),
            ("Namespace".to_string(), "prod".to_string()),
        ]
    );
    let z = &out[0];
    assert_eq!(
        z.to_string(),
        r#"{"apiVersion":"v1","data":{"x":"2","y":"1"},"kind":"ConfigMap","metadata":{"annotations":{"a":"2","b":"1"},"name":"z","namespace":"prod"}}"#
    );

    assert!(
        server
            .delete_object("v1", "ConfigMap", Some("prod"), "z")
            .expect("delete")
    );
    assert!(
        !server
            .delete_object("v1", "ConfigMap", Some("prod"), "z")
            .expect("delete again")
    );
    assert!(
        server
            .object("v1", "ConfigMap", Some("prod"), "z")
            .is_none()
    );
    assert!(server.object("v1", "Namespace", None, "other").is_some());
}

#[tokio::test]
async fn status_belongs_to_the_subresource_except_for_actors() {
    use k8s_openapi::api::apps::v1::Deployment;
    let server = server();
    // The simulator (playing Istio) sets the waypoint Deployment's status directly.
    server
        .apply_objects(vec![json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "w", "namespace": "prod"},
            "spec": {"selector": {"matchLabels": {"a": "w"}},
                "template": {"metadata": {"labels": {"a": "w"}},
                    "spec": {"containers": [{"name": "c", "image": "i"}]}}},
            "status": {"replicas": 2, "readyReplicas": 2}})])
        .expect("actor write");
    let deps: Api<Deployment> = Api::namespaced(client(&server).await, "prod");
    let mut d = deps.get("w").await.expect("get");
    assert_eq!(d.status.as_ref().and_then(|s| s.ready_replicas), Some(2));
    // A client's write to the main resource cannot change it.
    if let Some(s) = d.status.as_mut() {
        s.ready_replicas = Some(0);
    }
    let d = deps
        .replace("w", &PostParams::default(), &d)
        .await
        .expect("replace");
    assert_eq!(d.status.and_then(|s| s.ready_replicas), Some(2));
    let managed = serde_json::to_value(&d.metadata.managed_fields).expect("json");
    assert!(
        !managed.to_string().contains("f:status"),
        "status is not tracked for the main resource"
    );
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let server = server();
    let cms: Api<ConfigMap> = Api::namespaced(client(&server).await, "prod");
    for name in ["e", "a", "d", "b", "c", "other"] {
        let labels = if name == "other" {
            json!({})
        } else {
            json!({"app": "x"})
        };
        cms.create(&PostParams::default(), &cm(name, labels))
            .await
            .expect("create");
    }
    let mut params = ListParams::default().labels("app=x").limit(2);
    let mut pages = Vec::new();
    loop {
        let page = cms.list(&params).await.expect("list");
        pages.push(
            page.items
                .iter()
                .filter_map(|c| c.metadata.name.clone())
                .collect::<Vec<_>>(),
        );
        match page.metadata.continue_ {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(pages, vec![vec!["a", "b"], vec!["c", "d"], vec!["e"]]);
    // limit=0 is no limit; a token the server did not issue is a 400.
    let all = cms
        .list(&ListParams::default().limit(0))
        .await
        .expect("list");
    assert_eq!(all.items.len(), 6);
    assert!(all.metadata.continue_.is_none());
    let bad = cms
        .list(&ListParams::default().continue_token("zz"))
        .await
        .expect_err("bad token");
    assert_eq!(api_err(bad).code, 400);
}
