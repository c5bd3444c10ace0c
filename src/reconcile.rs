//! One hook, end to end: which work the event asks for, and running it through the data
//! path. Exit policy: `Err` only when retrying the hook can help.

use anyhow::Context as _;
use charm_runtime::{Event, HookEvent, Model, Status};
use futures::stream::{self, StreamExt};

use crate::apply::{self, Done, KubeWriter};
use crate::desired::{Desired, Names, RelationWrite, desired};
use crate::kinds::Kind;
use crate::live::{self, KubeFailure};
use crate::plan::{self, Action, Phase};
use crate::snapshot::{self, Snapshot, Trigger};
use crate::status::{
    self, MSG_BACKUP, MSG_LABELS, MSG_POLICIES, MSG_WAYPOINT, Outcome, UnitStatus,
};

pub async fn dispatch(model: &Model) -> anyhow::Result<()> {
    match Trigger::of(&model.context().event) {
        Trigger::Ignore => Ok(()),
        Trigger::Remove => remove(model).await,
        Trigger::ProviderDataOnly => {
            if !model.is_leader()? {
                return Ok(());
            }
            let snap = snapshot::read(model)?;
            snapshot::remember(model.context(), &snap, &Default::default());
            let names = Names::new(&snap.model, &snap.app)?;
            let writes = crate::desired::provider_databags(&snap, &names);
            publish(model, &snap, &writes)?;
            snapshot::save_published(model, &snap, plan::published(&writes))?;
            Ok(())
        }
        Trigger::Reconcile => {
            let snap = snapshot::read(model)?;
            if snap.leader {
                leader_reconcile(model, &snap).await
            } else {
                backup(model, &snap)
            }
        }
    }
}

/// A non-leader only publishes its own scrape unit data and says it is standing by.
fn backup(model: &Model, snap: &Snapshot) -> anyhow::Result<()> {
    publish(model, snap, &crate::desired::telemetry_databags(snap))?;
    set_status(model, &UnitStatus::Active(MSG_BACKUP.to_owned()))
}

fn set_status(model: &Model, status: &UnitStatus) -> anyhow::Result<()> {
    let status = match status {
        UnitStatus::Active(m) => Status::active(m),
        UnitStatus::Maintenance(m) => Status::maintenance(m),
        UnitStatus::Waiting(m) => Status::waiting(m),
        UnitStatus::Blocked(m) => Status::blocked(m),
    };
    model.set_unit_status(&status).context("status-set")
}

/// Write the keys of `writes` that differ from our current databags (outside a full plan).
fn publish(model: &Model, snap: &Snapshot, writes: &[RelationWrite]) -> anyhow::Result<()> {
    let live = plan::Live {
        databags: snap.databags.clone(),
        ..plan::Live::default()
    };
    let actions: Vec<Action> = writes
        .iter()
        .filter_map(|write| plan::relation_data(write, &live))
        .collect();
    log_relation_writes(&actions);
    apply::set_relation_data_all(model, &actions)
}

/// One line for all the relation-data writes among `actions`.
fn log_relation_writes(actions: &[Action]) {
    let mut writes = actions
        .iter()
        .filter(|a| matches!(a, Action::SetRelationData { .. }));
    match (writes.next(), writes.count()) {
        (Some(single), 0) => tracing::debug!("{single}"),
        (Some(_), more) => tracing::debug!("Updating our data on {} relations", more + 1),
        (None, _) => {}
    }
}

/// Log what the pure core found wrong with consumer data.
fn log_desired(desired: &Desired) {
    for skipped in &desired.skipped {
        tracing::error!("{skipped}");
    }
    for warning in &desired.warnings {
        tracing::warn!("{warning}");
    }
}

async fn kube_client() -> anyhow::Result<kube::Client> {
    charm_runtime::k8s::client()
        .await
        .context("cannot build the Kubernetes client")
}

