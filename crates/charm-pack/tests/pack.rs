//! End-to-end tests of the `charm-pack` binary on small throw-away charm projects.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use zip::ZipArchive;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const CHARMCRAFT: &str = "type: charm\nbase: ubuntu@22.04\nplatforms:\n  amd64:\nparts: {}\n";
const METADATA: &str = "name: demo-k8s\nsummary: s\ndescription: d\n";
const CONFIG: &str = "options:\n  x: {type: int, default: 1}\n";
const DISPATCH: &str = "#!/bin/sh\nexec ./bin/demo\n";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Result<Self> {
        let f = Self {
            dir: tempfile::tempdir()?,
        };
        f.write("charmcraft.yaml", CHARMCRAFT)?;
        f.write("metadata.yaml", METADATA)?;
        f.write("config.yaml", CONFIG)?;
        f.write("dispatch", DISPATCH)?;
        fs::set_permissions(f.path("dispatch"), fs::Permissions::from_mode(0o755))?;
        // The project file modes must not leak into the charm: make the binary 0600.
        fs::create_dir(f.path("target"))?;
        f.write("target/demo", "\x7fELF pretend binary")?;
        fs::set_permissions(f.path("target/demo"), fs::Permissions::from_mode(0o600))?;
        Ok(f)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> Result {
        fs::write(self.path(rel), text)?;
        Ok(())
    }

    fn pack(&self, extra: &[&str]) -> Result<Output> {
        Ok(Command::new(env!("CARGO_BIN_EXE_charm-pack"))
            .current_dir(self.dir.path())
            .env_remove("SOURCE_DATE_EPOCH")
            .args(["--project", ".", "--binary", "target/demo"])
            .args(extra)
            .output()?)
    }

    fn pack_ok(&self, extra: &[&str]) -> Result<Output> {
        let out = self.pack(extra)?;
        assert!(
            out.status.success(),
            "charm-pack failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(out)
    }

    fn pack_err(&self, extra: &[&str]) -> Result<String> {
        let out = self.pack(extra)?;
        assert!(!out.status.success(), "charm-pack unexpectedly succeeded");
        Ok(String::from_utf8(out.stderr)?)
    }
}

/// (name, unix mode, contents) of every entry, in archive order.
fn read_charm(path: &Path) -> Result<Vec<(String, u32, Vec<u8>)>> {
    let mut zip = ZipArchive::new(fs::File::open(path)?)?;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i)?;
        let name = f.name()?.into_owned();
        assert!(f.is_file(), "{name} is not a file entry");
        assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
        let mode = f.unix_mode().ok_or("entry without unix mode")?;
        let mut data = Vec::new();
        f.read_to_end(&mut data)?;
        out.push((name, mode, data));
    }
    Ok(out)
}

#[test]
fn layout_and_modes() -> Result {
    let f = Fixture::new()?;
    let out = f.pack_ok(&["--out", "demo.charm"])?;
    assert_eq!(String::from_utf8(out.stdout)?.trim(), "demo.charm");
    let entries = read_charm(&f.path("demo.charm"))?;
    let listing: Vec<(&str, u32)> = entries.iter().map(|(n, m, _)| (n.as_str(), *m)).collect();
    assert_eq!(
        listing,
        [
            ("bin/demo", 0o100755),
            ("config.yaml", 0o100644),
            ("dispatch", 0o100755),
            ("manifest.yaml", 0o100644),
            ("metadata.yaml", 0o100644),
        ]
    );
    let content = |name: &str| -> Vec<u8> {
        entries
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, d)| d.clone())
            .unwrap_or_default()
    };
    // Project files are shipped verbatim.
    assert_eq!(content("metadata.yaml"), METADATA.as_bytes());
    assert_eq!(content("config.yaml"), CONFIG.as_bytes());
    assert_eq!(content("dispatch"), DISPATCH.as_bytes());
    assert_eq!(content("bin/demo"), b"\x7fELF pretend binary");
    Ok(())
}

#[test]
fn actions_and_config_only_when_present() -> Result {
    let f = Fixture::new()?;
    fs::remove_file(f.path("config.yaml"))?;
    f.write("actions.yaml", "show: {description: shows}\n")?;
    f.pack_ok(&["--out", "demo.charm"])?;
    let names: Vec<String> = read_charm(&f.path("demo.charm"))?
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "actions.yaml",
            "bin/demo",
            "dispatch",
            "manifest.yaml",
            "metadata.yaml"
        ]
    );
    Ok(())
}

