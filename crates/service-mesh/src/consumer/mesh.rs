//! [`ServiceMeshConsumer`]: the `service_mesh` requirer and both `cross_model_mesh` sides for
//! a Rust charm, wire-identical to Python's `charmlibs.interfaces.service_mesh`.

use charm_runtime::context::{Event, HookEvent, RelationKind};
use charm_runtime::model::{Model, ModelError, Relation};
use thiserror::Error;

use super::labels::{
    LabelsError, delete_label_configmap, label_configmap_name, reconcile_charm_labels,
};
use super::policy::{CmrMap, ConsumerPolicy, RelatedApp, UnitPolicy, build_mesh_policies, cmr_map};
use crate::model::{
    CmrData, LabelMap, MeshPolicy, MeshType, ProviderAppData, ProviderDataError, dump_policies,
};
use crate::traffic::{TRAFFIC_KEY, TrafficError, TrafficIntent};

/// Default endpoint of the `service_mesh` relation.
pub const DEFAULT_MESH_RELATION: &str = "service-mesh";
/// Default requirer endpoint of `cross_model_mesh` (this app is the client).
pub const DEFAULT_CMR_REQUIRES: &str = "require-cmr-mesh";
/// Default provider endpoint of `cross_model_mesh` (this app owns policies).
pub const DEFAULT_CMR_PROVIDES: &str = "provide-cmr-mesh";

