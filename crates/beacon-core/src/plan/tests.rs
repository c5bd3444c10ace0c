//! The diff: no-op → empty plan; changes → exactly the writes needed; foreign objects
//! untouched; namespace label guard (upstream's add/remove cases ×4).

use serde_json::json;

use super::*;
use crate::desired::{CharmLabels, PebbleLayer, PolicyIntent, PolicySource, RelationWrite};
use crate::kinds::{NS_DATAPLANE_MODE, NS_MANAGED_BY, NS_USE_WAYPOINT};
use crate::onboarding::{SmiController, SmiMesh, meshes};
use service_mesh::backends::Backend;

const OWNER: &str = "prod-istio-beacon-k8s";

/// The intent for an app policy of `myapp` on `port`, named `name`.
fn intent(name: &str, port: u16) -> PolicyIntent {
    let policy = service_mesh::MeshPolicy {
        source_namespace: "prod".into(),
        source_app_name: "client".into(),
        target_namespace: "prod".into(),
        target_app_name: Some("myapp".into()),
        target_selector_labels: None,
        target_service: None,
        target_type: service_mesh::PolicyTargetType::App,
        endpoints: vec![service_mesh::Endpoint {
            hosts: None,
            ports: Some(vec![port.into()]),
            methods: None,
            paths: None,
        }],
    };
    PolicyIntent {
        namespace: "prod".into(),
        name: name.into(),
        digest: service_mesh::names::policy_digest(&policy),
        source: PolicySource::Parsed(policy),
        origin: None,
    }
}

/// A listed policy as the server holds it: the AuthorizationPolicy of `intent(name, port)`
/// (written out here, not built by the code under test) under the given owner labels, at
/// resourceVersion 7.
fn owned_policy(name: &str, instance: &str, scope: &str, port: u16) -> LiveObject {
    let body = json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {
            "name": name,
            "namespace": "prod",
            "resourceVersion": "7",
            "labels": {"app.kubernetes.io/instance": instance, "kubernetes-resource-handler-scope": scope},
            "managedFields": [{"manager": "istio-beacon-k8s", "operation": "Apply"}],
        },
        "spec": {
            "targetRefs": [{"group": "", "kind": "Service", "name": "myapp"}],
            "rules": [{
                "from": [{"source": {"principals": ["cluster.local/ns/prod/sa/client"]}}],
                "to": [{"operation": {"ports": [port.to_string()]}}],
            }],
        },
    });
    LiveObject::from_value(&body).expect("keyed")
}

/// The apply of `base_desired`'s policy `p-new`.
fn apply_new(d: &Desired) -> Action {
    Action::ApplyPolicy {
        key: policy_key("p-new"),
        intent: d.policies[0].clone(),
        owner_instance: OWNER.into(),
    }
}

fn policy_key(name: &str) -> ObjectKey {
    ObjectKey {
        kind: Kind::AuthorizationPolicy,
        namespace: "prod".into(),
        name: name.into(),
    }
}

fn ownership() -> Ownership {
    Ownership {
        field_manager: "istio-beacon-k8s".into(),
        legacy_instance: Some("istio-beacon-k8s-prod".into()),
        name_prefix: "istio-beacon-k8s-prod-".into(),
        waypoint: "prod-istio-beacon-k8s-waypoint".into(),
    }
}

fn mesh_labels() -> Vec<(String, String)> {
    vec![
        ("istio.io/dataplane-mode".into(), "ambient".into()),
        (
            "istio.io/use-waypoint".into(),
            "prod-istio-beacon-k8s-waypoint".into(),
        ),
        ("istio.io/use-waypoint-namespace".into(), "prod".into()),
    ]
}

fn base_desired() -> Desired {
    Desired {
        provider_databags: vec![RelationWrite {
            endpoint: "service-mesh".into(),
            relation_id: 3,
            app: [("mesh_type".to_owned(), "\"istio\"".to_owned())].into(),
            unit: Default::default(),
        }],
        telemetry_databags: vec![],
        charm_labels: CharmLabels {
            workload_name: "istio-beacon-k8s".into(),
            record_name: "juju-service-mesh-istio-beacon-k8s-labels".into(),
            labels: mesh_labels(),
            record_json: "{...}".into(),
        },
        waypoint_name: "prod-istio-beacon-k8s-waypoint".into(),
        waypoint: vec![],
        namespace: remove_intent(),
        policies: vec![Arc::new(intent("p-new", 80))],
        backend_objects: vec![],
        backend_findings: vec![],
        backend: None,
        owner_instance: OWNER.into(),
        ownership: ownership(),
        consumer_memo: None,
        modeloperator: vec![],
        pebble: PebbleLayer {
            container: "metrics-proxy".into(),
            label: "metrics-proxy".into(),
            layer: json!({"services": {"metrics-proxy": {"override": "replace", "command": "metrics-proxy"}}}),
        },
        skipped: vec![],
        traffic: Default::default(),
        warnings: vec![],
    }
}

