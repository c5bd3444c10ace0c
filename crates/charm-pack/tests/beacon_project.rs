//! Packs this repository's own charm project (istio-beacon-k8s) and checks that what Juju
//! would read from it matches the upstream Python charm (beacon-contract §1.1–1.3).

use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

use serde_yaml_ng::Value;
use zip::ZipArchive;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Packs the real project with a stand-in binary; returns (name, mode, bytes) per entry.
fn pack_repo() -> Result<Vec<(String, u32, Vec<u8>)>> {
    let tmp = tempfile::tempdir()?;
    let binary = tmp.path().join("istio-beacon-k8s");
    fs::write(&binary, b"\x7fELF stand-in")?;
    let out = Command::new(env!("CARGO_BIN_EXE_charm-pack"))
        .current_dir(tmp.path())
        .arg("--project")
        .arg(repo_root())
        .arg("--binary")
        .arg(&binary)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Default name = charmcraft's name for upstream's platform `ubuntu@22.04:amd64`.
    let charm = tmp.path().join("istio-beacon-k8s_ubuntu@22.04-amd64.charm");
    let mut zip = ZipArchive::new(fs::File::open(charm)?)?;
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i)?;
        let name = f.name()?.into_owned();
        let mut data = Vec::new();
        f.read_to_end(&mut data)?;
        entries.push((name, f.unix_mode().ok_or("no mode")?, data));
    }
    Ok(entries)
}

fn yaml_of(entries: &[(String, u32, Vec<u8>)], name: &str) -> Result<Value> {
    let (_, _, data) = entries
        .iter()
        .find(|(n, _, _)| n == name)
        .ok_or_else(|| format!("{name} not in the charm"))?;
    Ok(serde_yaml_ng::from_slice(data)?)
}

#[test]
fn layout_matches_charmcraft() -> Result {
    let entries = pack_repo()?;
    let listing: Vec<(&str, u32)> = entries.iter().map(|(n, m, _)| (n.as_str(), *m)).collect();
    // actions.yaml: ours has read-only actions (the upstream charm has none).
    assert_eq!(
        listing,
        [
            ("actions.yaml", 0o100644),
            ("bin/istio-beacon-k8s", 0o100755),
            ("config.yaml", 0o100644),
            ("dispatch", 0o100755),
            ("manifest.yaml", 0o100644),
            ("metadata.yaml", 0o100644),
        ]
    );
    let manifest = yaml_of(&entries, "manifest.yaml")?;
    let bases: Value =
        serde_yaml_ng::from_str("[{name: ubuntu, channel: '22.04', architectures: [amd64]}]")?;
    assert_eq!(manifest.get("bases"), Some(&bases));
    Ok(())
}

#[test]
fn metadata_equals_upstream() -> Result {
    let entries = pack_repo()?;
    let ours = yaml_of(&entries, "metadata.yaml")?;
    let upstream: Value = serde_yaml_ng::from_str(&fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upstream-metadata.yaml"),
    )?)?;
    assert_eq!(ours, upstream);
    Ok(())
}

#[test]
fn config_has_upstream_options_and_ours() -> Result {
    let entries = pack_repo()?;
    let config = yaml_of(&entries, "config.yaml")?;
    let options = config
        .get("options")
        .and_then(Value::as_mapping)
        .ok_or("no options")?;
    let mut seen: Vec<(String, String, String)> = Vec::new();
    for (k, v) in options {
        seen.push((
            k.as_str().ok_or("key")?.to_owned(),
            v.get("type")
                .and_then(Value::as_str)
                .ok_or("type")?
                .to_owned(),
            serde_yaml_ng::to_string(v.get("default").ok_or("default")?)?
                .trim()
                .to_owned(),
        ));
        let description = v.get("description").and_then(Value::as_str).unwrap_or("");
        assert!(!description.trim().is_empty(), "{k:?} has no description");
    }
    seen.sort();
    // Upstream's three, and ours (documented as not in the Python charm).
    let expected = [
        ("consul-namespace-prefix", "string", "''"),
        ("cross-model-namespaces", "string", "''"),
        ("linkerd-control-plane-namespace", "string", "linkerd"),
        ("linkerd-trust-domain", "string", "cluster.local"),
        ("manage-authorization-policies", "boolean", "true"),
        ("mesh-backend", "string", "istio"),
        ("model-on-mesh", "boolean", "false"),
        ("mtls-mode", "string", "''"),
        ("ready-timeout", "int", "100"),
        ("smi-controller", "string", "osm"),
        ("smi-mesh-name", "string", "''"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(seen, expected);
    Ok(())
}

#[test]
fn dispatch_ends_with_the_plain_entrypoint() -> Result {
    let dispatch = fs::read_to_string(repo_root().join("dispatch"))?;
    assert!(dispatch.starts_with("#!/bin/sh\n"));
    let last = dispatch
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or("empty dispatch")?;
    assert_eq!(last, "exec ./bin/istio-beacon-k8s");
    Ok(())
}