/// The leader's holistic reconcile (§4.1).
async fn leader_reconcile(model: &Model, snap: &Snapshot) -> anyhow::Result<()> {
    let names = Names::new(&snap.model, &snap.app)?;
    let desired = desired(snap)?;
    snapshot::remember(model.context(), snap, &desired.derived);
    log_desired(&desired);
    let mut outcome = Outcome {
        skipped: desired.skipped.len(),
        ..Outcome::default()
    };

    set_status(model, &UnitStatus::Maintenance(MSG_LABELS.to_owned()))?;
    let client = kube_client().await?;
    let kube_live = match live::read(&client, &snap.model, &desired, &names).await {
        Ok(kube_live) => Some(kube_live),
        Err(KubeFailure::Blocked(msg)) => {
            outcome.blocked.push(msg);
            None
        }
        Err(e @ KubeFailure::Retryable { .. }) => return Err(e.into()),
    };
    let Some(kube_live) = kube_live else {
        // Still publish relation data: it needs no API server.
        publish(model, snap, &desired.provider_databags)?;
        publish(model, snap, &desired.telemetry_databags)?;
        snapshot::save_published(model, snap, plan::published(&desired.provider_databags))?;
        return set_status(model, &status::final_status(&outcome));
    };
    // A missing CRD only matters when we have something of that kind to create.
    let wants_policies = !desired.policies.is_empty() || !desired.modeloperator.is_empty();
    if kube_live.policies.is_none() && wants_policies {
        outcome
            .blocked
            .push(live::missing_crd_message(Kind::AuthorizationPolicy));
    }
    if kube_live.gateways.is_none() && !desired.waypoint.is_empty() {
        outcome
            .blocked
            .push(live::missing_crd_message(Kind::Gateway));
    }
    let pebble_live = live::pebble_plan(&desired.pebble.container).await;
    let records_path = crate::memory::AppliedRecords::path(model.context());
    // A new charm revision may build different bodies for the same digests.
    let applied = match (&records_path, &model.context().event) {
        (_, Event::Hook(HookEvent::UpgradeCharm)) | (None, _) => Default::default(),
        (Some(path), _) => crate::memory::AppliedRecords::load(path),
    };
    let live = plan::Live {
        pebble_plan: pebble_live,
        databags: snap.databags.clone(),
        applied,
        ..kube_live
    };
    let plan = plan::plan(&desired, &live);
    // Records learnt in this hook (compared in full, or applied).
    let mut records = plan.verified.clone();
    for warning in &plan.warnings {
        tracing::warn!("{warning}");
    }
    tracing::debug!("reconcile plan: {} actions", plan.actions.len());
    log_relation_writes(&plan.actions);

    let writer = KubeWriter {
        client: client.clone(),
        field_manager: snap.app.clone(),
        model: snap.model.clone(),
    };
    let mut kube_blocked = false;
    let mut waypoint_checked = false;
    // Consecutive policy deletes (then applies), and consecutive relation-data writes, form
    // one batch: independent writes, sent concurrently; deletes still all finish before
    // applies start, as upstream orders them.
    for batch in plan
        .actions
        .chunk_by(|a, b| batch_of(a).is_some() && batch_of(a) == batch_of(b))
    {
        let Some(action) = batch.first() else {
            continue;
        };
        if action.phase() >= Phase::Policies && !waypoint_checked {
            waypoint_checked = true;
            check_waypoint(model, &client, snap, &desired, &mut outcome).await?;
        }
        let results: Vec<Result<Done, KubeFailure>> = match action {
            Action::AddPebbleLayer {
                container,
                label,
                layer,
            } => {
                apply::add_pebble_layer(container, label, layer).await?;
                continue;
            }
            Action::SetRelationData { .. } => {
                apply::set_relation_data_all(model, batch)?;
                continue;
            }
            _ if kube_blocked => continue,
            _ => {
                log_batch(batch);
                stream::iter(batch)
                    .map(|a| writer.run(a))
                    .buffer_unordered(POLICY_WRITE_CONCURRENCY)
                    .collect()
                    .await
            }
        };
        for result in results {
            match result {
                Ok(Done::Written) => {}
                Ok(Done::Applied {
                    key,
                    resource_version: Some(resource_version),
                }) => {
                    let key = plan::applied_key(&key.namespace, &key.name);
                    if let Some(digest) = plan.applying.get(&key) {
                        let digest = digest.clone();
                        records.insert(
                            key,
                            plan::AppliedRecord {
                                resource_version,
                                digest,
                            },
                        );
                    }
                }
                Ok(Done::Applied { .. }) => {}
                Ok(Done::Rejected) => outcome.skipped += 1,
                Err(KubeFailure::Blocked(msg)) => {
                    // Later writes would fail the same way; relation data still goes out.
                    if !kube_blocked {
                        outcome.blocked.push(msg);
                    }
                    kube_blocked = true;
                }
                Err(e @ KubeFailure::Retryable { .. }) => return Err(e.into()),
            }
        }
    }
    if !waypoint_checked {
        check_waypoint(model, &client, snap, &desired, &mut outcome).await?;
    }
    // Every relation-data action of the plan has run by now.
    snapshot::save_published(model, snap, plan::published(&desired.provider_databags))?;
    let kept_all = plan.recorded.len() == live.applied.len();
    if let Some(path) = &records_path
        && !(kept_all && records.is_empty())
    {
        records.extend(plan::kept_records(&live.applied, &plan.recorded));
        crate::memory::AppliedRecords::save(path, &records);
    }
    set_status(model, &status::final_status(&outcome))
}

