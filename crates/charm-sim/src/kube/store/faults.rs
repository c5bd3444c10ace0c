//! Injected faults: armed from the scenario, consumed by the requests they match.

use super::State;
use crate::kube::KubeSimError;
use crate::kube::fault::{ArmedFault, Fault, Injected, take_fault};

impl State {
    pub fn arm_fault(&mut self, f: Fault) -> Result<(), KubeSimError> {
        self.faults.push(ArmedFault::new(f)?);
        Ok(())
    }

    /// Disarms every armed fault, then arms `faults` (all or, if one is invalid, none).
    pub fn replace_faults(&mut self, faults: Vec<Fault>) -> Result<(), KubeSimError> {
        self.faults = faults
            .into_iter()
            .map(ArmedFault::new)
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Numbers an arriving request and consumes the fault it triggers, if any.
    pub fn arrive(&mut self, method: &str, path: &str) -> (u64, Option<Injected>) {
        self.arrivals += 1;
        (self.arrivals, take_fault(&mut self.faults, method, path))
    }
}
