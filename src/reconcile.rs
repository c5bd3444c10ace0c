//! One hook, end to end, as the data path reads: Juju → snapshot → desired (pure) → live →
//! plan (pure) → apply → memo → status. Which work the event asks for is [`crate::hook`].

use std::collections::BTreeMap;

use beacon_core::desired::{
    Desired, RelationWrite, consumer_memo, desired_unrendered, provider_databags,
};
use beacon_core::kinds::Kind;
use beacon_core::memo::Published;
use beacon_core::names::Names;
use beacon_core::plan::{self, Live};
use beacon_core::snapshot::Snapshot;
use beacon_core::status::{self, Findings, MSG_BACKUP, UnitStatus};
use charm_runtime::{Event, HookEvent, Model};

use crate::apply::{self, KubeWriter};
use crate::hook::Trigger;
use crate::live::{self, KubeFailure};
use crate::outcome::HookError;
use crate::snapshot::Purpose;
use crate::{actions, memo_store, snapshot};

pub async fn dispatch(model: &Model) -> Result<(), HookError> {
    match Trigger::of(&model.context().event) {
        Trigger::Ignore => Ok(()),
        Trigger::Action(name) => actions::run(model, &name).await,
        Trigger::Remove => remove(model).await,
        Trigger::ProviderDataOnly => provider_data_only(model),
        Trigger::Reconcile => {
            let snap = snapshot::read(model, Purpose::Reconcile)?;
            if snap.leader {
                leader(model, &snap).await
            } else {
                backup(model, &snap)
            }
        }
    }
}

/// The names every object is labelled with; model and app names too long to make labels
/// leave nothing to do until the operator redeploys.
fn names(model: &str, app: &str) -> Result<Names, HookError> {
    Names::new(model, app).map_err(|e| HookError::Blocked(e.to_string()))
}

pub async fn kube_client() -> Result<kube::Client, HookError> {
    charm_runtime::k8s::client().await.map_err(|e| {
        HookError::Retry(anyhow::Error::new(e).context("cannot build the Kubernetes client"))
    })
}

/// `service-mesh-relation-created`: only the provider data, as upstream.
fn provider_data_only(model: &Model) -> Result<(), HookError> {
    if !model.is_leader()? {
        return Ok(());
    }
    let snap = snapshot::read(model, Purpose::Reconcile)?;
    memo_store::save_consumers(
        model.context(),
        consumer_memo(&snap, &BTreeMap::new()).as_ref(),
    );
    let writes = provider_databags(&snap, &names(&snap.model, &snap.app)?);
    publish(model, &snap, &writes)?;
    memo_store::save_published(model, snap.published.as_ref(), plan::published(&writes))?;
    Ok(())
}

/// A non-leader publishes its own scrape unit data and says it is standing by; it keeps no
/// consumer memo.
fn backup(model: &Model, snap: &Snapshot) -> Result<(), HookError> {
    memo_store::forget_consumers(model.context());
    let mut warnings = Vec::new();
    let writes = beacon_core::desired::telemetry_databags(snap, &mut warnings);
    log_all(tracing::Level::WARN, &warnings);
    publish(model, snap, &writes)?;
    finish(model, UnitStatus::Active(MSG_BACKUP.to_owned()), false)
}

