//! The hook tools, served from the simulator's state the way Juju's `jujuc` server answers them
//! (`juju-contract.md` §2): argv parsing, output formats, error text and exit codes, the
//! databag permission matrix (leadership checked at call time) and per-hook buffering.
//!
//! One file per family of tools, as jujuc has one per command: `relation` (relation-*),
//! `status` (status-*, application-version-set), `config` (config-get, is-leader, leader-*,
//! goal-state), `state` (state-*), `action` (action-*), `network` (network-get), `log`
//! (juju-log), `ports` (open-port, close-port, opened-ports); `args` parses argv and `format`
//! prints results. This file: the tool names, the call and its answer, and the dispatch.
use std::path::Path;

use crate::flags::{FlagDef, flag};
use crate::world::{HookCtx, World};

mod action;
mod args;
mod config;
mod format;
mod log;
mod network;
mod ports;
mod relation;
mod state;
mod status;

/// Every tool name the simulator links into the tools directory.
pub const TOOL_NAMES: &[&str] = &[
    "action-fail",
    "action-get",
    "action-log",
    "action-set",
    "application-version-set",
    "close-port",
    "config-get",
    "goal-state",
    "is-leader",
    "juju-log",
    "leader-get",
    "leader-set",
    "network-get",
    "open-port",
    "opened-ports",
    "relation-get",
    "relation-ids",
    "relation-list",
    "relation-model-get",
    "relation-set",
    "state-delete",
    "state-get",
    "state-set",
    "status-get",
    "status-set",
];

/// A finished tool invocation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ToolOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A tool failure: exit code and the message after `ERROR `.
#[derive(Debug)]
pub struct ToolErr {
    code: i32,
    msg: String,
}

/// A usage error (bad argv): exit 2.
fn usage(msg: impl Into<String>) -> ToolErr {
    ToolErr {
        code: 2,
        msg: msg.into(),
    }
}

/// A failure at run time: exit 1.
fn runtime(msg: impl Into<String>) -> ToolErr {
    ToolErr {
        code: 1,
        msg: msg.into(),
    }
}

type R<T> = Result<T, ToolErr>;

const FORMAT: FlagDef = flag("format", &["format"], false);
const OUTPUT: FlagDef = flag("output", &["o", "output"], false);
const RELATION: FlagDef = flag("relation", &["r", "relation"], false);
const APP: FlagDef = flag("app", &["app"], true);

/// Runs one tool for the hook identified by `context_id`.
pub fn run_tool(
    world: &mut World,
    context_id: &str,
    tool: &str,
    args: &[String],
    stdin: &[u8],
    cwd: &Path,
) -> ToolOutput {
    let ok_ctx = world
        .hook
        .as_ref()
        .is_some_and(|h| h.context_id == context_id);
    let result = if !ok_ctx {
        Err(runtime(format!(
            "bad request: unknown context {context_id:?}"
        )))
    } else {
        dispatch(world, tool, args, stdin, cwd)
    };
    match result {
        Ok((stdout, stderr)) => ToolOutput {
            code: 0,
            stdout,
            stderr,
        },
        Err(e) => ToolOutput {
            code: e.code,
            stdout: String::new(),
            stderr: format!("ERROR {}\n", e.msg),
        },
    }
}

fn dispatch(
    w: &mut World,
    tool: &str,
    args: &[String],
    stdin: &[u8],
    cwd: &Path,
) -> R<(String, String)> {
    let mut t = Tool {
        w,
        cwd,
        warnings: String::new(),
    };
    let stdout = match tool {
        "relation-ids" => t.relation_ids(args),
        "relation-list" => t.relation_list(args),
        "relation-get" => t.relation_get(args),
        "relation-set" => t.relation_set(args, stdin),
        "relation-model-get" => t.relation_model_get(args),
        "config-get" => t.config_get(args),
        "is-leader" => t.is_leader(args),
        "status-set" => t.status_set(args),
        "status-get" => t.status_get(args),
        "application-version-set" => t.application_version_set(args),
        "juju-log" => t.juju_log(args),
        "action-get" => t.action_get(args),
        "action-set" => t.action_set(args),
        "action-fail" => t.action_fail(args),
        "action-log" => t.action_log(args),
        "goal-state" => t.goal_state(args),
        "network-get" => t.network_get(args),
        "state-get" => t.state_get(args),
        "state-set" => t.state_set(args, stdin),
        "state-delete" => t.state_delete(args),
        "opened-ports" => t.opened_ports(args),
        "open-port" => t.port(args, true),
        "close-port" => t.port(args, false),
        "leader-get" => t.leader_get(args),
        "leader-set" => t.leader_set(args, stdin),
        other => Err(runtime(format!("unknown command {other:?}"))),
    }?;
    Ok((stdout, t.warnings))
}

struct Tool<'a> {
    w: &'a mut World,
    cwd: &'a Path,
    /// stderr text of a successful call (deprecation notices).
    warnings: String,
}

impl Tool<'_> {
    fn ctx(&self) -> R<&HookCtx> {
        self.w
            .hook
            .as_ref()
            .ok_or_else(|| runtime("no hook is running"))
    }

    fn ctx_mut(&mut self) -> R<&mut HookCtx> {
        self.w
            .hook
            .as_mut()
            .ok_or_else(|| runtime("no hook is running"))
    }
}