/// A world where everything `base_desired` wants is already in place.
fn converged_live() -> Live {
    let labels: Labels = mesh_labels().into_iter().collect();
    let mut sts = labels.clone();
    sts.insert("app.kubernetes.io/name".into(), "istio-beacon-k8s".into());
    Live {
        policies: Some(vec![owned_policy(
            "p-new",
            OWNER,
            "istio-authorization-policy",
            80,
        )]),
        applied: HashMap::new(),
        refused: HashMap::new(),
        rendering: None,
        gateways: Some(vec![]),
        hpas: vec![],
        destination_rules: Some(vec![]),
        peer_authentications: Some(vec![]),
        backend: BTreeMap::new(),
        waypoint_services: None,
        namespace_labels: [("kubernetes.io/metadata.name".to_owned(), "prod".to_owned())].into(),
        namespace_annotations: Labels::new(),
        label_record: Some(labels.clone()),
        statefulset_labels: Some(sts),
        service_labels: Some(labels),
        pebble_plan: Some(
            json!({"services": {"metrics-proxy": {"override": "replace", "command": "metrics-proxy", "startup": "enabled"}}}),
        ),
        databags: [(
            3,
            LocalBags {
                app: [("mesh_type".to_owned(), "\"istio\"".to_owned())].into(),
                ..LocalBags::default()
            },
        )]
        .into(),
    }
}

#[test]
fn noop_reconcile_plans_nothing() {
    let p = plan(&base_desired(), &converged_live());
    assert_eq!(p.actions, vec![]);
}

#[test]
fn server_defaults_and_foreign_labels_do_not_count_as_changes() {
    let mut live = converged_live();
    let p = &mut live.policies.as_mut().unwrap()[0];
    p.labels.insert("someone-else".into(), "x".into());
    let mut spec = p.comparable()["spec"].clone();
    spec["rules"][0]["to"][0]["operation"]["defaulted"] = json!(true);
    p.spec = Some(serde_json::value::to_raw_value(&spec).unwrap());
    assert_eq!(plan(&base_desired(), &live).actions, vec![]);
}

#[test]
fn changed_policy_deletes_the_old_and_applies_the_new() {
    let mut live = converged_live();
    live.policies = Some(vec![owned_policy(
        "p-old",
        "prod-istio-beacon-k8s",
        "istio-authorization-policy",
        81,
    )]);
    let d = base_desired();
    let p = plan(&d, &live);
    assert_eq!(
        p.actions,
        vec![Action::Delete(policy_key("p-old")), apply_new(&d),]
    );
}

#[test]
fn same_name_with_different_spec_is_reapplied() {
    let mut live = converged_live();
    live.policies = Some(vec![owned_policy(
        "p-new",
        "prod-istio-beacon-k8s",
        "istio-authorization-policy",
        99,
    )]);
    let d = base_desired();
    assert_eq!(plan(&d, &live).actions, vec![apply_new(&d)]);
}

#[test]
fn legacy_owned_objects_are_pruned_and_other_scopes_untouched() {
    let mut live = converged_live();
    let legacy = owned_policy(
        "istio-beacon-k8s-prod-policy-legacy",
        "istio-beacon-k8s-prod",
        "istio-authorization-policy",
        1,
    );
    let other_scope = owned_policy("p-other", "prod-istio-beacon-k8s", "someone-elses-scope", 1);
    let v = live.policies.as_mut().unwrap();
    v.push(legacy);
    v.push(other_scope);
    assert_eq!(
        plan(&base_desired(), &live).actions,
        vec![Action::Delete(policy_key(
            "istio-beacon-k8s-prod-policy-legacy"
        ))]
    );
}

#[test]
fn managed_off_deletes_every_owned_policy_including_modeloperator() {
    let mut live = converged_live();
    live.policies.as_mut().unwrap().push(owned_policy(
        "mo",
        "prod-istio-beacon-k8s",
        "modeloperator-authorization-policy",
        1,
    ));
    let mut d = base_desired();
    d.policies.clear();
    let deleted: Vec<String> = plan(&d, &live)
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Delete(k) => Some(k.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, vec!["p-new".to_owned(), "mo".to_owned()]);
}

#[test]
fn missing_crd_plans_no_policy_writes() {
    let mut live = converged_live();
    live.policies = None;
    assert_eq!(plan(&base_desired(), &live).actions, vec![]);
}

#[test]
fn first_run_labels_the_workload_then_records_the_labels() {
    let mut live = converged_live();
    live.label_record = None;
    live.statefulset_labels = Some(Labels::new());
    live.service_labels = Some(Labels::new());
    let set: Map<String, Value> = mesh_labels()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let p = plan(&base_desired(), &live);
    assert_eq!(
        p.actions,
        vec![
            Action::PatchStatefulSetLabels {
                name: "istio-beacon-k8s".into(),
                labels: set.clone()
            },
            Action::PatchServiceLabels {
                name: "istio-beacon-k8s".into(),
                labels: set
            },
            Action::CreateLabelRecord {
                name: "juju-service-mesh-istio-beacon-k8s-labels".into(),
                labels: "{...}".into()
            },
        ]
    );
}