/// Why a consumer operation failed.
#[derive(Debug, Error)]
pub enum ConsumerError {
    /// Reading or writing the Juju model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The provider's app databag is not what the interface allows.
    #[error("invalid service-mesh provider data: {0}")]
    ProviderData(#[from] ProviderDataError),
    /// More than one relation on the mesh endpoint (it is declared with `limit: 1`).
    #[error("{count} relations on {endpoint}; at most one mesh provider is supported")]
    TooManyMeshRelations { endpoint: String, count: usize },
    /// No Kubernetes client could be built.
    #[error(transparent)]
    Kubernetes(#[from] charm_runtime::k8s::K8sError),
    /// Labelling the workload failed.
    #[error(transparent)]
    Labels(#[from] LabelsError),
    /// The declared traffic intent is not one the beacon would accept (nothing was written).
    #[error("invalid traffic intent: {0}")]
    Traffic(#[from] TrafficError),
}

/// What an event asks the consumer to do (see [`ServiceMeshConsumer::plan`], with an example).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventPlan {
    /// Leader: rewrite `policies` on the mesh relation.
    pub update_policies: bool,
    /// Leader: write `cmr_data` on these `require-cmr-mesh` relations.
    pub send_cmr_data: Option<CmrTarget>,
    /// Every unit: apply the provider's labels to the StatefulSet and Service.
    pub join: bool,
    /// Leader: remove the labels and delete the label record (mesh relation broken).
    pub leave: bool,
}

/// Which `require-cmr-mesh` relations get `cmr_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmrTarget {
    /// The relation of the current `relation-created` hook.
    Relation(u64),
    /// Every `require-cmr-mesh` relation (leader change, upgrade).
    All,
}

/// What the mesh provider publishes, as a consumer reads it (see [`read_provider_data`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshInfo {
    /// Labels for this application's pods and Service.
    pub labels: LabelMap,
    /// `None` for a provider too old to send `mesh_type` (lib LIBPATCH < 11).
    pub mesh_type: Option<MeshType>,
}

/// Read the provider's app databag: `None` when empty; otherwise every value must be JSON
/// and `labels` must be a `str → str` object and `mesh_type` a known mesh, as in Python. A
/// provider older than the `mesh_type` key sends only `labels`: accepted here with no mesh
/// type (the Python consumer rejects it and so cannot join such a provider).
///
/// ```
/// use service_mesh::MeshType;
/// use service_mesh::consumer::read_provider_data;
///
/// let info = read_provider_data([
///     ("labels", r#"{"istio.io/dataplane-mode": "ambient"}"#),
///     ("mesh_type", r#""istio""#),
/// ])
/// .unwrap()
/// .unwrap();
/// assert_eq!(info.mesh_type, Some(MeshType::Istio));
/// let old = read_provider_data([("labels", "{}")]).unwrap().unwrap();
/// assert_eq!(old.mesh_type, None);
/// assert_eq!(read_provider_data([]).unwrap(), None);
/// ```
pub fn read_provider_data<'a>(
    databag: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Option<MeshInfo>, ProviderDataError> {
    let entries: Vec<(&str, &str)> = databag.into_iter().collect();
    let has = |key: &str| entries.iter().any(|(k, _)| *k == key);
    if has("labels") && !has("mesh_type") {
        // Validate exactly as for a current provider, minus the missing key.
        let with_type = entries.iter().copied().chain([("mesh_type", "\"istio\"")]);
        return Ok(ProviderAppData::parse(with_type)?.map(|d| MeshInfo {
            labels: d.labels,
            mesh_type: None,
        }));
    }
    Ok(ProviderAppData::parse(entries)?.map(|d| MeshInfo {
        labels: d.labels,
        mesh_type: Some(d.mesh_type),
    }))
}

/// Joins a charm to Charmed Service Mesh: publishes the declared policies as `MeshPolicy`
/// JSON on the `service-mesh` relation, sends and reads cross-model identities, reads the
/// provider's labels and (with `auto_join`) puts the charm's pods and Service on the mesh.
///
/// A Rust charm has no event framework: build one consumer per hook and call
/// [`ServiceMeshConsumer::handle`]; it acts on exactly the events the Python library
/// observes (plus `leader-elected`/`upgrade-charm` for `cmr_data`, which Python never
/// re-sends).
///
/// ```no_run
/// use charm_runtime::{HookTools, JujuContext, Model};
/// use service_mesh::consumer::{AppPolicy, ServiceMeshConsumer, UnitPolicy};
/// use service_mesh::{Endpoint, Method};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let model = Model::new(JujuContext::from_env()?, HookTools::process())
///     .with_peer_endpoints(["peers"]);
/// let mesh = ServiceMeshConsumer::new([
///     AppPolicy::new(
///         "inbound",
///         [Endpoint {
///             ports: Some(vec![8080u16.into()]),
///             methods: Some(vec![Method::Get]),
///             paths: Some(vec!["/data".into()]),
///             hosts: None,
///         }],
///     )
///     .into(),
///     UnitPolicy::new("metrics-endpoint", [8080]).into(),
/// ])
/// .with_peer_communication("peers", [8080])
/// .auto_join(true);
/// mesh.handle(&model).await?;
/// if mesh.enabled(&model)? {
///     tracing::info!(labels = ?mesh.labels(&model)?, "on the mesh");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ServiceMeshConsumer {
    mesh_relation: String,
    cmr_requires: String,
    cmr_provides: String,
    policies: Vec<ConsumerPolicy>,
    auto_join: bool,
    traffic: Option<TrafficIntent>,
}

impl ServiceMeshConsumer {
    /// A consumer with the library's default endpoint names and `auto_join` on.
    pub fn new(policies: impl IntoIterator<Item = ConsumerPolicy>) -> Self {
        ServiceMeshConsumer {
            mesh_relation: DEFAULT_MESH_RELATION.to_owned(),
            cmr_requires: DEFAULT_CMR_REQUIRES.to_owned(),
            cmr_provides: DEFAULT_CMR_PROVIDES.to_owned(),
            policies: policies.into_iter().collect(),
            auto_join: true,
            traffic: None,
        }
    }

