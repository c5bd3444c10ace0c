//! `charm-sim run --charm <dir|.charm> --scenario <file> [--out result.json] [--tool-client
//! <path>]`. The hook tools are the sibling binary `charm-sim-jujuc`, unless `--tool-client`
//! names another build of it.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "charm-sim",
    about = "Plays a Juju model, a Kubernetes API server and Pebble against a charm"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario and print the result document.
    Run {
        /// Charm directory or packed .charm file.
        #[arg(long)]
        charm: PathBuf,
        /// Scenario file (YAML or JSON).
        #[arg(long)]
        scenario: PathBuf,
        /// Write the result here instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The hook-tool client to link under every tool name, instead of the
        /// `charm-sim-jujuc` next to this binary (e.g. a static build, cheaper to start).
        #[arg(long, value_name = "PATH")]
        tool_client: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHARM_SIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run {
            charm,
            scenario,
            out,
            tool_client,
        } => match run(&charm, &scenario, out, tool_client) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                let bad_input = e
                    .downcast_ref::<charm_sim::SimError>()
                    .is_some_and(charm_sim::SimError::is_bad_input);
                // One line: what and where.
                eprintln!("charm-sim: {}", format!("{e:#}").replace('\n', " "));
                ExitCode::from(if bad_input { 2 } else { 1 })
            }
        },
    }
}

fn run(
    charm: &std::path::Path,
    scenario: &std::path::Path,
    out: Option<PathBuf>,
    tool_binary: Option<PathBuf>,
) -> anyhow::Result<()> {
    let options = charm_sim::RunOptions { tool_binary };
    let output = charm_sim::run_scenario(charm, scenario, &options)?;
    let mut text = serde_json::to_string_pretty(&output)?;
    text.push('\n');
    match out {
        Some(p) => std::fs::write(&p, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", p.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