#[test]
fn labels_we_no_longer_want_are_removed_others_kept() {
    let mut live = converged_live();
    let mut record: Labels = mesh_labels().into_iter().collect();
    record.insert("old".into(), "x".into());
    live.label_record = Some(record);
    live.statefulset_labels
        .as_mut()
        .unwrap()
        .insert("old".into(), "x".into());
    let p = plan(&base_desired(), &live);
    let Some(Action::PatchStatefulSetLabels { labels, .. }) = p.actions.first() else {
        panic!("expected a StatefulSet patch first, got {:?}", p.actions);
    };
    assert_eq!(labels.get("old"), Some(&Value::Null));
    assert!(!labels.contains_key("app.kubernetes.io/name"));
    // The Service does not carry `old`, so it needs no patch; the record is rewritten.
    assert!(matches!(
        p.actions.as_slice(),
        [
            Action::PatchStatefulSetLabels { .. },
            Action::PatchLabelRecord { .. }
        ]
    ));
}

fn ns_patch(p: &Plan) -> Option<&Map<String, Value>> {
    ns_patches(p).map(|(labels, _)| labels)
}

/// The namespace patch's labels and annotations.
type NsPatch<'a> = (&'a Map<String, Value>, &'a Map<String, Value>);

fn ns_patches(p: &Plan) -> Option<NsPatch<'_>> {
    p.actions.iter().find_map(|a| match a {
        Action::PatchNamespace {
            labels,
            annotations,
            ..
        } => Some((labels, annotations)),
        _ => None,
    })
}

fn backend_intent(backend: &Backend, smi: &SmiMesh, on: bool) -> NamespaceIntent {
    NamespaceIntent {
        name: "prod".into(),
        identity: "prod.istio-beacon-k8s".into(),
        meshes: meshes(backend, smi, "prod-istio-beacon-k8s-waypoint", on),
    }
}

fn add_intent() -> NamespaceIntent {
    backend_intent(&Backend::Istio, &SmiMesh::default(), true)
}

fn pairs(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn ns_plan(intent: NamespaceIntent, labels: &[(&str, &str)]) -> Plan {
    ns_plan_with(intent, labels, &[])
}

fn ns_plan_with(
    intent: NamespaceIntent,
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
) -> Plan {
    let mut d = base_desired();
    d.namespace = intent;
    let mut live = converged_live();
    live.namespace_labels = pairs(labels);
    live.namespace_annotations = pairs(annotations);
    plan(&d, &live)
}

#[test]
fn add_labels_to_an_unlabelled_namespace() {
    let p = ns_plan(add_intent(), &[]);
    let patch = ns_patch(&p).expect("patch");
    assert_eq!(patch.len(), 3);
    assert_eq!(patch[NS_MANAGED_BY], json!("prod.istio-beacon-k8s"));
}

#[test]
fn add_labels_keeps_foreign_labels() {
    let p = ns_plan(add_intent(), &[("foo", "bar")]);
    let patch = ns_patch(&p).expect("patch");
    assert!(!patch.contains_key("foo"));
}

#[test]
fn add_labels_updates_our_own_partial_labels() {
    let p = ns_plan(
        add_intent(),
        &[
            (NS_USE_WAYPOINT, "prod-istio-beacon-k8s-waypoint"),
            (NS_MANAGED_BY, "prod.istio-beacon-k8s"),
        ],
    );
    assert_eq!(
        ns_patch(&p).expect("patch")[NS_DATAPLANE_MODE],
        json!("ambient")
    );
}

#[test]
fn add_labels_refuses_labels_managed_by_someone_else() {
    let p = ns_plan(add_intent(), &[(NS_USE_WAYPOINT, "other-waypoint")]);
    assert_eq!(ns_patch(&p), None);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("managed by another entity"))
    );
}

#[test]
fn add_labels_already_in_place_is_a_noop() {
    let p = ns_plan(
        add_intent(),
        &[
            (NS_USE_WAYPOINT, "prod-istio-beacon-k8s-waypoint"),
            (NS_DATAPLANE_MODE, "ambient"),
            (NS_MANAGED_BY, "prod.istio-beacon-k8s"),
        ],
    );
    assert_eq!(p.actions, vec![]);
}

fn remove_intent() -> NamespaceIntent {
    backend_intent(&Backend::Istio, &SmiMesh::default(), false)
}

#[test]
fn remove_labels_managed_by_us_nulls_three_keys_only() {
    let p = ns_plan(
        remove_intent(),
        &[
            (NS_USE_WAYPOINT, "w"),
            (NS_DATAPLANE_MODE, "ambient"),
            (NS_MANAGED_BY, "prod.istio-beacon-k8s"),
            ("foo", "bar"),
        ],
    );
    let patch = ns_patch(&p).expect("patch");
    assert_eq!(patch.len(), 3);
    assert!(patch.values().all(Value::is_null));
}

