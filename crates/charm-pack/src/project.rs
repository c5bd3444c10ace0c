//! Reads a charm project (charmcraft.yaml + Juju's YAML files) into what goes into the
//! `.charm`: the files to ship and the run base for `manifest.yaml`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde_yaml_ng::{Mapping, Value};

/// Keys that charmcraft accepts in a unified charmcraft.yaml but that charm-pack does not
/// turn into Juju files: the project must keep them in metadata.yaml / config.yaml /
/// actions.yaml, which are shipped verbatim. Refusing them avoids a charm that silently
/// lacks an endpoint or an option.
const UNIFIED_ONLY_KEYS: &[&str] = &[
    "name",
    "title",
    "summary",
    "description",
    "links",
    "assumes",
    "containers",
    "resources",
    "provides",
    "requires",
    "peers",
    "storage",
    "devices",
    "extra-bindings",
    "subordinate",
    "charm-user",
    "terms",
    "config",
    "actions",
];

/// Juju's config option types (charmcraft does not check them, so we do).
const CONFIG_TYPES: &[&str] = &["string", "int", "float", "boolean", "secret"];

/// One run base of the charm, as written to `manifest.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub name: String,
    pub channel: String,
    pub architecture: String,
}

#[derive(Debug)]
pub struct Project {
    pub name: String,
    /// The platform label from charmcraft.yaml (used for the default file name).
    pub platform: String,
    pub base: Base,
    pub metadata_yaml: Vec<u8>,
    pub config_yaml: Option<Vec<u8>>,
    pub actions_yaml: Option<Vec<u8>>,
    pub dispatch: Vec<u8>,
}

impl Project {
    pub fn load(dir: &Path, platform: Option<&str>) -> Result<Self> {
        let charmcraft: Value = read_yaml(&dir.join("charmcraft.yaml"))?;
        let charmcraft = charmcraft
            .as_mapping()
            .context("charmcraft.yaml: expected a mapping at the top level")?;
        if let Some(t) = charmcraft.get("type") {
            ensure!(
                t.as_str() == Some("charm"),
                "charmcraft.yaml: `type` must be `charm`"
            );
        }
        for key in UNIFIED_ONLY_KEYS {
            ensure!(
                !charmcraft.contains_key(*key),
                "charmcraft.yaml declares `{key}`: charm-pack ships metadata.yaml, config.yaml and \
                 actions.yaml as they are, so move it into the matching file"
            );
        }
        ensure!(
            !charmcraft.contains_key("bases"),
            "charmcraft.yaml uses the legacy `bases:` list; charm-pack supports `base` + `platforms`"
        );
        let (platform, base) = select_platform(charmcraft, platform)?;

        let metadata_path = dir.join("metadata.yaml");
        let metadata_yaml = read_file(&metadata_path)?;
        let name = check_metadata(&metadata_yaml)
            .with_context(|| format!("invalid {}", metadata_path.display()))?;

        let config_path = dir.join("config.yaml");
        let config_yaml = read_optional(&config_path)?;
        if let Some(bytes) = &config_yaml {
            check_config(bytes).with_context(|| format!("invalid {}", config_path.display()))?;
        }
        let actions_path = dir.join("actions.yaml");
        let actions_yaml = read_optional(&actions_path)?;
        if let Some(bytes) = &actions_yaml {
            let v: Value = serde_yaml_ng::from_slice(bytes)
                .with_context(|| format!("invalid YAML in {}", actions_path.display()))?;
            ensure!(
                v.is_mapping(),
                "{}: expected a mapping of action names",
                actions_path.display()
            );
        }
        let dispatch = read_file(&dir.join("dispatch"))?;
        Ok(Self {
            name,
            platform,
            base,
            metadata_yaml,
            config_yaml,
            actions_yaml,
            dispatch,
        })
    }

