//! Scenario files (`shared/spec/scenario-format.md`): parsing and validation against the charm.
//!
//! Everything is checked before the first step runs, so a bad step 7 never leaves a half-played
//! run behind: the caller gets one `SimError::Scenario` line saying what and where.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::charm::{CharmMeta, Role};
use crate::error::SimError;

pub type Bag = BTreeMap<String, String>;

fn default_planned_units() -> u32 {
    1
}
fn default_juju_version() -> String {
    "3.6.4".to_string()
}
fn default_uuid() -> String {
    "00000000-0000-4000-8000-000000000000".to_string()
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    #[serde(default = "default_uuid")]
    pub uuid: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationSpec {
    pub id: u64,
    pub endpoint: String,
    /// Required except for peer relations (where it is the charm's own app).
    #[serde(default)]
    pub remote_app: Option<String>,
    #[serde(default)]
    pub remote_units: Vec<String>,
    #[serde(default)]
    pub remote_app_data: Bag,
    /// Units missing here get Juju's address keys only.
    #[serde(default)]
    pub remote_units_data: BTreeMap<String, Bag>,
    #[serde(default)]
    pub local_app_data: Bag,
    /// Absent: Juju's pre-populated address keys.
    #[serde(default)]
    pub local_unit_data: Option<Bag>,
    #[serde(default)]
    pub remote_model_uuid: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    #[serde(default = "default_true")]
    pub can_connect: bool,
}

/// `crds: default | none | [files]`.
#[derive(Debug, Clone, Default)]
pub enum CrdsSpec {
    #[default]
    Default,
    None,
    Files(Vec<PathBuf>),
}

impl<'de> Deserialize<'de> for CrdsSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Files(Vec<PathBuf>),
        }
        match Raw::deserialize(d) {
            Ok(Raw::Word(w)) if w == "default" => Ok(CrdsSpec::Default),
            Ok(Raw::Word(w)) if w == "none" => Ok(CrdsSpec::None),
            Ok(Raw::Files(f)) => Ok(CrdsSpec::Files(f)),
            _ => Err(serde::de::Error::custom(
                "crds must be 'default', 'none' or a list of CRD file paths",
            )),
        }
    }
}

/// The scenario document as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub model: ModelSpec,
    pub unit: String,
    #[serde(default)]
    pub leader: bool,
    #[serde(default = "default_planned_units")]
    pub planned_units: u32,
    #[serde(default = "default_juju_version")]
    pub juju_version: String,
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
    #[serde(default)]
    pub relations: Vec<RelationSpec>,
    #[serde(default)]
    pub containers: BTreeMap<String, ContainerSpec>,
    #[serde(default)]
    pub kubernetes: Vec<Value>,
    #[serde(default)]
    pub crds: CrdsSpec,
    #[serde(default)]
    pub faults: Vec<Value>,
    #[serde(default)]
    pub steps: Vec<Value>,
    /// Directory the scenario came from; relative CRD paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

