//! The input format of the fuzz target `consumer_databags` (`fuzz/README.md`): bytes to a
//! snapshot. Here so that `tests/hostile.rs` replays the committed seeds (and any crash
//! input added to them) on stable, with every `cargo test`.
//!
//! Sections split on the byte 0xFF (never in UTF-8):
//! - section 0, control bytes: byte 0 bit 0 = manage-authorization-policies off, bit 1 =
//!   model-on-mesh, bit 2 = not the leader, bits 3-5 = `mtls-mode` (none, unset, disable,
//!   permissive, strict); byte 1 picks the beacon (model, app);
//! - section 1: `cross-model-namespaces`, split on `,`;
//! - each further section, one relation: a kind byte (`m` service-mesh, `t` service-mesh with
//!   a `traffic` value instead of `policies`, `c` provide-cmr-mesh, `p` metrics-endpoint;
//!   anything else is skipped), the remote app name, then 0xFE and the value (`policies`,
//!   `traffic`, `cmr_data`, or the scraper's bind address; no 0xFE: none). Text is decoded
//!   lossily.

use beacon_core::snapshot::{CmrRelation, Config, MeshRelation, MetricsRelation, Snapshot};
use service_mesh::traffic::MtlsMode;

/// The beacons (model, app) an input may pick: short, ordinary, and long enough that
/// derived names are hashed and policy names truncated.
pub const BEACONS: [(&str, &str); 4] = [
    ("prod", "istio-beacon-k8s"),
    ("m", "b"),
    (
        "a-very-long-model-name-for-testing-purposes-0123456789",
        "istio-beacon-k8s",
    ),
    ("welcome-k8s", "beacon"),
];

/// At most this many relations: more only slows each run.
const MAX_RELATIONS: usize = 16;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The snapshot an input stands for.
pub fn snapshot(data: &[u8]) -> Snapshot {
    let mut sections = data.split(|b| *b == 0xFF);
    let control = sections.next().unwrap_or_default();
    let flags = control.first().copied().unwrap_or(0);
    let (model, app) = BEACONS[usize::from(control.get(1).copied().unwrap_or(0)) % BEACONS.len()];
    let namespaces = sections
        .next()
        .map(|s| text(s).split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let mut snap = Snapshot {
        model: model.into(),
        model_uuid: "7b0e1c9e-0000-4000-8000-000000000001".into(),
        app: app.into(),
        unit: format!("{app}/0"),
        leader: flags & 4 == 0,
        planned_units: 2,
        config: Config {
            manage_authorization_policies: flags & 1 == 0,
            model_on_mesh: flags & 2 != 0,
            cross_model_namespaces: namespaces,
            mtls_mode: match (flags >> 3) & 7 {
                1 => Some(MtlsMode::Unset),
                2 => Some(MtlsMode::Disable),
                3 => Some(MtlsMode::Permissive),
                4 => Some(MtlsMode::Strict),
                _ => None,
            },
            ..Config::default()
        },
        service_mesh: vec![],
        cmr: vec![],
        metrics: vec![],
        tracing: None,
        databags: Default::default(),
        published: None,
        remembered_stale: false,
    };
    for (i, section) in sections.take(MAX_RELATIONS).enumerate() {
        let Some((&kind, rest)) = section.split_first() else {
            continue;
        };
        let (remote, value) = match rest.iter().position(|b| *b == 0xFE) {
            Some(at) => (text(&rest[..at]), Some(text(&rest[at + 1..]))),
            None => (text(rest), None),
        };
        let id = i as u64;
        match kind {
            b'm' => snap.service_mesh.push(MeshRelation {
                id,
                remote_app: remote,
                policies: value,
                traffic: None,
                derived: None,
            }),
            b't' => snap.service_mesh.push(MeshRelation {
                id,
                remote_app: remote,
                policies: None,
                traffic: value,
                derived: None,
            }),
            b'c' => snap.cmr.push(CmrRelation {
                id,
                remote_app: remote,
                cmr_data: value,
            }),
            b'p' => snap.metrics.push(MetricsRelation {
                id,
                remote_app: remote,
                bind_address: value,
            }),
            _ => {}
        }
    }
    snap
}