#[test]
fn remove_labels_managed_by_another_is_refused() {
    let p = ns_plan(
        remove_intent(),
        &[(NS_USE_WAYPOINT, "w"), (NS_MANAGED_BY, "other.beacon")],
    );
    assert_eq!(ns_patch(&p), None);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("managed by another entity"))
    );
}

#[test]
fn remove_labels_with_only_our_managed_by_key() {
    let p = ns_plan(remove_intent(), &[(NS_MANAGED_BY, "prod.istio-beacon-k8s")]);
    assert!(ns_patch(&p).is_some());
}

#[test]
fn remove_labels_from_an_unlabelled_namespace_does_nothing() {
    let p = ns_plan(remove_intent(), &[]);
    assert_eq!((p.actions, p.warnings), (vec![], vec![]));
}

const ME: &str = "prod.istio-beacon-k8s";
const LINKERD_BY: &str = "charms.canonical.com/linkerd.io.managed-by";

#[test]
fn each_backend_puts_the_namespace_on_its_mesh_with_its_own_keys() {
    let linkerd = Backend::from_name("linkerd").expect("linkerd");
    let consul = Backend::from_name("consul").expect("consul");
    let fsm = SmiMesh {
        controller: SmiController::Fsm,
        name: Some("edge".into()),
    };
    let cases: [(&Backend, &SmiMesh, Value, Value); 4] = [
        (
            &linkerd,
            &SmiMesh::default(),
            json!({LINKERD_BY: ME}),
            json!({"linkerd.io/inject": "enabled"}),
        ),
        (
            &Backend::Smi,
            &SmiMesh::default(),
            json!({"openservicemesh.io/monitored-by": "osm", "charms.canonical.com/openservicemesh.io.managed-by": ME}),
            json!({"openservicemesh.io/sidecar-injection": "enabled"}),
        ),
        (
            &Backend::Smi,
            &fsm,
            json!({"flomesh.io/monitored-by": "edge", "charms.canonical.com/flomesh.io.managed-by": ME}),
            json!({"flomesh.io/sidecar-injection": "enabled"}),
        ),
        (
            &consul,
            &SmiMesh::default(),
            json!({"connect-inject": "enabled", "charms.canonical.com/consul.hashicorp.com.managed-by": ME}),
            json!({}),
        ),
    ];
    for (backend, smi, labels, annotations) in cases {
        let p = ns_plan(backend_intent(backend, smi, true), &[("foo", "bar")]);
        let (l, a) = ns_patches(&p).expect("patch");
        assert_eq!(
            (Value::Object(l.clone()), Value::Object(a.clone())),
            (labels, annotations),
            "{}",
            backend.name()
        );
        assert_eq!(p.warnings, Vec::<String>::new());
    }
}

#[test]
fn a_backend_onboarding_in_place_is_a_noop_and_goes_when_model_on_mesh_is_off() {
    let linkerd = Backend::from_name("linkerd").expect("linkerd");
    let smi = SmiMesh::default();
    let labels = [(LINKERD_BY, ME), ("foo", "bar")];
    let annotations = [("linkerd.io/inject", "enabled"), ("other", "x")];
    let p = ns_plan_with(backend_intent(&linkerd, &smi, true), &labels, &annotations);
    assert_eq!(p.actions, vec![]);
    let p = ns_plan_with(backend_intent(&linkerd, &smi, false), &labels, &annotations);
    let (l, a) = ns_patches(&p).expect("patch");
    assert_eq!(Value::Object(l.clone()), json!({LINKERD_BY: null}));
    assert_eq!(Value::Object(a.clone()), json!({"linkerd.io/inject": null}));
}

#[test]
fn switching_backend_moves_the_namespace_from_one_mesh_to_the_other_in_one_patch() {
    let linkerd = Backend::from_name("linkerd").expect("linkerd");
    let istio_labels = [
        (NS_USE_WAYPOINT, "prod-istio-beacon-k8s-waypoint"),
        (NS_DATAPLANE_MODE, "ambient"),
        (NS_MANAGED_BY, ME),
    ];
    let p = ns_plan(
        backend_intent(&linkerd, &SmiMesh::default(), true),
        &istio_labels,
    );
    let (l, a) = ns_patches(&p).expect("patch");
    assert_eq!(
        Value::Object(l.clone()),
        json!({NS_USE_WAYPOINT: null, NS_DATAPLANE_MODE: null, NS_MANAGED_BY: null, LINKERD_BY: ME})
    );
    assert_eq!(
        Value::Object(a.clone()),
        json!({"linkerd.io/inject": "enabled"})
    );
    assert_eq!(p.actions.len(), 1, "one namespace patch: {:?}", p.actions);
}