    /// charmcraft's artefact name: `<name>_<platform label, ':' → '-'>.charm`.
    pub fn default_charm_file(&self) -> PathBuf {
        PathBuf::from(format!(
            "{}_{}.charm",
            self.name,
            self.platform.replace(':', "-")
        ))
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn read_yaml(path: &Path) -> Result<Value> {
    let bytes = read_file(path)?;
    serde_yaml_ng::from_slice(&bytes).with_context(|| format!("invalid YAML in {}", path.display()))
}

/// Checks what charmcraft's metadata linter requires and returns the charm name.
fn check_metadata(bytes: &[u8]) -> Result<String> {
    let v: Value = serde_yaml_ng::from_slice(bytes).context("not valid YAML")?;
    let m = v.as_mapping().context("expected a mapping")?;
    for key in ["name", "summary", "description"] {
        ensure!(
            m.get(key)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty()),
            "`{key}` must be a non-empty string"
        );
    }
    let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
    ensure!(
        is_word(name) && !name.starts_with('-'),
        "`name` {name:?} is not a valid charm name"
    );
    Ok(name.to_owned())
}

fn check_config(bytes: &[u8]) -> Result<()> {
    let v: Value = serde_yaml_ng::from_slice(bytes).context("not valid YAML")?;
    let options = v
        .get("options")
        .and_then(Value::as_mapping)
        .context("must have an `options` mapping")?;
    for (key, option) in options {
        let key = key.as_str().context("option names must be strings")?;
        let ty = option
            .get("type")
            .and_then(Value::as_str)
            .with_context(|| format!("option `{key}` has no `type`"))?;
        ensure!(
            CONFIG_TYPES.contains(&ty),
            "option `{key}`: type `{ty}` is not one of {CONFIG_TYPES:?}"
        );
        if let Some(default) = option.get("default") {
            let ok = match ty {
                "string" | "secret" => default.is_string(),
                "int" => default.is_i64() || default.is_u64(),
                "float" => default.is_number(),
                "boolean" => default.is_bool(),
                _ => false,
            };
            ensure!(
                ok || default.is_null(),
                "option `{key}`: default {default:?} is not a {ty}"
            );
        }
    }
    Ok(())
}

/// Resolves the one platform being packed to its label and run base, following
/// charmcraft's rules: `base` + `platforms: {<arch>: }`, multi-base shorthand
/// `platforms: {ubuntu@22.04:amd64: }`, or `platforms: {label: {build-on, build-for}}`.
fn select_platform(charmcraft: &Mapping, wanted: Option<&str>) -> Result<(String, Base)> {
    let platforms = charmcraft
        .get("platforms")
        .and_then(Value::as_mapping)
        .context("charmcraft.yaml: `platforms` mapping is missing")?;
    let labels: Vec<&str> = platforms.keys().filter_map(Value::as_str).collect();
    let label = match wanted {
        Some(w) => {
            ensure!(
                labels.contains(&w),
                "platform `{w}` is not in charmcraft.yaml (have: {labels:?})"
            );
            w
        }
        None => match labels.as_slice() {
            [only] => *only,
            _ => bail!("charmcraft.yaml has platforms {labels:?}: choose one with --platform"),
        },
    };
    let project_base = match charmcraft.get("base") {
        None => None,
        Some(b) => Some(
            b.as_str()
                .context("charmcraft.yaml: `base` must be a string")?,
        ),
    };
    let build_for = match platforms.get(label) {
        None | Some(Value::Null) => label.to_owned(),
        Some(Value::Mapping(p)) => match p.get("build-for").and_then(Value::as_sequence) {
            Some(seq) if seq.len() == 1 => seq[0]
                .as_str()
                .context("`build-for` entries must be strings")?
                .to_owned(),
            _ => bail!("platform `{label}`: `build-for` must list exactly one target"),
        },
        Some(_) => bail!("platform `{label}`: expected empty or a mapping"),
    };
    // `build-for` is `<arch>` or `<base>:<arch>`; the label may carry the base too.
    let (for_base, arch) = match build_for.rsplit_once(':') {
        Some((b, a)) => (Some(b.to_owned()), a.to_owned()),
        None => (None, build_for),
    };
    let label_base = label.rsplit_once(':').map(|(b, _)| b);
    let base = project_base
        .or(label_base)
        .or(for_base.as_deref())
        .with_context(|| format!("platform `{label}`: no `base` and none in the platform"))?;
    let (name, channel) = base
        .split_once('@')
        .with_context(|| format!("base `{base}` is not `<name>@<channel>`"))?;
    ensure!(
        is_word(name) && is_word(channel) && is_word(&arch),
        "base `{base}` / architecture `{arch}` has unexpected characters"
    );
    Ok((
        label.to_owned(),
        Base {
            name: name.to_owned(),
            channel: channel.to_owned(),
            architecture: arch,
        },
    ))
}

/// Lower-case letters, digits, '.', '-': safe to write unquoted in YAML and in file names.
fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(yaml: &str, wanted: Option<&str>) -> Result<(String, Base)> {
        let v: Value = serde_yaml_ng::from_str(yaml)?;
        select_platform(v.as_mapping().context("mapping")?, wanted)
    }

