//! `charm-sim-jujuc`: the hook-tool client, linked under every tool name in the tools dir
//! (like Juju's `jujuc`). It only forwards argv, cwd and stdin to the simulator's agent socket
//! and mirrors the answer; kept apart from `charm-sim` so that each of the thousands of tool
//! processes a large reconcile spawns loads a small binary.
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args();
    let argv0 = args.next().unwrap_or_default();
    let tool = std::path::Path::new(&argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let code = charm_sim::agent::run_client(&tool, args.collect());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