#[test]
fn another_entitys_mesh_keys_are_left_alone() {
    let linkerd = Backend::from_name("linkerd").expect("linkerd");
    let smi = SmiMesh::default();
    // Someone else injected the namespace: we do not take it over, and say so.
    let p = ns_plan_with(
        backend_intent(&linkerd, &smi, true),
        &[],
        &[("linkerd.io/inject", "enabled")],
    );
    assert_eq!(p.actions, vec![]);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("managed by another entity"))
    );
    // Not wanted, not ours: not removed, and no noise (only Istio's keys warn, as upstream).
    for on in [false, true] {
        let p = ns_plan_with(
            backend_intent(&Backend::Istio, &smi, on),
            &[
                (NS_USE_WAYPOINT, "prod-istio-beacon-k8s-waypoint"),
                (NS_MANAGED_BY, ME),
            ],
            &[("linkerd.io/inject", "enabled")],
        );
        assert!(ns_patches(&p).is_none_or(|(_, a)| a.is_empty()));
        assert_eq!(p.warnings, Vec::<String>::new());
    }
}

#[test]
fn istio_patches_keep_upstreams_body() {
    // Istio alone: labels only, no annotations key in the patch.
    let p = ns_plan(add_intent(), &[]);
    let (l, a) = ns_patches(&p).expect("patch");
    assert_eq!(l.len(), 3);
    assert!(a.is_empty());
}

#[test]
fn pebble_layer_added_when_missing_skipped_when_unreachable() {
    let mut live = converged_live();
    live.pebble_plan = Some(json!({}));
    assert!(matches!(
        plan(&base_desired(), &live).actions.as_slice(),
        [Action::AddPebbleLayer { .. }]
    ));
    live.pebble_plan = None;
    let p = plan(&base_desired(), &live);
    assert_eq!(p.actions, vec![]);
    assert_eq!(p.warnings.len(), 1);
}

#[test]
fn relation_data_sets_only_changed_keys() {
    let mut d = base_desired();
    d.provider_databags[0]
        .app
        .insert("labels".into(), "{}".into());
    assert_eq!(
        plan(&d, &converged_live()).actions,
        vec![Action::SetRelationData {
            endpoint: "service-mesh".into(),
            relation_id: 3,
            app: [("labels".to_owned(), "{}".to_owned())].into(),
            unit: Default::default(),
        }]
    );
}

#[test]
fn an_empty_wanted_value_deletes_the_key_and_is_satisfied_by_its_absence() {
    let mut d = base_desired();
    d.provider_databags[0].app = [
        ("labels".to_owned(), String::new()),
        ("mesh_type".to_owned(), String::new()),
    ]
    .into();
    // converged_live's bag holds mesh_type: deleted (an empty value); labels is absent.
    assert_eq!(
        plan(&d, &converged_live()).actions,
        vec![Action::SetRelationData {
            endpoint: "service-mesh".into(),
            relation_id: 3,
            app: [("mesh_type".to_owned(), String::new())].into(),
            unit: Default::default(),
        }]
    );
    // Once deleted: nothing to write.
    let mut live = converged_live();
    live.databags.insert(3, LocalBags::default());
    assert!(plan(&d, &live).actions.is_empty());
    // Not read back (only what was published is remembered, and it differs): every key,
    // the deletions too; remembered as published: nothing.
    live.databags.insert(
        3,
        LocalBags {
            app_published: Some("an older fingerprint".into()),
            ..LocalBags::default()
        },
    );
    let wanted = d.provider_databags[0].app.clone();
    assert_eq!(
        plan(&d, &live).actions,
        vec![Action::SetRelationData {
            endpoint: "service-mesh".into(),
            relation_id: 3,
            app: wanted.clone(),
            unit: Default::default(),
        }]
    );
    live.databags.insert(
        3,
        LocalBags {
            app_published: Some(fingerprint(&wanted)),
            ..LocalBags::default()
        },
    );
    assert!(plan(&d, &live).actions.is_empty());
}

#[test]
fn teardown_deletes_everything_owned_and_our_namespace_labels() {
    let mut live = converged_live();
    live.gateways = Some(vec![
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "w", "namespace": "prod", "managedFields": [{"manager": "istio-beacon-k8s"}]}}),
    ]);
    live.namespace_labels = [(NS_MANAGED_BY.to_owned(), "prod.istio-beacon-k8s".to_owned())].into();
    let p = teardown(&live, &ownership(), "prod", "prod.istio-beacon-k8s");
    let kinds: Vec<&str> = p
        .actions
        .iter()
        .map(|a| match a {
            Action::Delete(k) => k.kind.name(),
            Action::PatchNamespace { .. } => "Namespace",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["Gateway", "AuthorizationPolicy", "Namespace"]);
}

#[test]
fn teardown_removes_another_meshs_namespace_keys_when_ours_only() {
    let mut live = converged_live();
    live.namespace_labels = pairs(&[(LINKERD_BY, ME), ("foo", "bar")]);
    live.namespace_annotations = pairs(&[("linkerd.io/inject", "enabled"), ("other", "x")]);
    let p = teardown(&live, &ownership(), "prod", ME);
    let (l, a) = ns_patches(&p).expect("patch");
    assert_eq!(Value::Object(l.clone()), json!({LINKERD_BY: null}));
    assert_eq!(Value::Object(a.clone()), json!({"linkerd.io/inject": null}));
    // Set by someone else: left alone.
    live.namespace_labels = pairs(&[("foo", "bar")]);
    let p = teardown(&live, &ownership(), "prod", ME);
    assert!(ns_patches(&p).is_none());
}

