//! The charm under test: its directory (or unpacked `.charm`) and the YAML files Juju reads
//! from it (`metadata.yaml`, `config.yaml`, `actions.yaml`).
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::SimError;

/// Role of a relation endpoint in `metadata.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Provides,
    Requires,
    Peers,
}

/// Config option type as declared in `config.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionType {
    String,
    Int,
    Float,
    Boolean,
    Secret,
}

impl OptionType {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "string" => Self::String,
            "int" => Self::Int,
            "float" => Self::Float,
            "boolean" => Self::Boolean,
            "secret" => Self::Secret,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::Float => "float",
            Self::Boolean => "boolean",
            Self::Secret => "secret",
        }
    }

    /// Whether `v` is a valid value of this type (JSON typing, as Juju stores config).
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            Self::String | Self::Secret => v.is_string(),
            Self::Int => v.is_i64() || v.is_u64(),
            Self::Float => v.is_number(),
            Self::Boolean => v.is_boolean(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConfigOption {
    pub kind: OptionType,
    pub default: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct ActionSpec {
    /// JSON-schema-ish `params` map (name → schema), used for defaults.
    pub params: serde_json::Map<String, Value>,
}

/// What the simulator needs to know about a charm.
#[derive(Debug, Clone)]
pub struct CharmMeta {
    pub name: String,
    pub endpoints: BTreeMap<String, Role>,
    pub extra_bindings: Vec<String>,
    pub containers: Vec<String>,
    pub storages: Vec<String>,
    pub config: BTreeMap<String, ConfigOption>,
    pub actions: BTreeMap<String, ActionSpec>,
}

/// A charm ready to run: `dir` holds `dispatch`. `_tmp` keeps the run's copy alive.
#[derive(Debug)]
pub struct Charm {
    pub dir: PathBuf,
    pub meta: CharmMeta,
    _tmp: tempfile::TempDir,
}

impl Charm {
    /// Copies a charm directory, or unpacks a `.charm` zip, into a temporary directory: as
    /// Juju gives each unit its own copy of the charm, files a charm writes into its dir
    /// last for the run and never leak into the next one.
    pub fn open(path: &Path) -> Result<Charm, SimError> {
        // JUJU_CHARM_DIR is absolute in Juju; hooks may chdir.
        let path = &std::fs::canonicalize(path)
            .map_err(|e| SimError::charm(path, &format!("cannot open: {e}")))?;
        let tmp = tempfile::Builder::new()
            .prefix("charm-sim-charm")
            .tempdir()?;
        if path.is_dir() {
            copy_dir(path, tmp.path())?;
        } else if path.is_file() {
            unzip(path, tmp.path())?;
        } else {
            return Err(SimError::charm(
                path,
                "no such charm directory or .charm file",
            ));
        }
        let dir = tmp.path().to_path_buf();
        let meta = CharmMeta::load(&dir)?;
        let dispatch = dir.join("dispatch");
        if let Ok(md) = std::fs::metadata(&dispatch) {
            use std::os::unix::fs::PermissionsExt;
            if md.permissions().mode() & 0o111 == 0 {
                return Err(SimError::charm(&dispatch, "dispatch is not executable"));
            }
        }
        Ok(Charm {
            dir,
            meta,
            _tmp: tmp,
        })
    }
}

/// Copy `src` into the existing directory `dest`: files with their permissions, symlinks as
/// symlinks (a test charm links a large binary rather than holding a copy).
fn copy_dir(src: &Path, dest: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dest.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            // A relative target stays relative to where the link was.
            std::os::unix::fs::symlink(src.join(std::fs::read_link(&from)?), &to)?;
        } else if kind.is_dir() {
            std::fs::create_dir(&to)?;
            copy_dir(&from, &to)?;
        } else {
            std::fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

fn unzip(zip_path: &Path, dest: &Path) -> Result<(), SimError> {
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::File::open(zip_path)?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| SimError::charm(zip_path, &e.to_string()))?;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| SimError::charm(zip_path, &e.to_string()))?;
        // enclosed_name refuses absolute paths and `..` components.
        let Some(rel) = entry.enclosed_name() else {
            return Err(SimError::charm(
                zip_path,
                &format!("unsafe entry name {:?}", entry.name()),
            ));
        };
        let out = dest.join(rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&out)?;
            continue;
        }
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf)?;
        std::fs::write(&out, &buf)?;
        if let Some(mode) = entry.unix_mode() {
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode & 0o7777))?;
        }
    }
    Ok(())
}

fn read_yaml(path: &Path) -> Result<Option<Value>, SimError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let v: Value = serde_yaml_ng::from_str(&text)
                .map_err(|e| SimError::charm(path, &e.to_string()))?;
            Ok(Some(v))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn map_keys(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

impl CharmMeta {
    pub fn load(dir: &Path) -> Result<CharmMeta, SimError> {
        let meta_path = dir.join("metadata.yaml");
        let meta = read_yaml(&meta_path)?
            .ok_or_else(|| SimError::charm(&meta_path, "missing metadata.yaml"))?;
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| SimError::charm(&meta_path, "no `name`"))?
            .to_string();
        let mut endpoints = BTreeMap::new();
        for (key, role) in [
            ("provides", Role::Provides),
            ("requires", Role::Requires),
            ("peers", Role::Peers),
        ] {
            for ep in map_keys(meta.get(key)) {
                endpoints.insert(ep, role);
            }
        }
        let extra_bindings = map_keys(meta.get("extra-bindings"));
        let containers = map_keys(meta.get("containers"));
        let storages = map_keys(meta.get("storage"));

        let cfg_path = dir.join("config.yaml");
        let mut config = BTreeMap::new();
        if let Some(cfg) = read_yaml(&cfg_path)? {
            let options = cfg.get("options").and_then(Value::as_object);
            for (k, o) in options.into_iter().flatten() {
                let t = o.get("type").and_then(Value::as_str).unwrap_or("string");
                let kind = OptionType::parse(t).ok_or_else(|| {
                    SimError::charm(&cfg_path, &format!("option {k:?}: unknown type {t:?}"))
                })?;
                let default = o.get("default").filter(|d| !d.is_null()).cloned();
                config.insert(k.clone(), ConfigOption { kind, default });
            }
        }

        let mut actions = BTreeMap::new();
        if let Some(acts) = read_yaml(&dir.join("actions.yaml"))? {
            for (k, a) in acts.as_object().into_iter().flatten() {
                let params = a
                    .get("params")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                actions.insert(k.clone(), ActionSpec { params });
            }
        }
        Ok(CharmMeta {
            name,
            endpoints,
            extra_bindings,
            containers,
            storages,
            config,
            actions,
        })
    }
}
