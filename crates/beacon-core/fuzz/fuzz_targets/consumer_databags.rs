//! Coverage-guided fuzzing of what consumers write into their databags: the input becomes a
//! snapshot (config, `service-mesh` relations with raw `policies`, `provide-cmr-mesh`
//! relations with raw `cmr_data`, `metrics-endpoint` scrapers; format in
//! `tests/invariants/fuzz_input.rs`), `desired` runs on it, and the invariants of
//! `tests/invariants/` (shared with `tests/hostile.rs`) must hold: I1 no panic, I2 every
//! emitted AuthorizationPolicy valid (CRD schema, CEL, metadata), I3 every consumer policy on
//! the consumer's own workloads.

#![no_main]

use beacon_core::desired::desired;
use beacon_core::names::Names;
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/invariants/mod.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| {
    let snap = invariants::fuzz_input::snapshot(data);
    let names = Names::new(&snap.model, &snap.app).expect("the beacons have names");
    let d = desired(&snap, &names); // I1
    invariants::check(&snap, &d); // I2, I3
});