impl Scenario {
    /// Reads a scenario file: JSON when it is named `*.json` (whatever its text), else as
    /// [`Scenario::parse`] reads text.
    pub fn load(path: &Path) -> Result<Scenario, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            SimError::Scenario(format!("{}: cannot read scenario: {e}", path.display()))
        })?;
        let named_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let parsed = if named_json {
            Scenario::parse_json(&text)
        } else {
            Scenario::parse(&text)
        };
        let mut s = parsed.map_err(|e| match e {
            SimError::Scenario(m) => SimError::Scenario(format!("{}: {m}", path.display())),
            other => other,
        })?;
        s.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(s)
    }

    /// Parses scenario text: JSON when it is a JSON document whose first non-blank character
    /// is `{`, else YAML. `base_dir` is left as `.`.
    ///
    /// JSON is not left to the YAML parser although YAML 1.2 contains it: that parser refuses
    /// what JSON writers put in strings for characters outside the BMP. Python's `json.dumps`
    /// writes 😀 as the surrogate pair `"\ud83d\ude00"`, one character to JSON; to YAML each
    /// `\u` escape must be a character by itself, and a surrogate is none.
    pub fn parse(text: &str) -> Result<Scenario, SimError> {
        if is_json_object(text) {
            return Scenario::parse_json(text);
        }
        let mut s: Scenario =
            serde_yaml_ng::from_str(text).map_err(|e| SimError::Scenario(e.to_string()))?;
        s.base_dir = PathBuf::from(".");
        Ok(s)
    }

    /// Parses scenario text as JSON (a leading byte order mark is allowed).
    pub fn parse_json(text: &str) -> Result<Scenario, SimError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut s: Scenario =
            serde_json::from_str(text).map_err(|e| SimError::Scenario(e.to_string()))?;
        s.base_dir = PathBuf::from(".");
        Ok(s)
    }

    pub fn app(&self) -> &str {
        self.unit.split('/').next().unwrap_or(&self.unit)
    }
}