/// The leader's holistic reconcile (§4.1).
async fn leader(model: &Model, snap: &Snapshot) -> Result<(), HookError> {
    let ctx = model.context();
    let names = names(&snap.model, &snap.app)?;
    // A mesh-backend's objects are rendered once the cluster is read, and only if they are
    // not in place as remembered (plan::settle_backend).
    let mut desired = desired_unrendered(snap, &names);
    memo_store::save_consumers(ctx, desired.consumer_memo.as_ref());

    let client = match kube_client().await {
        Ok(client) => client,
        Err(e) => {
            render_and_log(&mut desired);
            return Err(e);
        }
    };
    let backend_kinds = live::backend_kinds(
        &snap.config.mesh_backend,
        snapshot::reads_everything(&ctx.event),
    );
    let (kube_live, waypoint_ready) =
        match live::read(&client, &snap.model, &desired, &names, &backend_kinds).await {
            Ok(read) => read,
            Err(KubeFailure::Blocked(msg)) => {
                render_and_log(&mut desired);
                let mut findings = findings_of(&desired);
                // Still publish relation data: it needs no API server.
                findings.blocked.push(msg);
                publish(model, snap, &desired.provider_databags)?;
                publish(model, snap, &desired.telemetry_databags)?;
                save_published(model, snap, &desired)?;
                return finish(model, status::final_status(&findings), false);
            }
            Err(retry) => {
                render_and_log(&mut desired);
                return Err(retry.into());
            }
        };
    let upgrading = matches!(ctx.event, Event::Hook(HookEvent::UpgradeCharm));
    let live = Live {
        pebble_plan: live::pebble_plan(&desired.pebble.container).await,
        databags: snap.databags.clone(),
        applied: memo_store::load_records(ctx, upgrading),
        refused: memo_store::load_refusals(ctx, snapshot::reads_everything(&ctx.event)),
        rendering: memo_store::load_rendering(ctx, upgrading),
        ..kube_live
    };
    plan::settle_backend(&mut desired, &live);
    log_desired(&desired);
    let mut findings = findings_of(&desired);
    findings.blocked.extend(live::missing_crds(&live, &desired));
    if waypoint_ready == Some(false) {
        findings.waypoint_unready = Some(format!("{}/{}", snap.model, desired.waypoint_name));
    }

    let plan = plan::plan_moving(&mut desired, &live);
    log_all(tracing::Level::WARN, &plan.warnings);
    // Every log line is a juju-log process: a plan with nothing to do says nothing.
    if !plan.actions.is_empty() {
        tracing::debug!("reconcile plan: {} actions", plan.actions.len());
    }
    log_relation_writes(&plan.actions);
    let maintenance = status::maintenance(&plan);
    if let Some(status) = &maintenance {
        set_status(model, status)?;
    }
    let writer = KubeWriter {
        client,
        field_manager: snap.app.clone(),
        model: snap.model.clone(),
    };
    let report = apply::execute(model, &writer, &plan).await?;
    findings.skipped += plan.refused.len() + report.rejected.len();
    findings.blocked.extend(report.blocked);
    if let Some(refusals) = plan.refusals_after(&live.refused, report.rejected) {
        memo_store::save_refusals(ctx, &refusals);
    }

    // Every relation-data action of the plan has run by now.
    save_published(model, snap, &desired)?;
    if let Some(records) = plan.records_after(&live.applied, report.applied) {
        memo_store::save_records(ctx, &records);
    }
    if let Some(rendering) = desired.backend_rendering()
        && live.rendering.as_ref() != Some(&rendering)
    {
        memo_store::save_rendering(ctx, &rendering);
    }
    finish(
        model,
        status::final_status(&findings),
        maintenance.is_some(),
    )
}

/// What the desired state counts in the status: skipped, narrowed.
fn findings_of(desired: &Desired) -> Findings {
    let refused = desired
        .backend_findings
        .iter()
        .filter(|f| f.refused)
        .count();
    Findings {
        skipped: desired.skipped.len() + refused,
        traffic_skipped: desired.traffic.skipped.len(),
        narrowed: desired.backend_findings.len() - refused,
        ..Findings::default()
    }
}

fn save_published(model: &Model, snap: &Snapshot, desired: &Desired) -> Result<(), HookError> {
    let published: Option<Published> = plan::published(&desired.provider_databags);
    Ok(memo_store::save_published(
        model,
        snap.published.as_ref(),
        published,
    )?)
}

/// Write the keys of `writes` that differ from our current databags (outside a full plan).
fn publish(model: &Model, snap: &Snapshot, writes: &[RelationWrite]) -> Result<(), HookError> {
    let actions = plan::relation_writes(writes, &snap.databags);
    log_relation_writes(&actions);
    apply::set_relation_data_all(model, &actions)
}

/// Set the final status, unless the unit shows it already (see [`beacon_core::status`]).
fn finish(
    model: &Model,
    final_status: UnitStatus,
    after_maintenance: bool,
) -> Result<(), HookError> {
    let current = if after_maintenance {
        None
    } else {
        current_status(model)?
    };
    if status::needs_write(current.as_ref(), &final_status, after_maintenance) {
        set_status(model, &final_status)?;
    }
    Ok(())
}