    /// Use other endpoint names (Python's `mesh_relation_name`,
    /// `cross_model_mesh_requires_name`, `cross_model_mesh_provides_name`).
    pub fn with_relation_names(
        mut self,
        mesh: impl Into<String>,
        cmr_requires: impl Into<String>,
        cmr_provides: impl Into<String>,
    ) -> Self {
        self.mesh_relation = mesh.into();
        self.cmr_requires = cmr_requires.into();
        self.cmr_provides = cmr_provides.into();
        self
    }

    /// Whether to label the charm's own StatefulSet and Service (default: true).
    pub fn auto_join(mut self, on: bool) -> Self {
        self.auto_join = on;
        self
    }

    /// Let the units of this application reach each other on `ports`: a [`UnitPolicy`] on
    /// the peer endpoint, whose source resolves to this application itself.
    pub fn with_peer_communication(
        mut self,
        peer_relation: impl Into<String>,
        ports: impl IntoIterator<Item = u16>,
    ) -> Self {
        self.policies
            .push(UnitPolicy::new(peer_relation, ports).into());
        self
    }

    /// Declare how this application's Service wants to be reached (load balancing,
    /// connection limits, outlier ejection, TLS, the mTLS mode of its workloads): written as
    /// `traffic` in the mesh relation's app databag with `policies` (leader, same events),
    /// for the beacon to render as a DestinationRule and PeerAuthentication. Without it the
    /// key is removed. See [`crate::traffic`] for the schema.
    ///
    /// ```
    /// use service_mesh::consumer::ServiceMeshConsumer;
    /// use service_mesh::traffic::{LoadBalancer, MtlsMode, SimpleLb, TrafficIntent, TrafficPolicy};
    ///
    /// let mesh = ServiceMeshConsumer::new([]).with_traffic(TrafficIntent {
    ///     service: None,
    ///     policy: TrafficPolicy {
    ///         load_balancer: Some(LoadBalancer::Simple(SimpleLb::LeastRequest)),
    ///         ..TrafficPolicy::default()
    ///     },
    ///     ports: vec![],
    ///     mtls: Some(MtlsMode::Strict),
    /// });
    /// assert_eq!(
    ///     mesh.traffic().unwrap().to_json(),
    ///     r#"{"version": 1, "load_balancer": {"simple": "LEAST_REQUEST"}, "mtls": "STRICT"}"#
    /// );
    /// ```
    pub fn with_traffic(mut self, intent: TrafficIntent) -> Self {
        self.traffic = Some(intent);
        self
    }

    /// The declared traffic intent, if any.
    pub fn traffic(&self) -> Option<&TrafficIntent> {
        self.traffic.as_ref()
    }

    /// The declared policies, in declaration order.
    pub fn policies(&self) -> &[ConsumerPolicy] {
        &self.policies
    }

    /// The mesh endpoint name.
    pub fn mesh_relation_name(&self) -> &str {
        &self.mesh_relation
    }