#[test]
fn manifest_content() -> Result {
    let f = Fixture::new()?;
    let out = Command::new(env!("CARGO_BIN_EXE_charm-pack"))
        .current_dir(f.dir.path())
        .env("SOURCE_DATE_EPOCH", "1795871373")
        .args(["--binary", "target/demo", "--out", "demo.charm"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let entries = read_charm(&f.path("demo.charm"))?;
    let manifest = entries
        .iter()
        .find(|(n, _, _)| n == "manifest.yaml")
        .ok_or("no manifest")?;
    assert_eq!(
        String::from_utf8(manifest.2.clone())?,
        "charmcraft-version: 4.5.0\n\
         charmcraft-started-at: '2026-11-28T13:09:33'\n\
         bases:\n\
         - name: ubuntu\n  channel: '22.04'\n  architectures:\n  - amd64\n\
         analysis:\n  attributes:\n  - name: language\n    result: unknown\n  \
         - name: framework\n    result: unknown\n"
    );
    // The zip entries carry the same instant (DOS time: even seconds).
    let mut zip = ZipArchive::new(fs::File::open(f.path("demo.charm"))?)?;
    let t = zip.by_index(0)?.last_modified().ok_or("no mtime")?;
    assert_eq!(
        (
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        (2026, 11, 28, 13, 9, 32)
    );
    Ok(())
}

#[test]
fn two_packs_are_byte_identical() -> Result {
    let f = Fixture::new()?;
    f.pack_ok(&["--out", "a.charm"])?;
    // Touch every input: mtimes must not matter.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for name in ["metadata.yaml", "config.yaml", "dispatch", "target/demo"] {
        let data = fs::read(f.path(name))?;
        fs::write(f.path(name), data)?;
    }
    f.pack_ok(&["--out", "b.charm"])?;
    assert_eq!(fs::read(f.path("a.charm"))?, fs::read(f.path("b.charm"))?);
    Ok(())
}

#[test]
fn default_file_name_follows_charmcraft() -> Result {
    let f = Fixture::new()?;
    f.write(
        "charmcraft.yaml",
        "type: charm\nplatforms:\n  ubuntu@22.04:amd64:\nparts: {}\n",
    )?;
    let out = f.pack_ok(&[])?;
    let name = "demo-k8s_ubuntu@22.04-amd64.charm";
    assert_eq!(String::from_utf8(out.stdout)?.trim(), name);
    assert!(f.path(name).is_file());
    Ok(())
}

#[test]
fn unpacked_directory() -> Result {
    let f = Fixture::new()?;
    f.pack_ok(&["--dir-out", "unpacked"])?;
    let mode = |rel: &str| -> Result<u32> {
        Ok(fs::metadata(f.path("unpacked").join(rel))?
            .permissions()
            .mode()
            & 0o777)
    };
    assert_eq!(mode("dispatch")?, 0o755);
    assert_eq!(mode("bin/demo")?, 0o755);
    assert_eq!(mode("metadata.yaml")?, 0o644);
    assert_eq!(mode("manifest.yaml")?, 0o644);
    assert_eq!(fs::read_to_string(f.path("unpacked/config.yaml"))?, CONFIG);
    // A second run refuses to write into the non-empty directory.
    let err = f.pack_err(&["--dir-out", "unpacked"])?;
    assert!(err.contains("not empty"), "{err}");
    Ok(())
}

#[test]
fn missing_files_are_errors() -> Result {
    for (missing, expect) in [
        ("charmcraft.yaml", "charmcraft.yaml"),
        ("metadata.yaml", "metadata.yaml"),
        ("dispatch", "dispatch"),
        ("target/demo", "charm binary"),
    ] {
        let f = Fixture::new()?;
        fs::remove_file(f.path(missing))?;
        let err = f.pack_err(&["--out", "x.charm"])?;
        assert!(err.contains(expect), "missing {missing}: {err}");
        assert!(!f.path("x.charm").exists());
        assert!(!f.path("x.charm.partial").exists());
    }
    Ok(())
}

#[test]
fn bad_projects_are_refused() -> Result {
    let cases = [
        (
            "dispatch",
            "#!/bin/sh\nexec ./bin/demo \"$@\"\n",
            "entrypoint",
        ),
        ("config.yaml", "options:\n  x: {type: integer}\n", "integer"),
        (
            "metadata.yaml",
            "name: demo-k8s\nsummary: s\n",
            "description",
        ),
        (
            "charmcraft.yaml",
            "type: charm\nbase: ubuntu@22.04\nplatforms: {amd64: }\nconfig: {options: {}}\n",
            "config",
        ),
        (
            "charmcraft.yaml",
            "type: charm\nbase: ubuntu@22.04\nplatforms: {amd64: , arm64: }\n",
            "--platform",
        ),
    ];
    for (file, text, expect) in cases {
        let f = Fixture::new()?;
        f.write(file, text)?;
        let err = f.pack_err(&["--out", "x.charm"])?;
        assert!(err.contains(expect), "{file}: {err}");
    }
    Ok(())
}
