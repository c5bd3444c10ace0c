//! The objects of a non-Istio `mesh-backend` (scope [`Scope::Backend`]), planned as the
//! policies are: an object whose memo record (resourceVersion + digest of the wanted body)
//! matches the listed one is up to date without a comparison; any other listed object is
//! compared in full (and recorded when it matches); a body the API server refused is not
//! sent again while it is unchanged ([`Live::refused`]). And before that, as the policies'
//! digests come from the consumer memo, the objects need not even be rendered when the
//! same policies rendered them earlier ([`Live::rendering`]) and the records and refusals
//! that hold give exactly those objects ([`settle_backend`]). Nothing here depends on
//! which backend or kind: a new backend kind gets all of it.

use std::collections::HashMap;

use serde_json::Value;
use service_mesh::owned::up_to_date;

use super::{Action, Live, LiveObject, Plan, delete_unclaimed, record_holds, remember_verified};
use crate::desired::{BackendIntents, BackendState, Desired};
use crate::kinds::{Kind, ObjectKey, Scope};
use crate::memo::{body_digest, is_object_record_of_other_kind, object_record_key, set_digest};

/// Make `desired`'s backend objects known before planning: remembered from
/// [`Live::rendering`] when that rendering is of the same inputs and is in place (every
/// kind of the backend listed; every listed object of ours held by its record at its
/// resourceVersion; those records and the standing refusals give the rendering's objects
/// exactly), rendered otherwise.
pub fn settle_backend(desired: &mut Desired, live: &Live) {
    let Some(backend) = &desired.backend else {
        return;
    };
    if backend.state != BackendState::Unrendered {
        return;
    }
    let held = live
        .rendering
        .as_ref()
        .filter(|memo| memo.inputs == backend.inputs)
        .and_then(|memo| {
            let (recorded, refused, wanted) = in_place(backend, live)?;
            (wanted == memo.wanted).then(|| (memo.clone(), recorded, refused))
        });
    match held {
        Some((memo, recorded, refused)) => desired.remember_backend(&memo, recorded, refused),
        None => desired.render_backend(),
    }
}

/// What the listed objects hold by their records, and the refusals that stand: their keys,
/// and the digest of the set they make (`None` as soon as a listed object of ours is not
/// held by its record, or a kind of the backend is not listed).
fn in_place(backend: &BackendIntents, live: &Live) -> Option<(Vec<String>, Vec<String>, String)> {
    let listed_all = Kind::of_backend(&backend.backend)
        .into_iter()
        .all(|kind| matches!(live.backend.get(&kind), Some(Some(_))));
    if !listed_all {
        return None;
    }
    let mut recorded: Vec<String> = Vec::new();
    let mut digests: Vec<&str> = Vec::new();
    let listed = live.backend.values().flatten().flatten();
    for obj in listed.filter(|o| o.scope() == Some(Scope::Backend)) {
        let key = object_record_key(&obj.key);
        let record = live.applied.get(&key)?;
        if Some(&record.resource_version) != obj.resource_version.as_ref() {
            return None;
        }
        recorded.push(key);
        digests.push(&record.digest);
    }
    let mut pairs: Vec<(&str, &str)> = recorded.iter().map(String::as_str).zip(digests).collect();
    let refusals = live
        .refused
        .iter()
        .filter(|(key, _)| is_object_record_of_other_kind(key));
    let mut refused = Vec::new();
    for (key, digest) in refusals {
        pairs.push((key.as_str(), digest.as_str()));
        refused.push(key.clone());
    }
    let wanted = set_digest(pairs);
    Some((recorded, refused, wanted))
}