    /// What `event` (on relation `relation_id`, for relation hooks) asks for, as the Python
    /// library's observers would react. Pure: [`ServiceMeshConsumer::handle`] runs it.
    ///
    /// ```
    /// use charm_runtime::{Event, HookEvent, RelationKind};
    /// use service_mesh::consumer::{CmrTarget, ServiceMeshConsumer, UnitPolicy};
    ///
    /// let mesh = ServiceMeshConsumer::new([UnitPolicy::new("metrics-endpoint", [9090]).into()]);
    /// let created = Event::Hook(HookEvent::Relation {
    ///     endpoint: "metrics-endpoint".into(),
    ///     kind: RelationKind::Created,
    /// });
    /// assert!(mesh.plan(&created, Some(4)).update_policies);
    /// let elected = Event::Hook(HookEvent::LeaderElected);
    /// assert_eq!(mesh.plan(&elected, None).send_cmr_data, Some(CmrTarget::All));
    /// ```
    pub fn plan(&self, event: &Event, relation_id: Option<u64>) -> EventPlan {
        let mut plan = EventPlan::default();
        let Event::Hook(hook) = event else {
            return plan;
        };
        match hook {
            HookEvent::UpgradeCharm => {
                plan.update_policies = true;
                plan.send_cmr_data = Some(CmrTarget::All);
            }
            // A new leader may never have written cmr_data (Python only writes it on
            // relation-created, and only if leader then).
            HookEvent::LeaderElected => plan.send_cmr_data = Some(CmrTarget::All),
            HookEvent::Relation { endpoint, kind } => {
                let policy_relation = self.policies.iter().any(|p| p.relation() == endpoint);
                if policy_relation && matches!(kind, RelationKind::Created | RelationKind::Broken) {
                    plan.update_policies = true;
                }
                if *endpoint == self.mesh_relation {
                    match kind {
                        RelationKind::Created => plan.update_policies = true,
                        RelationKind::Changed => plan.join = self.auto_join,
                        RelationKind::Broken => plan.leave = self.auto_join,
                        _ => {}
                    }
                }
                if *endpoint == self.cmr_provides && *kind == RelationKind::Changed {
                    plan.update_policies = true;
                }
                if *endpoint == self.cmr_requires && *kind == RelationKind::Created {
                    plan.send_cmr_data = relation_id.map(CmrTarget::Relation);
                }
            }
            _ => {}
        }
        plan
    }

    /// React to the current hook (see [`ServiceMeshConsumer::plan`]). Leader-only work is
    /// skipped on other units. A Kubernetes client is built only when labels change.
    pub async fn handle(&self, model: &Model) -> Result<(), ConsumerError> {
        let ctx = model.context();
        let plan = self.plan(&ctx.event, ctx.relation_id);
        if plan == EventPlan::default() {
            return Ok(());
        }
        let leader = model.is_leader()?;
        if let Some(target) = plan.send_cmr_data.filter(|_| leader) {
            self.send_cmr_data(model, target)?;
        }
        if plan.update_policies && leader {
            self.update_service_mesh(model)?;
        }
        if plan.join {
            let labels = self.labels(model)?;
            self.set_labels(model, &labels).await?;
        }
        if plan.leave && leader {
            self.leave_mesh(model).await?;
        }
        Ok(())
    }

    /// The mesh relation, if any (`model.get_relation`; more than one is an error).
    fn mesh_relation(&self, model: &Model) -> Result<Option<Relation>, ConsumerError> {
        let mut rels = model.relations(&self.mesh_relation)?;
        match rels.len() {
            0 | 1 => Ok(rels.pop()),
            count => Err(ConsumerError::TooManyMeshRelations {
                endpoint: self.mesh_relation.clone(),
                count,
            }),
        }
    }

    /// Who the applications on `provide-cmr-mesh` really are (bad values logged, skipped).
    pub fn cmr_application_data(&self, model: &Model) -> Result<CmrMap, ConsumerError> {
        let mut entries = Vec::new();
        for rel in model.relations(&self.cmr_provides)? {
            let Some(app) = rel.app.clone() else { continue };
            let bag = model.app_data(&rel, &app)?;
            entries.push((app, bag.get("cmr_data").cloned()));
        }
        Ok(cmr_map(
            entries.iter().map(|(a, d)| (a.as_str(), d.as_deref())),
        ))
    }

    /// The policies this application asks for now (`build_mesh_policies` over the live
    /// relations of every declared policy's endpoint).
    pub fn mesh_policies(&self, model: &Model) -> Result<Vec<MeshPolicy>, ConsumerError> {
        let cmr = self.cmr_application_data(model)?;
        let mut related = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for p in &self.policies {
            if seen.contains(&p.relation()) {
                continue;
            }
            seen.push(p.relation());
            for rel in model.relations(p.relation())? {
                match rel.app {
                    Some(app) => related.push(RelatedApp::new(rel.endpoint, app)),
                    None => tracing::warn!(
                        "Relation {}:{} has no known remote application; no policy for it",
                        rel.endpoint,
                        rel.id
                    ),
                }
            }
        }
        Ok(build_mesh_policies(
            &related,
            model.app_name(),
            model.model_name(),
            &self.policies,
            &cmr,
        ))
    }

