//! A typed client for Juju's hook tools (juju-contract.md §2).
//!
//! Every method runs one tool with exactly the argv ops (3.9, `ops.hookcmds`) sends: read
//! tools always get `--format=json`, relations are named `-r <endpoint>:<id>`, relation and
//! state data go as a JSON object on stdin (`--file -`), and free text follows `--` so it may
//! start with a dash. A non-zero exit becomes a [`ToolError`], classified from stderr the
//! way ops does.
//!
//! The process is started through a [`ToolRunner`], so tests can script the tools.
//!
//! One file per family of tools, as Juju's `jujuc` has one per command: `relation` tools,
//! `status`, `config` (config, leadership, goal state), unit `state`, `action` tools,
//! `network`, `ports`, `juju_log`; the process `runner` and the `error` type. Every type is
//! re-exported here, so `tools::X` paths are unchanged.

mod action;
mod config;
mod error;
mod juju_log;
mod network;
mod ports;
mod relation;
mod runner;
mod state;
mod status;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

pub use self::config::{Goal, GoalState};
pub use self::error::ToolError;
pub use self::juju_log::{LogLevel, MAX_LOG_LINE_LEN, log_split};
pub use self::network::{BindAddress, Network, NetworkAddress};
pub use self::ports::{Port, Protocol};
pub use self::relation::RelationRef;
pub use self::runner::{ProcessRunner, ToolOutput, ToolRunner};
pub use self::status::{AppStatusInfo, StatusInfo, StatusName};

/// A relation databag: string keys to string values.
pub type Databag = BTreeMap<String, String>;

/// The hook-tool client. Cheap to clone (the runner is shared).
#[derive(Clone)]
pub struct HookTools {
    runner: Arc<dyn ToolRunner>,
}

impl fmt::Debug for HookTools {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HookTools").finish_non_exhaustive()
    }
}

/// Shorthand for building argv.
fn s(x: impl Into<String>) -> String {
    x.into()
}

impl HookTools {
    /// Tools run as processes found on `PATH` (production).
    pub fn process() -> HookTools {
        HookTools::new(ProcessRunner)
    }

    /// Tools run through any runner (tests script one).
    pub fn new(runner: impl ToolRunner + 'static) -> HookTools {
        HookTools {
            runner: Arc::new(runner),
        }
    }

    /// Run `tool args…`, return stdout on exit 0, a classified error otherwise.
    fn run(
        &self,
        tool: &'static str,
        args: Vec<String>,
        stdin: Option<&str>,
    ) -> Result<String, ToolError> {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push(tool.to_string());
        argv.extend(args);
        let out = self
            .runner
            .run(&argv, stdin)
            .map_err(|source| ToolError::Spawn { tool, source })?;
        if out.code != 0 {
            return Err(error::classify(tool, out.code, &out.stderr));
        }
        Ok(out.stdout)
    }

    fn run_json<T: DeserializeOwned>(
        &self,
        tool: &'static str,
        args: Vec<String>,
    ) -> Result<T, ToolError> {
        let output = self.run(tool, args, None)?;
        serde_json::from_str(&output).map_err(|source| ToolError::Decode {
            tool,
            output,
            source,
        })
    }
}

#[cfg(test)]
mod tests;