/// The objects of the kinds listed this hook are pruned and applied (a kind whose CRD is
/// missing is neither listed nor written). Every backend's kinds are listed on hooks that
/// read everything, so a switch of backend (config-changed) deletes the previous backend's
/// objects. Deletes go before applies; applies are grouped by kind, so that their writes
/// form batches.
///
/// `moved`: `desired`'s backend objects, taken out of it to be moved into the applies
/// rather than copied ([`super::plan_moving`]).
pub(super) fn plan_backend(
    desired: &Desired,
    mut moved: Option<Vec<Value>>,
    live: &Live,
    out: &mut Plan,
) {
    match desired.backend.as_ref().map(|b| &b.state) {
        Some(BackendState::Remembered { recorded, refused }) => {
            // In place as remembered: the records still hold, the refusals still stand.
            out.recorded.extend(recorded.iter().cloned());
            out.refused.extend(refused.iter().cloned());
            return;
        }
        Some(BackendState::Unrendered) => {
            // Planning from nothing would prune every object: plan nothing.
            out.warnings.push(format!(
                "internal error: the {} objects were not rendered",
                Scope::Backend.label()
            ));
            return;
        }
        Some(BackendState::Rendered { .. }) | None => {}
    }
    let installed = |kind: Kind| matches!(live.backend.get(&kind), Some(Some(_)));
    let mut keyless = false;
    // Each wanted object by its index in `moved` or `desired.backend_objects`.
    let mut wanted: Vec<(ObjectKey, usize)> = moved
        .as_deref()
        .unwrap_or(&desired.backend_objects)
        .iter()
        .enumerate()
        .filter_map(|(i, body)| {
            let key = ObjectKey::of(body);
            keyless |= key.is_none();
            Some((key?, i))
        })
        .filter(|(key, _)| installed(key.kind))
        .collect();
    // `desired` builds no body without kind, namespace or name; if one slipped through, say so.
    if keyless {
        out.warnings.push(format!(
            "internal error: a desired {} object without kind, namespace or name",
            Scope::Backend.label()
        ));
    }
    wanted.sort_by_key(|(key, _)| key.kind);
    let listed: Vec<&LiveObject> = live
        .backend
        .values()
        .flatten()
        .flatten()
        .filter(|o| o.scope() == Some(Scope::Backend))
        .collect();
    if wanted.is_empty() && listed.is_empty() {
        return;
    }
    // Each listed object, and whether a wanted one claimed it.
    let mut by_key: HashMap<&ObjectKey, (&LiveObject, bool)> = HashMap::new();
    for obj in &listed {
        by_key.entry(&obj.key).or_insert((obj, false));
    }
    let mut applies = Vec::new();
    for (key, i) in wanted {
        let objects = moved.as_deref().unwrap_or(&desired.backend_objects);
        let Some(body) = objects.get(i) else {
            continue;
        };
        let record_key = object_record_key(&key);
        let digest = body_digest(body);
        let current = by_key.get_mut(&key).map(|(obj, claimed)| {
            *claimed = true;
            *obj
        });
        // Refused as it is: not sent again until it changes or a hook reads everything.
        if live.refused.get(&record_key) == Some(&digest) {
            out.refused.push(record_key);
            continue;
        }
        if let Some(obj) = current {
            if record_holds(&live.applied, &record_key, obj, &digest) {
                out.recorded.push(record_key);
                continue;
            }
            if up_to_date(body, &obj.comparable()) {
                remember_verified(out, record_key, obj, digest);
                continue;
            }
        }
        let body = match moved.as_mut() {
            Some(objects) => objects.get_mut(i).map(std::mem::take),
            None => desired.backend_objects.get(i).cloned(),
        };
        let Some(body) = body else {
            continue;
        };
        out.applying.insert(record_key, digest);
        applies.push(Action::Apply { key, body });
    }
    delete_unclaimed(listed, &mut by_key, |obj| &obj.key, &desired.ownership, out);
    out.actions.append(&mut applies);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::fixtures::{example, run};
    use crate::kinds::{Kind, ObjectKey};
    use crate::memo::object_record_key;
    use crate::plan::{Action, Live, LiveObject, Plan, plan};

    /// The example model under `backend`, with policies it renders.
    fn snapshot(backend: &str) -> crate::snapshot::Snapshot {
        let mut snap = example();
        // App policies each backend can say (Consul has no ports, Linkerd no methods).
        let (ports, methods) = match backend {
            "consul" => ("null", r#"["GET"]"#),
            _ => ("[5432]", "null"),
        };
        snap.service_mesh = ["mydb", "web"]
            .into_iter()
            .enumerate()
            .map(|(i, app)| {
                let policies = format!(
                    r#"[{{"source_namespace": "prod", "source_app_name": "myapp", "target_namespace": "prod", "target_app_name": "{app}", "target_selector_labels": null, "target_service": null, "target_type": "app", "endpoints": [{{"hosts": null, "ports": {ports}, "methods": {methods}, "paths": null}}]}}]"#
                );
                crate::fixtures::mesh(3 + i as u64, app, Some(&policies))
            })
            .collect();
        snap.config.mesh_backend =
            service_mesh::backends::Backend::from_name(backend).expect("backend");
        snap
    }

    /// The example model under `backend`, and a world where its kinds are listed and
    /// everything else is in place.
    fn setup(backend: &str) -> (crate::desired::Desired, Live) {
        let snap = snapshot(backend);
        let desired = run(&snap);
        assert!(desired.backend_objects.len() >= 2, "{backend}");
        let mut live = Live {
            backend: Kind::of_backend(&snap.config.mesh_backend)
                .into_iter()
                .map(|k| (k, Some(vec![])))
                .collect(),
            ..crate::plan::converge_tests::empty_cluster()
        };
        // Everything but the backend's objects converged.
        let first = plan(&desired, &live);
        let others: Vec<Action> = first
            .actions
            .into_iter()
            .filter(
                |a| !matches!(a, Action::Apply { key, .. } if Kind::BACKEND.contains(&key.kind)),
            )
            .collect();
        crate::plan::converge_tests::simulate(&mut live, &others);
        (desired, live)
    }

    /// The backend objects `p` applies.
    fn applies(p: &Plan) -> Vec<(ObjectKey, serde_json::Value)> {
        p.actions
            .iter()
            .filter_map(|a| match a {
                Action::Apply { key, body } if Kind::BACKEND.contains(&key.kind) => {
                    Some((key.clone(), body.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Stores `applied` as the API server would (at resourceVersion `rv`), and the records
    /// the hook keeps after it.
    fn store(live: &mut Live, p: &Plan, applied: &[(ObjectKey, serde_json::Value)], rv: &str) {
        for (key, body) in applied {
            let mut stored = body.clone();
            stored["metadata"]["resourceVersion"] = json!(rv);
            stored["metadata"]["managedFields"] = json!([{"manager": "istio-beacon-k8s"}]);
            let list = live
                .backend
                .get_mut(&key.kind)
                .and_then(Option::as_mut)
                .expect("listed");
            list.retain(|o| o.key != *key);
            list.extend(LiveObject::from_value(&stored));
        }
        let answered = applied.iter().map(|(k, _)| (k.clone(), rv.to_owned()));
        if let Some(records) = p.records_after(&live.applied, answered) {
            live.applied = records.into_iter().collect();
        }
    }

    #[test]
    fn a_recorded_backend_object_is_not_compared_and_drift_is_repaired() {
        for backend in ["smi", "consul", "linkerd"] {
            let (desired, mut live) = setup(backend);
            let first = plan(&desired, &live);
            let applied = applies(&first);
            assert_eq!(applied.len(), first.actions.len(), "{backend}");
            assert_eq!(applied.len(), first.applying.len(), "{backend}");
            store(&mut live, &first, &applied, "1");
            assert_eq!(live.applied.len(), applied.len(), "{backend}");

            // A no-op: every object held by its record, none compared.
            let noop = plan(&desired, &live);
            assert_eq!(noop.actions, vec![], "{backend}");
            assert_eq!(noop.recorded.len(), applied.len(), "{backend}");
            assert!(noop.verified.is_empty(), "{backend}");
            assert_eq!(noop.records_after(&live.applied, []), None, "{backend}");

            // The record is what is trusted: at the same resourceVersion, the object is not
            // read (only a write changes the resourceVersion).
            let (key, _) = &applied[0];
            let edit = |live: &mut Live, rv: &str| {
                let list = live.backend.get_mut(&key.kind).and_then(Option::as_mut);
                let obj = list
                    .expect("listed")
                    .iter_mut()
                    .find(|o| o.key == *key)
                    .expect("stored");
                obj.spec =
                    Some(serde_json::value::to_raw_value(&json!({"edited": true})).expect("raw"));
                obj.resource_version = Some(rv.to_owned());
            };
            edit(&mut live, "1");
            assert_eq!(plan(&desired, &live).actions, vec![], "{backend}");
            // Edited behind our back (a new resourceVersion): compared, and repaired.
            edit(&mut live, "2");
            let repair = plan(&desired, &live);
            assert_eq!(applies(&repair), vec![applied[0].clone()], "{backend}");
            assert_eq!(repair.actions.len(), 1, "{backend}");
            store(&mut live, &repair, &applies(&repair), "3");
            assert_eq!(plan(&desired, &live).actions, vec![], "{backend}");
            // Deleted behind our back: applied again.
            for list in live.backend.values_mut().flatten() {
                list.retain(|o| o.key != *key);
            }
            let recreate = plan(&desired, &live);
            assert_eq!(applies(&recreate), vec![applied[0].clone()], "{backend}");
            // A record lost (or a memo from another revision): compared in full, found
            // in place, and recorded again.
            store(&mut live, &recreate, &applies(&recreate), "4");
            let lost = live.applied.keys().next().cloned().expect("a record");
            live.applied.remove(&lost);
            let verify = plan(&desired, &live);
            assert_eq!(verify.actions, vec![], "{backend}");
            assert_eq!(
                verify.verified.keys().collect::<Vec<_>>(),
                vec![&lost],
                "{backend}"
            );
            let records = verify
                .records_after(&live.applied, [])
                .expect("a record learnt");
            assert_eq!(records.len(), applied.len(), "{backend}");
        }
    }

    #[test]
    fn a_refused_backend_object_is_not_sent_again_until_it_changes() {
        for backend in ["smi", "consul", "linkerd"] {
            let (mut desired, mut live) = setup(backend);
            let first = plan(&desired, &live);
            let applied = applies(&first);
            let (refused, _) = applied[0].clone();
            let refusals = first
                .refusals_after(&live.refused, [refused.clone()])
                .expect("remembered");
            assert_eq!(
                refusals.keys().collect::<Vec<_>>(),
                vec![&object_record_key(&refused)],
                "{backend}"
            );
            let rest: Vec<_> = applied[1..].to_vec();
            store(&mut live, &first, &rest, "1");
            live.refused = refusals.clone();

            // Not sent again, still counted; the memo keeps it as it is.
            let again = plan(&desired, &live);
            assert_eq!(again.actions, vec![], "{backend}");
            assert_eq!(
                again.refused,
                vec![object_record_key(&refused)],
                "{backend}"
            );
            assert_eq!(again.refusals_after(&live.refused, []), None, "{backend}");

            // Changed: sent.
            let body = desired
                .backend_objects
                .iter_mut()
                .find(|b| ObjectKey::of(b).as_ref() == Some(&refused))
                .expect("wanted");
            body["metadata"]["labels"]["changed"] = json!("yes");
            let changed = plan(&desired, &live);
            assert_eq!(applies(&changed).len(), 1, "{backend}");
            assert!(changed.refused.is_empty(), "{backend}");
            // Forgotten (a hook that reads everything loads no refusals): sent.
            live.refused.clear();
            assert_eq!(applies(&plan(&desired, &live)).len(), 1, "{backend}");
        }
    }

    #[test]
    fn objects_in_place_as_remembered_are_not_rendered() {
        use crate::desired::{BackendState, desired_unrendered};
        use crate::plan::settle_backend;
        for backend in ["smi", "consul", "linkerd"] {
            let snap = snapshot(backend);
            let (desired, mut live) = setup(backend);
            let first = plan(&desired, &live);
            let applied = applies(&first);
            // The first refused by the API server, the others applied.
            let (refused, _) = applied[0].clone();
            live.refused = first
                .refusals_after(&live.refused, [refused.clone()])
                .expect("remembered");
            store(&mut live, &first, &applied[1..], "1");
            live.rendering = desired.backend_rendering();
            assert!(live.rendering.is_some(), "{backend}");

            let settled = |snap: &crate::snapshot::Snapshot, live: &Live| {
                let names = crate::names::Names::new(&snap.model, &snap.app).expect("names");
                let mut d = desired_unrendered(snap, &names);
                settle_backend(&mut d, live);
                d
            };
            // In place: nothing rendered, compared or written; the same findings, the same
            // records and refusals kept; nothing new to remember.
            let d = settled(&snap, &live);
            let state = d.backend.as_ref().map(|b| &b.state);
            assert!(
                matches!(state, Some(BackendState::Remembered { .. })),
                "{backend}: {state:?}"
            );
            assert!(d.backend_objects.is_empty(), "{backend}");
            assert_eq!(d.backend_findings, desired.backend_findings, "{backend}");
            let p = plan(&d, &live);
            assert_eq!(p.actions, vec![], "{backend}");
            assert_eq!(p.recorded.len(), applied.len() - 1, "{backend}");
            assert_eq!(p.refused, vec![object_record_key(&refused)], "{backend}");
            assert_eq!(p.records_after(&live.applied, []), None, "{backend}");
            assert_eq!(p.refusals_after(&live.refused, []), None, "{backend}");
            assert_eq!(d.backend_rendering(), None, "{backend}");

            // Anything else renders, and plans as a rendered desired state does.
            let renders = |snap: &crate::snapshot::Snapshot, live: &Live, what: &str| {
                let d = settled(snap, live);
                let state = d.backend.as_ref().map(|b| &b.state);
                assert!(
                    matches!(state, Some(BackendState::Rendered { .. })),
                    "{backend}, {what}: {state:?}"
                );
                let p = plan(&d, live);
                assert_eq!(
                    p.actions,
                    plan(&run(snap), live).actions,
                    "{backend}, {what}"
                );
                p
            };
            let key = &applied[1].0;
            let mut edited = live.clone();
            for obj in edited.backend.values_mut().flatten().flatten() {
                if obj.key == *key {
                    obj.resource_version = Some("2".into());
                }
            }
            renders(&snap, &edited, "an object written by another");
            let mut deleted = live.clone();
            for list in deleted.backend.values_mut().flatten() {
                list.retain(|o| o.key != *key);
            }
            assert_eq!(
                applies(&renders(&snap, &deleted, "an object deleted")).len(),
                1,
                "{backend}"
            );
            let mut forgotten = live.clone();
            forgotten.refused.clear();
            let p = renders(&snap, &forgotten, "the refusals forgotten");
            assert_eq!(applies(&p), vec![applied[0].clone()], "{backend}");
            let mut other = live.clone();
            if let Some(memo) = other.rendering.as_mut() {
                memo.inputs = "other".into();
            }
            renders(&snap, &other, "a rendering of other inputs");
            let mut planted = live.clone();
            let mut stranger = planted.backend[&key.kind].as_ref().expect("listed")[0].clone();
            stranger.key.name = "planted".into();
            planted
                .backend
                .get_mut(&key.kind)
                .and_then(Option::as_mut)
                .expect("listed")
                .push(stranger);
            renders(&snap, &planted, "an object of ours without a record");
            let mut unlisted = live.clone();
            unlisted.backend.remove(&key.kind);
            renders(&snap, &unlisted, "a kind not listed");
            let mut changed = snap.clone();
            changed.service_mesh.truncate(1);
            renders(&changed, &live, "other policies");
        }
    }

    #[test]
    fn planning_by_moving_the_objects_plans_the_same() {
        for backend in ["smi", "consul", "linkerd"] {
            let (desired, mut live) = setup(backend);
            for round in 0..2 {
                let p = plan(&desired, &live);
                let mut moving = desired.clone();
                assert_eq!(
                    crate::plan::plan_moving(&mut moving, &live),
                    p,
                    "{backend} {round}"
                );
                assert!(moving.backend_objects.is_empty(), "{backend}");
                // Then with every object in place but the first.
                let mut applied = applies(&p);
                applied.remove(0);
                store(&mut live, &p, &applied, "1");
            }
        }
    }
}