#[test]
fn a_matching_record_skips_the_comparison_and_a_stale_one_does_not() {
    let d = base_desired();
    let key = record_key("prod", "p-new");
    let record = |rv: &str, digest: &str| AppliedRecord {
        resource_version: rv.into(),
        digest: digest.into(),
    };
    // Live holds port 99 at resourceVersion 7; a record saying "7 holds this digest" is
    // trusted (the server changes the resourceVersion on every write), so nothing is done.
    let mut live = converged_live();
    live.policies = Some(vec![owned_policy(
        "p-new",
        OWNER,
        "istio-authorization-policy",
        99,
    )]);
    live.applied = [(key.clone(), record("7", &d.policies[0].digest))].into();
    let p = plan(&d, &live);
    assert_eq!(p.actions, vec![]);
    assert_eq!(p.recorded, vec![key.clone()]);
    assert!(p.verified.is_empty());
    // Every record still holds and nothing new was learnt: the memo needs no write.
    assert_eq!(p.records_after(&live.applied, []), None);
    // Another resourceVersion, or another digest: compared in full, so rewritten.
    for stale in [record("6", &d.policies[0].digest), record("7", "other")] {
        live.applied = [(key.clone(), stale)].into();
        let p = plan(&d, &live);
        assert_eq!(p.actions, vec![apply_new(&d)]);
        assert_eq!(p.applying.get(&key), Some(&d.policies[0].digest));
        assert!(p.verified.is_empty() && p.recorded.is_empty());
    }
}

#[test]
fn an_unrecorded_policy_found_up_to_date_is_recorded() {
    // E.g. adopted from the Python beacon: compared in full once, then remembered.
    let d = base_desired();
    let p = plan(&d, &converged_live());
    assert_eq!(p.actions, vec![]);
    assert_eq!(
        p.verified,
        [(
            record_key("prod", "p-new"),
            AppliedRecord {
                resource_version: "7".into(),
                digest: d.policies[0].digest.clone(),
            }
        )]
        .into()
    );
}

#[test]
fn records_after_an_apply_hold_the_answered_resource_versions() {
    let record = |rv: &str, digest: &str| AppliedRecord {
        resource_version: rv.into(),
        digest: digest.into(),
    };
    let plan = Plan {
        recorded: vec!["prod/kept".into()],
        verified: [("prod/checked".to_owned(), record("3", "dc"))].into(),
        applying: [
            ("prod/new".to_owned(), "dn".to_owned()),
            ("prod/refused".to_owned(), "dr".to_owned()),
        ]
        .into(),
        ..Plan::default()
    };
    let before: Records = [
        ("prod/kept".to_owned(), record("1", "dk")),
        ("prod/gone".to_owned(), record("2", "dg")),
    ]
    .into();
    // The API server answered one apply; the other was refused (no resourceVersion), and
    // an answer for an object the plan did not apply is ignored.
    let after = plan
        .records_after(
            &before,
            [
                (policy_key("new"), "9".into()),
                (policy_key("stray"), "5".into()),
            ],
        )
        .expect("records changed");
    assert_eq!(
        after,
        [
            ("prod/checked".to_owned(), record("3", "dc")),
            ("prod/kept".to_owned(), record("1", "dk")),
            ("prod/new".to_owned(), record("9", "dn")),
        ]
        .into()
    );
    // A record that no longer holds is dropped even when nothing new was learnt.
    let only_kept = Plan {
        recorded: vec!["prod/kept".into()],
        ..Plan::default()
    };
    assert_eq!(
        only_kept.records_after(&before, []),
        Some([("prod/kept".to_owned(), record("1", "dk"))].into())
    );
    // And all of them holding, nothing learnt: no write.
    let all_kept = Plan {
        recorded: vec!["prod/kept".into(), "prod/gone".into()],
        ..Plan::default()
    };
    assert_eq!(all_kept.records_after(&before, []), None);
}

#[test]
fn batches_group_only_independent_neighbours() {
    let delete = |name: &str| Action::Delete(policy_key(name));
    let gateway = ObjectKey {
        kind: Kind::Gateway,
        namespace: "prod".into(),
        name: "w".into(),
    };
    let d = base_desired();
    let apply_policy = apply_new(&d);
    let relation = |id: u64| Action::SetRelationData {
        endpoint: "service-mesh".into(),
        relation_id: id,
        app: [("k".to_owned(), "v".to_owned())].into(),
        unit: BTreeMap::new(),
    };
    let rule = |name: &str| {
        Action::Delete(ObjectKey {
            kind: Kind::DestinationRule,
            namespace: "prod".into(),
            name: name.into(),
        })
    };
    let actions = vec![
        Action::Delete(gateway.clone()),
        Action::Delete(gateway.clone()),
        rule("r1"),
        rule("r2"),
        delete("a"),
        delete("b"),
        apply_policy.clone(),
        apply_policy.clone(),
        relation(1),
        relation(2),
        delete("c"),
    ];
    let sizes: Vec<usize> = batches(&actions).map(<[Action]>::len).collect();
    // Waypoint writes are never batched; policy deletes, traffic-object deletes, policy
    // applies and relation data each are, and a batch never spans two kinds of write (nor
    // two kinds of object).
    assert_eq!(sizes, vec![1, 1, 2, 2, 2, 2, 1]);
    let flattened: Vec<&Action> = batches(&actions).flatten().collect();
    assert_eq!(flattened, actions.iter().collect::<Vec<_>>(), "order kept");
    assert_eq!(batches(&[]).count(), 0);
}