/// Text whose first non-blank character is `{` and that is one JSON document (a YAML flow
/// mapping such as `{model: {name: p}}` also starts with `{` but is no JSON).
fn is_json_object(text: &str) -> bool {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.trim_start().starts_with('{')
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelKind {
    Created,
    Joined,
    Changed,
    Departed,
    Broken,
}

impl RelKind {
    const ALL: [(RelKind, &'static str); 5] = [
        (RelKind::Created, "created"),
        (RelKind::Joined, "joined"),
        (RelKind::Changed, "changed"),
        (RelKind::Departed, "departed"),
        (RelKind::Broken, "broken"),
    ];
}

/// What kind of hook a step name is, which decides its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookKind {
    Plain,
    Relation { endpoint: String, kind: RelKind },
    Workload { container: String },
    Storage { storage: String },
}

const PLAIN_HOOKS: &[&str] = &[
    "install",
    "start",
    "config-changed",
    "upgrade-charm",
    "update-status",
    "stop",
    "remove",
    "leader-elected",
    "leader-settings-changed",
    "collect-metrics",
    "pre-series-upgrade",
    "post-series-upgrade",
];

pub fn classify_hook(name: &str, meta: &CharmMeta) -> Option<HookKind> {
    if PLAIN_HOOKS.contains(&name) {
        return Some(HookKind::Plain);
    }
    for ep in meta.endpoints.keys() {
        for (kind, suffix) in RelKind::ALL {
            if name == format!("{ep}-relation-{suffix}") {
                return Some(HookKind::Relation {
                    endpoint: ep.clone(),
                    kind,
                });
            }
        }
    }
    if let Some(c) = meta
        .containers
        .iter()
        .find(|c| name == format!("{c}-pebble-ready"))
    {
        return Some(HookKind::Workload {
            container: c.clone(),
        });
    }
    for s in &meta.storages {
        for suffix in ["storage-attached", "storage-detaching"] {
            if name == format!("{s}-{suffix}") {
                return Some(HookKind::Storage { storage: s.clone() });
            }
        }
    }
    None
}

/// Real Juju events whose context (secrets, Pebble notices and checks) is not modelled: a
/// scenario using them is refused rather than run with an incomplete environment.
fn unmodelled_event(name: &str, meta: &CharmMeta) -> bool {
    let secret = [
        "secret-changed",
        "secret-rotate",
        "secret-expired",
        "secret-remove",
    ]
    .contains(&name);
    let workload = meta.containers.iter().any(|c| {
        [
            "pebble-custom-notice",
            "pebble-check-failed",
            "pebble-check-recovered",
        ]
        .iter()
        .any(|suffix| name == format!("{c}-{suffix}"))
    });
    secret || workload
}

#[derive(Debug, Clone)]
pub struct HookStep {
    pub name: String,
    pub kind: HookKind,
    /// Resolved relation id for relation hooks.
    pub relation: Option<u64>,
    pub remote_unit: Option<String>,
    pub departing_unit: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

/// One `update:` step; every present key is applied, in field order.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub relation: Option<u64>,
    pub remote_app_data: Option<Bag>,
    pub remote_units_data: Option<BTreeMap<String, Bag>>,
    pub remote_units: Option<Vec<String>>,
    pub local_app_data: Option<Bag>,
    pub local_unit_data: Option<Bag>,
    pub leader: Option<bool>,
    pub config: Option<BTreeMap<String, Value>>,
    pub add_relation: Option<RelationSpec>,
    pub remove_relation: Option<u64>,
    pub planned_units: Option<u32>,
    pub containers: Option<BTreeMap<String, ContainerSpec>>,
    pub kubernetes: Option<Vec<Value>>,
    pub kubernetes_delete: Option<Vec<ObjectRef>>,
    /// Replaces the armed API faults: those left from earlier are disarmed, these are
    /// armed (`faults: []` disarms every one).
    pub faults: Option<Vec<Value>>,
}

#[derive(Debug, Clone)]
pub enum Step {
    Hook(HookStep),
    Update(Box<Update>),
    Action {
        name: String,
        params: serde_json::Map<String, Value>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHook {
    hook: String,
    #[serde(default)]
    relation: Option<u64>,
    #[serde(default)]
    remote_unit: Option<String>,
    #[serde(default)]
    departing_unit: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    action: String,
    #[serde(default)]
    params: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpdate {
    update: Update,
}

fn bad(msg: impl Into<String>) -> SimError {
    SimError::Scenario(msg.into())
}

/// Relations as seen while validating the step list.
struct SimRel {
    endpoint: String,
    remote_app: String,
    remote_units: BTreeSet<String>,
}

/// Checks the whole scenario against the charm and resolves the steps.
pub fn validate(s: &Scenario, meta: &CharmMeta) -> Result<Vec<Step>, SimError> {
    let (app, num) = s
        .unit
        .split_once('/')
        .ok_or_else(|| bad(format!("unit: {:?} is not <app>/<number>", s.unit)))?;
    if app.is_empty() || num.parse::<u32>().is_err() {
        return Err(bad(format!("unit: {:?} is not <app>/<number>", s.unit)));
    }
    if s.model.name.is_empty() {
        return Err(bad("model.name: must not be empty"));
    }
    validate_config(&s.config, meta, "config", false)?;
    for name in s.containers.keys() {
        if !meta.containers.contains(name) {
            return Err(bad(format!(
                "containers.{name}: container not declared by the charm"
            )));
        }
    }
    for (i, o) in s.kubernetes.iter().enumerate() {
        if !o.is_object() {
            return Err(bad(format!("kubernetes[{i}]: not an object")));
        }
    }

    let mut rels: BTreeMap<u64, SimRel> = BTreeMap::new();
    for (i, r) in s.relations.iter().enumerate() {
        let sim = check_relation(r, meta, app, &s.unit, &format!("relations[{i}]"))?;
        if rels.insert(r.id, sim).is_some() {
            return Err(bad(format!(
                "relations[{i}]: relation id {} used twice",
                r.id
            )));
        }
    }

    let mut steps = Vec::with_capacity(s.steps.len());
    for (i, raw) in s.steps.iter().enumerate() {
        let at = format!("steps[{i}]");
        let step = match raw {
            Value::String(name) => hook_step(
                RawHook {
                    hook: name.clone(),
                    relation: None,
                    remote_unit: None,
                    departing_unit: None,
                },
                meta,
                &mut rels,
                &s.unit,
                &at,
            )?,
            Value::Object(m) if m.contains_key("hook") => {
                let h: RawHook =
                    serde_json::from_value(raw.clone()).map_err(|e| bad(format!("{at}: {e}")))?;
                hook_step(h, meta, &mut rels, &s.unit, &at)?
            }
            Value::Object(m) if m.contains_key("action") => {
                let a: RawAction =
                    serde_json::from_value(raw.clone()).map_err(|e| bad(format!("{at}: {e}")))?;
                if !meta.actions.contains_key(&a.action) {
                    return Err(bad(format!(
                        "{at}: action {:?} not declared by the charm",
                        a.action
                    )));
                }
                Step::Action {
                    name: a.action,
                    params: a.params,
                }
            }
            Value::Object(m) if m.contains_key("update") => {
                let u: RawUpdate =
                    serde_json::from_value(raw.clone()).map_err(|e| bad(format!("{at}: {e}")))?;
                check_update(&u.update, meta, &mut rels, app, &s.unit, &at)?;
                Step::Update(Box::new(u.update))
            }
            _ => {
                return Err(bad(format!(
                    "{at}: expected a hook name or a map with `hook`, `action` or `update`"
                )));
            }
        };
        steps.push(step);
    }
    Ok(steps)
}

pub fn validate_config(
    cfg: &BTreeMap<String, Value>,
    meta: &CharmMeta,
    at: &str,
    allow_null: bool,
) -> Result<(), SimError> {
    for (k, v) in cfg {
        let opt = meta
            .config
            .get(k)
            .ok_or_else(|| bad(format!("{at}.{k}: config option not declared by the charm")))?;
        if v.is_null() && allow_null {
            continue;
        }
        if !opt.kind.accepts(v) {
            let t = opt.kind.name();
            let article = if t == "int" { "an" } else { "a" };
            return Err(bad(format!(
                "{at}.{k}: expected {article} {t} value, got {v}"
            )));
        }
    }
    Ok(())
}

fn check_relation(
    r: &RelationSpec,
    meta: &CharmMeta,
    app: &str,
    unit: &str,
    at: &str,
) -> Result<SimRel, SimError> {
    let role = meta.endpoints.get(&r.endpoint).ok_or_else(|| {
        bad(format!(
            "{at}: endpoint {:?} not declared by the charm",
            r.endpoint
        ))
    })?;
    let remote_app = match (role, &r.remote_app) {
        (Role::Peers, None) => app.to_string(),
        (Role::Peers, Some(a)) if a == app => app.to_string(),
        (Role::Peers, Some(a)) => {
            return Err(bad(format!(
                "{at}: peer relation remote_app must be {app:?}, got {a:?}"
            )));
        }
        (_, None) => return Err(bad(format!("{at}: remote_app is required"))),
        (_, Some(a)) if a.is_empty() || a.contains('/') => {
            return Err(bad(format!("{at}: invalid remote_app {a:?}")));
        }
        (_, Some(a)) => a.clone(),
    };
    let units = check_units(&r.remote_units, &remote_app, unit, at)?;
    for u in r.remote_units_data.keys() {
        if !units.contains(u) {
            return Err(bad(format!(
                "{at}.remote_units_data: unit {u:?} is not in remote_units"
            )));
        }
    }
    Ok(SimRel {
        endpoint: r.endpoint.clone(),
        remote_app,
        remote_units: units,
    })
}

fn check_units(
    units: &[String],
    remote_app: &str,
    own_unit: &str,
    at: &str,
) -> Result<BTreeSet<String>, SimError> {
    let mut set = BTreeSet::new();
    for u in units {
        let ok = u
            .strip_prefix(remote_app)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|n| n.parse::<u32>().is_ok());
        if !ok {
            return Err(bad(format!(
                "{at}.remote_units: {u:?} is not a unit of {remote_app:?}"
            )));
        }
        if u == own_unit {
            return Err(bad(format!("{at}.remote_units: {u:?} is the local unit")));
        }
        if !set.insert(u.clone()) {
            return Err(bad(format!("{at}.remote_units: {u:?} listed twice")));
        }
    }
    Ok(set)
}

fn hook_step(
    h: RawHook,
    meta: &CharmMeta,
    rels: &mut BTreeMap<u64, SimRel>,
    own_unit: &str,
    at: &str,
) -> Result<Step, SimError> {
    if unmodelled_event(&h.hook, meta) {
        return Err(bad(format!(
            "{at}: {:?} needs secrets, Pebble notices or checks, which charm-sim does not model",
            h.hook
        )));
    }
    let kind = classify_hook(&h.hook, meta).ok_or_else(|| {
        bad(format!(
            "{at}: {:?} is not a hook of this charm (unknown event or undeclared endpoint/container)",
            h.hook
        ))
    })?;
    let HookKind::Relation { endpoint, kind: rk } = &kind else {
        if h.relation.is_some() || h.remote_unit.is_some() || h.departing_unit.is_some() {
            return Err(bad(format!(
                "{at}: relation/remote_unit/departing_unit only apply to relation hooks"
            )));
        }
        return Ok(Step::Hook(HookStep {
            name: h.hook,
            kind,
            relation: None,
            remote_unit: None,
            departing_unit: None,
        }));
    };
    let id = match h.relation {
        Some(id) => {
            let r = rels
                .get(&id)
                .ok_or_else(|| bad(format!("{at}: relation {id} does not exist at this step")))?;
            if &r.endpoint != endpoint {
                return Err(bad(format!(
                    "{at}: relation {id} is on endpoint {:?}, not {endpoint:?}",
                    r.endpoint
                )));
            }
            id
        }
        None => {
            let ids: Vec<u64> = rels
                .iter()
                .filter(|(_, r)| &r.endpoint == endpoint)
                .map(|(id, _)| *id)
                .collect();
            match ids.as_slice() {
                [one] => *one,
                _ => {
                    return Err(bad(format!(
                        "{at}: {} relations on endpoint {endpoint:?}; name one with `relation:`",
                        ids.len()
                    )));
                }
            }
        }
    };
    let Some(r) = rels.get_mut(&id) else {
        return Err(bad(format!(
            "{at}: relation {id} does not exist at this step"
        )));
    };
    let in_rel = |u: &str, r: &SimRel| -> Result<(), SimError> {
        if r.remote_units.contains(u) {
            Ok(())
        } else {
            Err(bad(format!(
                "{at}: remote unit {u:?} is not in relation {id} (remote_units of {:?})",
                r.remote_app
            )))
        }
    };
    let mut departing = None;
    match rk {
        RelKind::Created | RelKind::Broken => {
            if h.remote_unit.is_some() || h.departing_unit.is_some() {
                return Err(bad(format!("{at}: {} runs without a remote unit", h.hook)));
            }
        }
        RelKind::Joined => {
            let u = h
                .remote_unit
                .as_deref()
                .ok_or_else(|| bad(format!("{at}: {} needs remote_unit", h.hook)))?;
            in_rel(u, r)?;
        }
        RelKind::Changed => {
            if let Some(u) = &h.remote_unit {
                in_rel(u, r)?;
            }
            if h.departing_unit.is_some() {
                return Err(bad(format!(
                    "{at}: departing_unit only applies to -departed"
                )));
            }
        }
        RelKind::Departed => {
            let d = h
                .departing_unit
                .clone()
                .or_else(|| h.remote_unit.clone())
                .ok_or_else(|| {
                    bad(format!(
                        "{at}: {} needs departing_unit or remote_unit",
                        h.hook
                    ))
                })?;
            if d != own_unit {
                in_rel(&d, r)?;
            }
            if let Some(u) = &h.remote_unit {
                in_rel(u, r)?;
            }
            r.remote_units.remove(&d);
            departing = Some(d);
        }
    }
    if *rk == RelKind::Broken {
        rels.remove(&id);
    }
    Ok(Step::Hook(HookStep {
        name: h.hook,
        kind,
        relation: Some(id),
        remote_unit: h.remote_unit,
        departing_unit: departing,
    }))
}

fn check_update(
    u: &Update,
    meta: &CharmMeta,
    rels: &mut BTreeMap<u64, SimRel>,
    app: &str,
    own_unit: &str,
    at: &str,
) -> Result<(), SimError> {
    let touches_bags = u.remote_app_data.is_some()
        || u.remote_units_data.is_some()
        || u.remote_units.is_some()
        || u.local_app_data.is_some()
        || u.local_unit_data.is_some();
    match (u.relation, touches_bags) {
        (None, true) => {
            return Err(bad(format!(
                "{at}.update: relation data changes need `relation: <id>`"
            )));
        }
        (Some(id), _) => {
            let r = rels.get_mut(&id).ok_or_else(|| {
                bad(format!(
                    "{at}.update.relation: relation {id} does not exist at this step"
                ))
            })?;
            if let Some(units) = &u.remote_units {
                r.remote_units =
                    check_units(units, &r.remote_app, own_unit, &format!("{at}.update"))?;
            }
            if let Some(data) = &u.remote_units_data {
                for unit in data.keys() {
                    if !r.remote_units.contains(unit) {
                        return Err(bad(format!(
                            "{at}.update.remote_units_data: unit {unit:?} is not in relation {id}"
                        )));
                    }
                }
            }
        }
        (None, false) => {}
    }
    if let Some(cfg) = &u.config {
        validate_config(cfg, meta, &format!("{at}.update.config"), true)?;
    }
    if let Some(r) = &u.add_relation {
        let sim = check_relation(r, meta, app, own_unit, &format!("{at}.update.add_relation"))?;
        if rels.contains_key(&r.id) {
            return Err(bad(format!(
                "{at}.update.add_relation: relation id {} used twice",
                r.id
            )));
        }
        rels.insert(r.id, sim);
    }
    if let Some(id) = u.remove_relation
        && rels.remove(&id).is_none()
    {
        return Err(bad(format!(
            "{at}.update.remove_relation: relation {id} does not exist at this step"
        )));
    }
    if let Some(cs) = &u.containers {
        for name in cs.keys() {
            if !meta.containers.contains(name) {
                return Err(bad(format!(
                    "{at}.update.containers.{name}: container not declared by the charm"
                )));
            }
        }
    }
    if let Some(objs) = &u.kubernetes {
        for (i, o) in objs.iter().enumerate() {
            if !o.is_object() {
                return Err(bad(format!("{at}.update.kubernetes[{i}]: not an object")));
            }
        }
    }
    for (i, f) in u.faults.iter().flatten().enumerate() {
        let fault: crate::kube::Fault = serde_json::from_value(f.clone())
            .map_err(|e| bad(format!("{at}.update.faults[{i}]: {e}")))?;
        if let Some(r) = &fault.matcher.path_regex
            && let Err(e) = regex::Regex::new(r)
        {
            return Err(bad(format!(
                "{at}.update.faults[{i}]: path_regex {r:?}: {e}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_is_told_from_yaml() {
        assert!(is_json_object("{\"model\": {\"name\": \"p\"}}"));
        assert!(is_json_object("\u{feff}\n  {\"a\": \"\\ud83d\\ude00\"}\n"));
        // YAML flow mappings, YAML documents, and JSON that is not an object.
        assert!(!is_json_object("{model: {name: p}}"));
        assert!(!is_json_object("model: {name: p}\n"));
        assert!(!is_json_object("[1, 2]"));
        assert!(!is_json_object("{\"a\": 1} trailing"));
    }

    #[test]
    fn surrogate_pairs_in_json_are_one_character() -> Result<(), SimError> {
        let text = r#"{"model": {"name": "p"}, "unit": "a/0", "relations": [{"id": 1,
            "endpoint": "db", "remote_app": "b", "remote_app_data": {"k": "\ud83d\ude00 \ud834\udd1e"}}]}"#;
        for s in [Scenario::parse(text)?, Scenario::parse_json(text)?] {
            assert_eq!(s.relations[0].remote_app_data["k"], "\u{1F600} \u{1D11E}");
        }
        Ok(())
    }
}