    fn base(name: &str, channel: &str, arch: &str) -> Base {
        Base {
            name: name.into(),
            channel: channel.into(),
            architecture: arch.into(),
        }
    }

    #[test]
    fn base_plus_arch_platform() -> Result<()> {
        let (label, b) = platform("base: ubuntu@22.04\nplatforms: {amd64: }", None)?;
        assert_eq!(label, "amd64");
        assert_eq!(b, base("ubuntu", "22.04", "amd64"));
        Ok(())
    }

    #[test]
    fn multi_base_shorthand() -> Result<()> {
        let (label, b) = platform("platforms: {'ubuntu@24.04:arm64': }", None)?;
        assert_eq!(label, "ubuntu@24.04:arm64");
        assert_eq!(b, base("ubuntu", "24.04", "arm64"));
        Ok(())
    }

    #[test]
    fn explicit_build_for_with_base() -> Result<()> {
        let yaml = "platforms:\n  jammy:\n    build-on: [ubuntu@22.04:amd64]\n    build-for: [ubuntu@22.04:amd64]";
        let (label, b) = platform(yaml, None)?;
        assert_eq!(label, "jammy");
        assert_eq!(b, base("ubuntu", "22.04", "amd64"));
        Ok(())
    }

    #[test]
    fn several_platforms_need_a_choice() -> Result<()> {
        let yaml = "base: ubuntu@22.04\nplatforms: {amd64: , arm64: }";
        let err = platform(yaml, None).err().context("expected an error")?;
        assert!(err.to_string().contains("--platform"), "{err}");
        let (_, b) = platform(yaml, Some("arm64"))?;
        assert_eq!(b.architecture, "arm64");
        assert!(platform(yaml, Some("s390x")).is_err());
        Ok(())
    }

    #[test]
    fn arch_without_any_base_is_an_error() {
        assert!(platform("platforms: {amd64: }", None).is_err());
    }

    #[test]
    fn config_types_and_defaults_are_checked() {
        let ok = b"options:\n  a: {type: int, default: 100}\n  b: {type: boolean, default: false}\n  c: {type: float, default: 1}\n  d: {type: string}";
        assert!(check_config(ok).is_ok());
        assert!(check_config(b"options:\n  a: {type: integer, default: 1}").is_err());
        assert!(check_config(b"options:\n  a: {type: int, default: 'x'}").is_err());
        assert!(check_config(b"options:\n  a: {default: 1}").is_err());
        assert!(check_config(b"nothing: here").is_err());
    }

    #[test]
    fn metadata_needs_name_summary_description() {
        assert!(check_metadata(b"name: x\nsummary: s\ndescription: d").is_ok());
        assert!(check_metadata(b"name: x\nsummary: s").is_err());
        assert!(check_metadata(b"name: Bad_Name\nsummary: s\ndescription: d").is_err());
    }
}