    /// Write `policies` on the mesh relation (leader only; a non-leader or a missing
    /// relation is a no-op). The value is byte-identical to the Python library's. The
    /// traffic intent goes in the same write as `traffic` (removed when none is declared);
    /// an invalid one is an error and nothing is written.
    pub fn update_service_mesh(&self, model: &Model) -> Result<(), ConsumerError> {
        let Some(rel) = self.mesh_relation(model)? else {
            return Ok(());
        };
        if !model.is_leader()? {
            tracing::debug!("Not the leader: not updating service mesh policies.");
            return Ok(());
        }
        tracing::debug!("Updating service mesh policies.");
        let traffic = match &self.traffic {
            Some(intent) => {
                intent.validate()?;
                intent.to_json()
            }
            // An empty value deletes the key.
            None => String::new(),
        };
        let policies = self.mesh_policies(model)?;
        model.set_app_data(
            &rel,
            [
                ("policies", dump_policies(&policies)),
                (TRAFFIC_KEY, traffic),
            ],
        )?;
        Ok(())
    }

    /// Write `cmr_data` (`{"app_name": …, "juju_model_name": …}`) on `require-cmr-mesh`
    /// relations (leader only; a non-leader is a no-op).
    pub fn send_cmr_data(&self, model: &Model, target: CmrTarget) -> Result<(), ConsumerError> {
        if !model.is_leader()? {
            return Ok(());
        }
        let data = CmrData {
            app_name: model.app_name().to_owned(),
            juju_model_name: model.model_name().to_owned(),
        }
        .to_json();
        let rels = match target {
            CmrTarget::Relation(id) => vec![model.relation(&self.cmr_requires, id)?],
            CmrTarget::All => model.relations(&self.cmr_requires)?,
        };
        for rel in rels {
            model.set_app_data(&rel, [("cmr_data", data.as_str())])?;
        }
        Ok(())
    }

    /// Whether a mesh provider is related (the relation exists and has a remote app).
    pub fn enabled(&self, model: &Model) -> Result<bool, ConsumerError> {
        Ok(self.mesh_relation(model)?.is_some_and(|r| r.app.is_some()))
    }

    /// The provider's data, `None` without a relation or a remote app.
    fn provider_data(&self, model: &Model) -> Result<Option<MeshInfo>, ConsumerError> {
        let Some(rel) = self.mesh_relation(model)? else {
            return Ok(None);
        };
        if rel.app.is_none() {
            return Ok(None);
        }
        let bag = model.remote_app_data(&rel)?;
        Ok(read_provider_data(
            bag.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )?)
    }

    /// The labels the provider asks this application's pods and Service to carry (`{}`
    /// without a provider or before it wrote anything).
    pub fn labels(&self, model: &Model) -> Result<LabelMap, ConsumerError> {
        Ok(self
            .provider_data(model)?
            .map(|i| i.labels)
            .unwrap_or_default())
    }

    /// The provider's mesh type (`None` without a provider, before it wrote anything, or
    /// for a provider too old to send it).
    pub fn mesh_type(&self, model: &Model) -> Result<Option<MeshType>, ConsumerError> {
        Ok(self.provider_data(model)?.and_then(|i| i.mesh_type))
    }

    /// Put exactly `labels` (as set by this library) on this application's StatefulSet pod
    /// template and Service, tracked in its label record (§3.10).
    pub async fn set_labels(&self, model: &Model, labels: &LabelMap) -> Result<(), ConsumerError> {
        let client = charm_runtime::k8s::client_in_namespace(model.model_name()).await?;
        self.reconcile_labels(&client, model, labels).await
    }

