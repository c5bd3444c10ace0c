//! charm-pack: builds a `.charm` (a zip) or an unpacked charm directory for a Rust charm
//! whose hooks are one binary, without charmcraft's build containers. Layout, modes and
//! manifest follow what charmcraft 4.5.0 produces; the output is byte-for-byte
//! reproducible (sorted entries, fixed timestamps).

mod archive;
mod manifest;
mod project;

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result, ensure};
use clap::Parser;

use archive::Entry;
use manifest::Stamp;
use project::Project;

#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Charm project directory: charmcraft.yaml, metadata.yaml, dispatch, optional
    /// config.yaml and actions.yaml.
    #[arg(long, default_value = ".")]
    project: PathBuf,
    /// The compiled charm binary, shipped as bin/<its file name> (mode 0755).
    #[arg(long)]
    binary: PathBuf,
    /// Name under bin/ (defaults to the binary's file name).
    #[arg(long)]
    bin_name: Option<String>,
    /// Platform label from charmcraft.yaml; needed only when it declares several.
    #[arg(long)]
    platform: Option<String>,
    /// Output .charm file (default: charmcraft's name, <name>_<platform>.charm, in the cwd).
    #[arg(long, conflicts_with = "dir_out")]
    out: Option<PathBuf>,
    /// Write an unpacked charm directory instead of a zip (must be absent or empty).
    #[arg(long)]
    dir_out: Option<PathBuf>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let project = Project::load(&cli.project, cli.platform.as_deref())
        .with_context(|| format!("charm project {}", cli.project.display()))?;
    let stamp = Stamp::from_source_date_epoch(std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())?;
    let entries = entries(&project, &cli, &stamp)?;
    if let Some(dir) = &cli.dir_out {
        archive::write_dir(&entries, dir)?;
        println!("{}", dir.display());
    } else {
        let out = cli
            .out
            .clone()
            .unwrap_or_else(|| project.default_charm_file());
        archive::write_zip(&entries, &stamp, &out)?;
        println!("{}", out.display());
    }
    Ok(())
}

fn entries(project: &Project, cli: &Cli, stamp: &Stamp) -> Result<Vec<Entry>> {
    let bin_name = match &cli.bin_name {
        Some(n) => n.clone(),
        None => cli
            .binary
            .file_name()
            .and_then(|n| n.to_str())
            .context("--binary has no usable file name")?
            .to_owned(),
    };
    ensure!(
        !bin_name.is_empty() && !bin_name.contains('/') && bin_name != "." && bin_name != "..",
        "bad binary name {bin_name:?}"
    );
    let binary = fs::read(&cli.binary)
        .with_context(|| format!("cannot read the charm binary {}", cli.binary.display()))?;
    let bin_path = format!("bin/{bin_name}");
    check_entrypoint(&project.dispatch, &bin_path)?;

    let mut entries = vec![
        file(
            "manifest.yaml",
            0o644,
            manifest::render(&project.base, stamp).into_bytes(),
        ),
        file("metadata.yaml", 0o644, project.metadata_yaml.clone()),
        file("dispatch", 0o755, project.dispatch.clone()),
        file(&bin_path, 0o755, binary),
    ];
    if let Some(config) = &project.config_yaml {
        entries.push(file("config.yaml", 0o644, config.clone()));
    }
    if let Some(actions) = &project.actions_yaml {
        entries.push(file("actions.yaml", 0o644, actions.clone()));
    }
    archive::sort(&mut entries);
    Ok(entries)
}

fn file(path: &str, mode: u32, data: Vec<u8>) -> Entry {
    Entry {
        path: path.to_owned(),
        mode,
        data,
    }
}

/// charmcraft's entrypoint linter (juju-contract §4.4): the last token of the last
/// non-empty line of a script `dispatch` must be a path to the shipped executable. Checked
/// here so a wrong dispatch fails at pack time instead of at `charmcraft analyse`.
fn check_entrypoint(dispatch: &[u8], bin_path: &str) -> Result<()> {
    if dispatch.starts_with(b"\x7fELF") {
        return Ok(());
    }
    let text = std::str::from_utf8(dispatch).context("dispatch is neither ELF nor UTF-8 text")?;
    let last_token = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| l.split_whitespace().last())
        .context("dispatch is empty")?;
    let target = last_token.strip_prefix("./").unwrap_or(last_token);
    ensure!(
        target == bin_path,
        "dispatch: the last token of its last line is {last_token:?}, but charmcraft's \
         entrypoint linter needs it to be the shipped binary ./{bin_path}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_entrypoint;

    #[test]
    fn entrypoint_rule() {
        let bin = "bin/c";
        assert!(check_entrypoint(b"#!/bin/sh\nexec ./bin/c\n\n", bin).is_ok());
        assert!(check_entrypoint(b"#!/bin/sh\nexec bin/c", bin).is_ok());
        assert!(check_entrypoint(b"\x7fELF\x02\x01", bin).is_ok());
        assert!(check_entrypoint(b"#!/bin/sh\nexec ./bin/c \"$@\"\n", bin).is_err());
        assert!(check_entrypoint(b"#!/bin/sh\nexec \"$JUJU_CHARM_DIR/bin/c\"\n", bin).is_err());
        assert!(check_entrypoint(b"#!/bin/sh\nexec ./bin/other\n", bin).is_err());
        assert!(check_entrypoint(b"\n\n", bin).is_err());
    }
}