#[test]
fn a_refused_policy_is_not_sent_again_until_it_changes() {
    let d = base_desired();
    let mut live = converged_live();
    live.policies = Some(vec![]);
    let key = record_key("prod", "p-new");
    live.refused = [(key.clone(), d.policies[0].digest.clone())].into();
    let p = plan(&d, &live);
    assert_eq!(p.actions, vec![]);
    assert_eq!(p.refused, vec![key.clone()]);
    // Still refused, nothing new: the memo needs no write.
    assert_eq!(p.refusals_after(&live.refused, []), None);
    // Another digest under that key: sent, and remembered if refused again.
    live.refused = [(key.clone(), "older".to_owned())].into();
    let p = plan(&d, &live);
    assert_eq!(p.actions.len(), 1);
    assert!(p.refused.is_empty());
    assert_eq!(
        p.refusals_after(&live.refused, [policy_key("p-new")]),
        Some([(key.clone(), d.policies[0].digest.clone())].into())
    );
    // Accepted this time: forgotten.
    assert_eq!(p.refusals_after(&live.refused, []), Some(Refusals::new()));
}

/// A policy listed under one of our owner labels, written by `manager`.
fn labelled(name: &str, instance: &str, manager: &str) -> LiveObject {
    let mut obj = owned_policy(name, instance, "istio-authorization-policy", 1);
    obj.managers = vec![manager.to_owned()];
    obj
}