    /// Remove the labels this library set and delete the label record.
    pub async fn leave_mesh(&self, model: &Model) -> Result<(), ConsumerError> {
        let client = charm_runtime::k8s::client_in_namespace(model.model_name()).await?;
        self.reconcile_labels(&client, model, &Vec::new()).await?;
        delete_label_configmap(
            &client,
            model.model_name(),
            &label_configmap_name(model.app_name()),
        )
        .await?;
        Ok(())
    }

    async fn reconcile_labels(
        &self,
        client: &kube::Client,
        model: &Model,
        labels: &LabelMap,
    ) -> Result<(), ConsumerError> {
        // The Python library's client uses the application name as field manager.
        reconcile_charm_labels(
            client,
            model.app_name(),
            model.model_name(),
            &label_configmap_name(model.app_name()),
            labels,
            model.app_name(),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(endpoint: &str, kind: RelationKind) -> Event {
        Event::Hook(HookEvent::Relation {
            endpoint: endpoint.into(),
            kind,
        })
    }

    fn consumer() -> ServiceMeshConsumer {
        ServiceMeshConsumer::new([UnitPolicy::new("inbound", [80]).into()])
    }

    #[test]
    fn policies_rewritten_on_the_python_events() {
        let c = consumer();
        for ev in [
            hook("service-mesh", RelationKind::Created),
            hook("provide-cmr-mesh", RelationKind::Changed),
            hook("inbound", RelationKind::Created),
            hook("inbound", RelationKind::Broken),
            Event::Hook(HookEvent::UpgradeCharm),
        ] {
            assert!(c.plan(&ev, None).update_policies, "{ev:?}");
        }
        for ev in [
            hook("service-mesh", RelationKind::Changed),
            hook("inbound", RelationKind::Changed),
            hook("provide-cmr-mesh", RelationKind::Broken),
            Event::Hook(HookEvent::ConfigChanged),
            Event::Hook(HookEvent::LeaderElected),
        ] {
            assert!(!c.plan(&ev, None).update_policies, "{ev:?}");
        }
    }

    #[test]
    fn labels_follow_auto_join() {
        let on = consumer();
        assert!(
            on.plan(&hook("service-mesh", RelationKind::Changed), None)
                .join
        );
        assert!(
            on.plan(&hook("service-mesh", RelationKind::Broken), None)
                .leave
        );
        let off = consumer().auto_join(false);
        assert_eq!(
            off.plan(&hook("service-mesh", RelationKind::Changed), None),
            EventPlan::default()
        );
        assert_eq!(
            off.plan(&hook("service-mesh", RelationKind::Broken), None),
            EventPlan::default()
        );
    }

    #[test]
    fn cmr_data_sent_on_created_and_resent_on_leadership_and_upgrade() {
        let c = consumer();
        // relation-created: only the new relation, as Python.
        assert_eq!(
            c.plan(&hook("require-cmr-mesh", RelationKind::Created), Some(7))
                .send_cmr_data,
            Some(CmrTarget::Relation(7))
        );
        for ev in [
            Event::Hook(HookEvent::LeaderElected),
            Event::Hook(HookEvent::UpgradeCharm),
        ] {
            assert_eq!(
                c.plan(&ev, None).send_cmr_data,
                Some(CmrTarget::All),
                "{ev:?}"
            );
        }
        assert_eq!(
            c.plan(&hook("require-cmr-mesh", RelationKind::Changed), None),
            EventPlan::default()
        );
    }

    #[test]
    fn custom_relation_names() {
        let c = consumer().with_relation_names("mesh", "cmr-req", "cmr-prov");
        assert!(
            c.plan(&hook("mesh", RelationKind::Created), None)
                .update_policies
        );
        assert!(
            c.plan(&hook("cmr-prov", RelationKind::Changed), None)
                .update_policies
        );
        assert_eq!(
            c.plan(&hook("service-mesh", RelationKind::Created), None),
            EventPlan::default()
        );
    }
}