/// The unit's workload status as Juju shows it (`None` for a status we never set, e.g.
/// `unknown` or `error`).
fn current_status(model: &Model) -> Result<Option<UnitStatus>, HookError> {
    let info = model.tools().status_get()?;
    Ok(match info.status.as_str() {
        "active" => Some(UnitStatus::Active(info.message)),
        "maintenance" => Some(UnitStatus::Maintenance(info.message)),
        "waiting" => Some(UnitStatus::Waiting(info.message)),
        "blocked" => Some(UnitStatus::Blocked(info.message)),
        _ => None,
    })
}

pub fn set_status(model: &Model, status: &UnitStatus) -> Result<(), HookError> {
    use charm_runtime::Status;
    let status = match status {
        UnitStatus::Active(m) => Status::active(m),
        UnitStatus::Maintenance(m) => Status::maintenance(m),
        UnitStatus::Waiting(m) => Status::waiting(m),
        UnitStatus::Blocked(m) => Status::blocked(m),
    };
    Ok(model.set_unit_status(&status)?)
}

/// One line for all the relation-data writes among `actions`.
fn log_relation_writes(actions: &[plan::Action]) {
    let mut writes = actions
        .iter()
        .filter(|a| matches!(a, plan::Action::SetRelationData { .. }));
    match (writes.next(), writes.count()) {
        (Some(single), 0) => tracing::debug!("{single}"),
        (Some(_), more) => tracing::debug!("Updating our data on {} relations", more + 1),
        (None, _) => {}
    }
}

/// Log what the pure core found wrong with consumer data.
/// A hook that ends before the cluster is read (so without `settle_backend`) still says
/// what the consumers' data gave.
fn render_and_log(desired: &mut Desired) {
    desired.render_backend();
    log_desired(desired);
}

fn log_desired(desired: &Desired) {
    log_all(tracing::Level::ERROR, &desired.skipped);
    log_all(tracing::Level::ERROR, &desired.traffic.skipped);
    // A backend may narrow or refuse thousands of policies, on every hook: the first few
    // and a count (every log line is a process).
    const LOGGED_FINDINGS: usize = 10;
    let findings = &desired.backend_findings;
    log_all(
        tracing::Level::WARN,
        &findings[..findings.len().min(LOGGED_FINDINGS)],
    );
    if findings.len() > LOGGED_FINDINGS {
        tracing::warn!(
            "... and {} more policies the mesh-backend narrowed or refused",
            findings.len() - LOGGED_FINDINGS
        );
    }
    log_all(tracing::Level::WARN, &desired.warnings);
}

fn log_all(level: tracing::Level, lines: &[impl std::fmt::Display]) {
    for line in lines {
        match level {
            tracing::Level::ERROR => tracing::error!("{line}"),
            _ => tracing::warn!("{line}"),
        }
    }
}

/// `remove`: tear everything down only when the application goes to 0 units, on whichever
/// unit runs it (istio-ingress-k8s-operator#16).
async fn remove(model: &Model) -> Result<(), HookError> {
    if model.planned_units()? > 0 {
        tracing::info!("Application is not scaling to 0. Skipping application resource removal.");
        return Ok(());
    }
    let ctx = model.context();
    let names = names(&ctx.model_name, &ctx.app_name)?;
    let client = kube_client().await?;
    // Whichever mesh-backend was used, its objects go too.
    let owned = live::read_owned(&client, &names, &Kind::BACKEND).await?;
    let (namespace_labels, namespace_annotations) =
        match live::read_namespace(&client, &ctx.model_name).await {
            Ok(namespace) => namespace,
            Err(KubeFailure::Blocked(msg)) => {
                tracing::warn!("{msg}");
                Default::default()
            }
            Err(e) => return Err(e.into()),
        };
    let live = Live {
        namespace_labels,
        namespace_annotations,
        ..owned
    };
    let ownership = names.ownership(&ctx.model_name, &ctx.app_name);
    let teardown = plan::teardown(&live, &ownership, &ctx.model_name, &names.identity);
    log_all(tracing::Level::WARN, &teardown.warnings);
    let writer = KubeWriter {
        client,
        field_manager: ctx.app_name.clone(),
        model: ctx.model_name.clone(),
    };
    for action in &teardown.actions {
        tracing::info!("{action}");
        if let apply::Done::Blocked(msg) = writer.run(action).await? {
            tracing::error!("Teardown incomplete: {msg}");
        }
    }
    Ok(())
}