#[test]
fn only_provably_ours_is_deleted() {
    let d = base_desired();
    // Another beacon, app `prod` in model `istio-beacon-k8s`: its current label is our
    // legacy one. Its policies are named `prod-istio-beacon-k8s-policy-...` and written by
    // field manager `prod`.
    let theirs = labelled(
        "prod-istio-beacon-k8s-policy-web-team-db-1234abcd",
        "istio-beacon-k8s-prod",
        "prod",
    );
    // Our legacy label, our field manager, but not a name we give.
    let odd_name = labelled("hand-made", "istio-beacon-k8s-prod", "istio-beacon-k8s");
    // Our current label put on someone else's object.
    let relabelled = labelled("p-relabelled", OWNER, "kubectl-client-side-apply");
    // Our legacy label, our manager, our naming: ours (the Python beacon's, before 1.0).
    let legacy_ours = labelled(
        "istio-beacon-k8s-prod-policy-a-prod-b-0badcafe",
        "istio-beacon-k8s-prod",
        "istio-beacon-k8s",
    );
    let mut live = converged_live();
    live.policies
        .as_mut()
        .unwrap()
        .extend([theirs, odd_name, relabelled, legacy_ours.clone()]);
    let p = plan(&d, &live);
    assert_eq!(p.actions, vec![Action::Delete(legacy_ours.key.clone())]);
    assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
    assert!(
        p.warnings
            .iter()
            .all(|w| w.starts_with("Leaving AuthorizationPolicy prod/"))
    );
    assert!(p.warnings[0].contains("field manager \"istio-beacon-k8s\""));
    // The teardown too.
    let t = teardown(&live, &d.ownership, "prod", "prod.istio-beacon-k8s");
    let deleted: Vec<&str> = t
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Delete(k) => Some(k.name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(deleted, vec!["p-new", legacy_ours.key.name.as_str()]);
}

#[test]
fn unbound_traffic_services_are_said_in_one_line() {
    let mut d = base_desired();
    d.traffic.services = (0..12)
        .map(|i| {
            let origin = crate::desired::Origin {
                relation_id: i,
                app: format!("app{i}"),
            };
            (format!("app{i}"), origin)
        })
        .collect();
    let mut live = converged_live();
    live.waypoint_services = Some(["app0".to_owned()].into());
    let warnings: Vec<String> = plan(&d, &live)
        .warnings
        .into_iter()
        .filter(|w| w.contains("traffic intents"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("11 traffic intents shape Services no waypoint handles"));
    assert!(warnings[0].ends_with(" and 1 more"), "{}", warnings[0]);
    assert!(!warnings[0].contains("app0 "));
    // Not read (the model is on the mesh, or no intent): nothing said.
    live.waypoint_services = None;
    assert!(
        plan(&d, &live)
            .warnings
            .iter()
            .all(|w| !w.contains("traffic intents"))
    );
}

/// A Consul ServiceIntentions `name` as listed, labelled in `scope` by `instance`, written by
/// `manager`.
fn intentions(name: &str, scope: &str, manager: &str, source: &str) -> Value {
    json!({
        "apiVersion": "consul.hashicorp.com/v1alpha1",
        "kind": "ServiceIntentions",
        "metadata": {
            "name": name,
            "namespace": "prod",
            "labels": {"app.kubernetes.io/instance": OWNER, "kubernetes-resource-handler-scope": scope},
            "managedFields": [{"manager": manager}],
        },
        "spec": {"destination": {"name": "myapp"}, "sources": [{"name": source, "action": "allow"}]},
    })
}

/// A Linkerd Server as listed, ours.
fn linkerd_server(name: &str) -> Value {
    json!({
        "apiVersion": "policy.linkerd.io/v1beta3",
        "kind": "Server",
        "metadata": {
            "name": name,
            "namespace": "prod",
            "labels": {"app.kubernetes.io/instance": OWNER, "kubernetes-resource-handler-scope": "mesh-backend-policy"},
            "managedFields": [{"manager": "istio-beacon-k8s"}],
        },
        "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "myapp"}}, "port": 80},
    })
}

/// Objects as a LIST gives them.
fn listed(objects: Vec<Value>) -> Option<Vec<LiveObject>> {
    Some(objects.iter().filter_map(LiveObject::from_value).collect())
}

fn backend_key(kind: Kind, name: &str) -> ObjectKey {
    ObjectKey {
        kind,
        namespace: "prod".into(),
        name: name.into(),
    }
}

#[test]
fn backend_objects_are_applied_and_pruned_in_their_own_scope() {
    let wanted = |source: &str| {
        let mut body = intentions("myapp", "mesh-backend-policy", "x", source);
        body["metadata"]
            .as_object_mut()
            .expect("meta")
            .remove("managedFields");
        body
    };
    let mut desired = base_desired();
    desired.policies.clear();
    desired.backend_objects = vec![wanted("client")];
    let mut live = converged_live();
    live.policies = Some(vec![]);
    // The Consul kind is listed and holds nothing: the intentions are applied.
    live.backend = [(Kind::ServiceIntentions, Some(vec![]))].into();
    let p = plan(&desired, &live);
    assert_eq!(
        p.actions,
        vec![Action::Apply {
            key: backend_key(Kind::ServiceIntentions, "myapp"),
            body: wanted("client"),
        }]
    );
    // In place: nothing to do.
    live.backend = [(
        Kind::ServiceIntentions,
        listed(vec![intentions(
            "myapp",
            "mesh-backend-policy",
            "istio-beacon-k8s",
            "client",
        )]),
    )]
    .into();
    assert!(plan(&desired, &live).actions.is_empty());
    // Changed: applied again.
    desired.backend_objects = vec![wanted("other")];
    assert_eq!(plan(&desired, &live).actions.len(), 1);
    // A switch to another backend (here: none wanted) with every backend kind listed: our
    // objects of the old backend are deleted; another manager's, or another scope's, stay.
    desired.backend_objects.clear();
    live.backend = [
        (
            Kind::ServiceIntentions,
            listed(vec![
                intentions("myapp", "mesh-backend-policy", "istio-beacon-k8s", "client"),
                intentions("theirs", "mesh-backend-policy", "consul-operator", "client"),
                intentions(
                    "traffic",
                    "istio-traffic-intent",
                    "istio-beacon-k8s",
                    "client",
                ),
            ]),
        ),
        (
            Kind::LinkerdServer,
            listed(vec![linkerd_server("myapp-80")]),
        ),
        (Kind::TrafficTarget, None),
    ]
    .into();
    let p = plan(&desired, &live);
    assert_eq!(
        p.actions,
        vec![
            Action::Delete(backend_key(Kind::ServiceIntentions, "myapp")),
            Action::Delete(backend_key(Kind::LinkerdServer, "myapp-80")),
        ]
    );
    assert!(
        p.warnings.iter().any(|w| w.contains("theirs")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn backend_objects_of_a_kind_not_listed_or_not_installed_are_not_written() {
    let mut desired = base_desired();
    desired.policies.clear();
    desired.backend_objects = vec![linkerd_server("myapp-80")];
    let mut live = converged_live();
    live.policies = Some(vec![]);
    assert!(plan(&desired, &live).actions.is_empty());
    live.backend = [(Kind::LinkerdServer, None)].into();
    assert!(plan(&desired, &live).actions.is_empty());
}

#[test]
fn teardown_deletes_our_backend_objects() {
    let mut live = Live {
        backend: [(
            Kind::LinkerdServer,
            listed(vec![linkerd_server("myapp-80")]),
        )]
        .into(),
        ..Live::default()
    };
    live.namespace_labels = Default::default();
    let p = teardown(&live, &ownership(), "prod", "prod.istio-beacon-k8s");
    assert_eq!(
        p.actions,
        vec![Action::Delete(backend_key(Kind::LinkerdServer, "myapp-80"))]
    );
}