/// How many AuthorizationPolicy writes are in flight at once: a first reconcile may have
/// thousands, and the API server handles them independently.
const POLICY_WRITE_CONCURRENCY: usize = 16;

/// Writes that may run concurrently with their neighbours of the same batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batch {
    PolicyDelete,
    PolicyApply,
    RelationData,
}

fn batch_of(action: &Action) -> Option<Batch> {
    match action {
        Action::Delete(key) if key.kind == Kind::AuthorizationPolicy => Some(Batch::PolicyDelete),
        Action::Apply(body) if Kind::of(body) == Some(Kind::AuthorizationPolicy) => {
            Some(Batch::PolicyApply)
        }
        Action::ApplyPolicy { .. } => Some(Batch::PolicyApply),
        Action::SetRelationData { .. } => Some(Batch::RelationData),
        _ => None,
    }
}

/// How many names a batch's summary line lists before "and N more".
const LOGGED_NAMES: usize = 10;

/// One `juju-log` line per batch, not per object: every log line is a hook-tool process,
/// and a first reconcile may write thousands of policies. Each object is still traced.
fn log_batch(batch: &[Action]) {
    if let [single] = batch {
        tracing::info!("{single}");
        return;
    }
    for action in batch {
        tracing::trace!("{action}");
    }
    let verb = match batch.first().and_then(batch_of) {
        Some(Batch::PolicyDelete) => "Deleting",
        _ => "Applying",
    };
    let names: Vec<&str> = batch
        .iter()
        .filter_map(|a| match a {
            Action::Delete(key) => Some(key.name.as_str()),
            Action::Apply(body) => body.pointer("/metadata/name").and_then(|n| n.as_str()),
            Action::ApplyPolicy { intent, .. } => Some(intent.name.as_str()),
            _ => None,
        })
        .take(LOGGED_NAMES)
        .collect();
    let more = batch.len().saturating_sub(names.len());
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    tracing::info!(
        "{verb} {} AuthorizationPolicies: {}{tail}",
        batch.len(),
        names.join(", ")
    );
}

/// "Validating waypoint readiness": one GET, never a wait. Not ready → Waiting at the end,
/// while policies are still reconciled; the next event (update-status at the latest)
/// checks again.
async fn check_waypoint(
    model: &Model,
    client: &kube::Client,
    snap: &Snapshot,
    desired: &Desired,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    set_status(model, &UnitStatus::Maintenance(MSG_WAYPOINT.to_owned()))?;
    // At 0 planned units there is no waypoint to wait for.
    if !desired.waypoint.is_empty() {
        match live::waypoint_ready(client, &snap.model, &desired.waypoint_name).await {
            Ok(true) => {}
            Ok(false) => {
                outcome.waypoint_unready = Some(format!("{}/{}", snap.model, desired.waypoint_name))
            }
            Err(KubeFailure::Blocked(msg)) => outcome.blocked.push(msg),
            Err(e @ KubeFailure::Retryable { .. }) => return Err(e.into()),
        }
    }
    set_status(model, &UnitStatus::Maintenance(MSG_POLICIES.to_owned()))
}

/// `remove`: tear everything down only when the application goes to 0 units, on whichever
/// unit runs it (istio-ingress-k8s-operator#16).
async fn remove(model: &Model) -> anyhow::Result<()> {
    if model.planned_units()? > 0 {
        tracing::info!("Application is not scaling to 0. Skipping application resource removal.");
        return Ok(());
    }
    let ctx = model.context();
    let names = Names::new(&ctx.model_name, &ctx.app_name)?;
    let client = kube_client().await?;
    let (policies, gateways, hpas) = live::read_owned(&client, &names).await?;
    let namespace_labels = match live::read_namespace_labels(&client, &ctx.model_name).await {
        Ok(labels) => labels,
        Err(KubeFailure::Blocked(msg)) => {
            tracing::warn!("{msg}");
            Default::default()
        }
        Err(e) => return Err(e.into()),
    };
    let live = plan::Live {
        policies,
        gateways,
        hpas,
        namespace_labels,
        ..plan::Live::default()
    };
    let teardown = plan::teardown(&live, &ctx.model_name, &names.identity);
    for warning in &teardown.warnings {
        tracing::warn!("{warning}");
    }
    let writer = KubeWriter {
        client,
        field_manager: ctx.app_name.clone(),
        model: ctx.model_name.clone(),
    };
    for action in &teardown.actions {
        tracing::info!("{action}");
        match writer.run(action).await {
            Ok(_) => {}
            Err(KubeFailure::Blocked(msg)) => tracing::error!("Teardown incomplete: {msg}"),
            Err(e @ KubeFailure::Retryable { .. }) => return Err(e.into()),
        }
    }
    Ok(())
}
