//! Plays a scenario: starts the fake world (agent socket, Kubernetes API server, Pebble
//! sockets), runs the charm's `dispatch` once per step with Juju's environment, commits or
//! discards each hook's buffered writes, and collects the output document.
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::Value;

use crate::agent::AgentServer;
use crate::charm::Charm;
use crate::error::SimError;
use crate::kube::{ApiServer, ApiServerConfig, Fault, KubeSimError};
use crate::measure;
use crate::output::{ActionOutput, ApiRequest, Output, PebbleOutput, RelationOutput, StepOutput};
use crate::pebble::{PebbleServer, PebbleState};
use crate::scenario::{CrdsSpec, HookKind, HookStep, RelKind, Scenario, Step, Update, validate};
use crate::tools::TOOL_NAMES;
use crate::world::{ActionCtx, HookCtx, Relation, World, address_bag};

/// How to run a scenario.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The hook-tool client linked under every tool name. Default: [`TOOL_CLIENT`] next to the
    /// current executable; tests elsewhere pass the built `charm-sim-jujuc`.
    pub tool_binary: Option<PathBuf>,
}

/// A scenario file, or one already parsed.
pub enum ScenarioInput<'a> {
    File(&'a Path),
    Parsed(&'a Scenario),
}

impl<'a> From<&'a Path> for ScenarioInput<'a> {
    fn from(p: &'a Path) -> Self {
        ScenarioInput::File(p)
    }
}

impl<'a> From<&'a PathBuf> for ScenarioInput<'a> {
    fn from(p: &'a PathBuf) -> Self {
        ScenarioInput::File(p)
    }
}

impl<'a> From<&'a Scenario> for ScenarioInput<'a> {
    fn from(s: &'a Scenario) -> Self {
        ScenarioInput::Parsed(s)
    }
}

/// Runs `scenario` against the charm at `charm` (a directory or a `.charm` zip).
pub fn run_scenario<'a>(
    charm: &Path,
    scenario: impl Into<ScenarioInput<'a>>,
    opts: &RunOptions,
) -> Result<Output, SimError> {
    match scenario.into() {
        ScenarioInput::File(p) => {
            let loaded = Scenario::load(p)?;
            // Every scenario error names the file, whichever stage found it.
            play(charm, &loaded, opts).map_err(|e| match e {
                SimError::Scenario(m) if !m.starts_with(&p.display().to_string()) => {
                    SimError::Scenario(format!("{}: {m}", p.display()))
                }
                other => other,
            })
        }
        ScenarioInput::Parsed(s) => play(charm, s, opts),
    }
}

fn play(charm: &Path, scenario: &Scenario, opts: &RunOptions) -> Result<Output, SimError> {
    let charm = Charm::open(charm)?;
    let steps = validate(scenario, &charm.meta)?;
    let mut sim = Sim::start(scenario, &charm, opts)?;
    let mut outputs = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Update(u) => sim.update(u, &format!("steps[{i}].update"))?,
            Step::Hook(h) => outputs.push(sim.run_hook(h)?),
            Step::Action { name, params } => outputs.push(sim.run_action(name, params)?),
        }
    }
    Ok(sim.finish(outputs))
}

/// Go's `%q`-free Juju controller address; never contacted.
const API_ADDRESSES: &str = "192.0.2.1:17070";

struct Sim<'c> {
    charm: &'c Charm,
    world: Arc<Mutex<World>>,
    api: ApiServer,
    pebble_states: BTreeMap<String, Arc<Mutex<PebbleState>>>,
    // Drop order: the Pebble servers stop before the runtime that serves them.
    pebble_servers: BTreeMap<String, PebbleServer>,
    rt: tokio::runtime::Runtime,
    containers_root: PathBuf,
    tools_dir: PathBuf,
    socket: PathBuf,
    kubeconfig: PathBuf,
    host_path: String,
    version: String,
    counter: u64,
    action_counter: u64,
    // Field order matters for drop: the agent stops before its temp dir goes away.
    _agent: AgentServer,
    _tmp: tempfile::TempDir,
}

fn kube_err(at: &str, e: KubeSimError) -> SimError {
    match e {
        KubeSimError::Io(e) => SimError::Kube(e.to_string()),
        other => SimError::Scenario(format!("{at}: {other}")),
    }
}

fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    // Tool threads never panic while holding the lock; recover the state if one did.
    world.lock().unwrap_or_else(|p| p.into_inner())
}

fn load_crds(s: &Scenario) -> Result<Vec<Value>, SimError> {
    match &s.crds {
        CrdsSpec::Default => Ok(ApiServer::default_crds()),
        CrdsSpec::None => Ok(Vec::new()),
        CrdsSpec::Files(files) => {
            let mut out = Vec::new();
            for (i, f) in files.iter().enumerate() {
                let path = s.base_dir.join(f);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    SimError::Scenario(format!("crds[{i}]: cannot read {}: {e}", path.display()))
                })?;
                for doc in serde_yaml_ng::Deserializer::from_str(&text) {
                    let v = <Value as serde::Deserialize>::deserialize(doc).map_err(|e| {
                        SimError::Scenario(format!("crds[{i}]: {}: {e}", path.display()))
                    })?;
                    if !v.is_null() {
                        out.push(v);
                    }
                }
            }
            Ok(out)
        }
    }
}

fn parse_faults(raw: &[Value], at: &str) -> Result<Vec<Fault>, SimError> {
    raw.iter()
        .enumerate()
        .map(|(i, v)| {
            serde_json::from_value(v.clone())
                .map_err(|e| SimError::Scenario(format!("{at}[{i}]: {e}")))
        })
        .collect()
}

impl<'c> Sim<'c> {
    fn start(s: &Scenario, charm: &'c Charm, opts: &RunOptions) -> Result<Sim<'c>, SimError> {
        let crds = load_crds(s)?;
        let faults = parse_faults(&s.faults, "faults")?;
        let api = ApiServer::start(ApiServerConfig {
            crds,
            objects: s.kubernetes.clone(),
            faults,
        })
        .map_err(|e| {
            let at = match &e {
                KubeSimError::InvalidCrd(_) => "crds",
                KubeSimError::InvalidFault(_) => "faults",
                _ => "kubernetes",
            };
            kube_err(at, e)
        })?;
        // Setup writes are not the charm's requests.
        api.take_requests();

        let tmp = tempfile::Builder::new().prefix("charm-sim-").tempdir()?;
        let tools_dir = tmp.path().join("tools");
        std::fs::create_dir(&tools_dir)?;
        let exe = match &opts.tool_binary {
            // The links live in another directory: a relative path would dangle.
            Some(p) => std::path::absolute(p)?,
            None => default_tool_binary()?,
        };
        for name in TOOL_NAMES {
            std::os::unix::fs::symlink(&exe, tools_dir.join(name))?;
        }
        let kubeconfig = tmp.path().join("kubeconfig");
        api.write_kubeconfig(&kubeconfig, &s.model.name)?;
        let socket = tmp.path().join("agent.socket");
        let world = Arc::new(Mutex::new(World::new(s, &charm.meta)));
        let agent = AgentServer::start(&socket, world.clone())?;

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("charm-sim-pebble")
            .enable_all()
            .build()?;
        let containers_root = tmp.path().join("containers");
        std::fs::create_dir(&containers_root)?;
        let mut sim = Sim {
            charm,
            world,
            api,
            rt,
            pebble_states: BTreeMap::new(),
            pebble_servers: BTreeMap::new(),
            containers_root,
            tools_dir,
            socket,
            kubeconfig,
            host_path: std::env::var("PATH").unwrap_or_else(|_| {
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
            }),
            version: s.juju_version.clone(),
            counter: 0,
            action_counter: 0,
            _agent: agent,
            _tmp: tmp,
        };
        for c in &charm.meta.containers {
            sim.pebble_states
                .insert(c.clone(), Arc::new(Mutex::new(PebbleState::new())));
            let can_connect = s.containers.get(c).is_none_or(|spec| spec.can_connect);
            sim.set_connectable(c, can_connect)?;
        }
        Ok(sim)
    }

    fn set_connectable(&mut self, container: &str, on: bool) -> Result<(), SimError> {
        if !on {
            self.pebble_servers.remove(container);
            return Ok(());
        }
        if self.pebble_servers.contains_key(container) {
            return Ok(());
        }
        let Some(state) = self.pebble_states.get(container) else {
            return Ok(());
        };
        let socket = self.containers_root.join(container).join("pebble.socket");
        let server = PebbleServer::start(&self.rt, &socket, state.clone())
            .map_err(|e| SimError::Pebble(format!("{container}: {e}")))?;
        self.pebble_servers.insert(container.to_string(), server);
        Ok(())
    }

    fn update(&mut self, u: &Update, at: &str) -> Result<(), SimError> {
        {
            let mut w = lock(&self.world);
            if let Some(id) = u.relation {
                let rel = w.relations.get_mut(&id).ok_or_else(|| {
                    SimError::Scenario(format!("{at}.relation: relation {id} does not exist"))
                })?;
                if let Some(d) = &u.remote_app_data {
                    rel.remote_app_data = d.clone();
                }
                if let Some(d) = &u.remote_units_data {
                    rel.remote_units_data = d.clone();
                }
                if let Some(units) = &u.remote_units {
                    rel.remote_units = units.clone();
                    rel.remote_units.sort();
                }
                for unit in rel.remote_units.clone() {
                    rel.remote_units_data
                        .entry(unit)
                        .or_insert_with(address_bag);
                }
                if let Some(d) = &u.local_app_data {
                    rel.local_app_data = d.clone();
                }
                if let Some(d) = &u.local_unit_data {
                    rel.local_unit_data = d.clone();
                }
            }
            if let Some(l) = u.leader {
                w.leader = l;
            }
            if let Some(cfg) = &u.config {
                for (k, v) in cfg {
                    if v.is_null() {
                        w.config.remove(k);
                    } else {
                        w.config.insert(k.clone(), v.clone());
                    }
                }
            }
            if let Some(r) = &u.add_relation {
                let app = w.app.clone();
                let rel = Relation::from_spec(r, &self.charm.meta, &app);
                w.relations.insert(r.id, rel);
            }
            if let Some(id) = u.remove_relation {
                w.relations.remove(&id);
            }
            if let Some(n) = u.planned_units {
                w.planned_units = n;
            }
        }
        if let Some(cs) = &u.containers {
            for (name, spec) in cs {
                self.set_connectable(name, spec.can_connect)?;
            }
        }
        if let Some(objs) = &u.kubernetes {
            self.api
                .apply_objects(objs.clone())
                .map_err(|e| kube_err(&format!("{at}.kubernetes"), e))?;
        }
        for (i, r) in u.kubernetes_delete.iter().flatten().enumerate() {
            self.api
                .delete_object(&r.api_version, &r.kind, r.namespace.as_deref(), &r.name)
                .map_err(|e| kube_err(&format!("{at}.kubernetes_delete[{i}]"), e))?;
        }
        if let Some(raw) = &u.faults {
            let faults = parse_faults(raw, &format!("{at}.faults"))?;
            self.api
                .replace_faults(faults)
                .map_err(|e| kube_err(&format!("{at}.faults"), e))?;
        }
        // Writes made as "another actor" are not the charm's requests.
        self.api.take_requests();
        Ok(())
    }

    fn base_env(&mut self, event: &str) -> Vec<(String, String)> {
        self.counter += 1;
        let w = lock(&self.world);
        let dir = self.charm.dir.display().to_string();
        let (host, port) = self
            .api
            .url()
            .rsplit_once(':')
            .map(|(h, p)| (h.trim_start_matches("http://").to_string(), p.to_string()))
            .unwrap_or_default();
        let pairs = [
            ("JUJU_CHARM_DIR", dir.clone()),
            ("CHARM_DIR", dir),
            ("JUJU_UNIT_NAME", w.unit.clone()),
            ("JUJU_MODEL_NAME", w.model_name.clone()),
            ("JUJU_MODEL_UUID", w.model_uuid.clone()),
            ("JUJU_VERSION", self.version.clone()),
            (
                "JUJU_CONTEXT_ID",
                format!("{}-{event}-{}", w.unit, self.counter),
            ),
            (
                "JUJU_AGENT_SOCKET_ADDRESS",
                self.socket.display().to_string(),
            ),
            ("JUJU_AGENT_SOCKET_NETWORK", "unix".into()),
            ("JUJU_API_ADDRESSES", API_ADDRESSES.into()),
            ("JUJU_MACHINE_ID", String::new()),
            ("JUJU_PRINCIPAL_UNIT", String::new()),
            ("JUJU_AVAILABILITY_ZONE", String::new()),
            ("CLOUD_API_VERSION", String::new()),
            ("JUJU_CHARM_HTTP_PROXY", String::new()),
            ("JUJU_CHARM_HTTPS_PROXY", String::new()),
            ("JUJU_CHARM_FTP_PROXY", String::new()),
            ("JUJU_CHARM_NO_PROXY", String::new()),
            (
                "PATH",
                format!("{}:{}", self.tools_dir.display(), self.host_path),
            ),
            ("LANG", "C.UTF-8".into()),
            ("TERM", "tmux-256color".into()),
            ("DEBIAN_FRONTEND", "noninteractive".into()),
            ("APT_LISTCHANGES_FRONTEND", "none".into()),
            ("KUBERNETES_SERVICE_HOST", host),
            ("KUBERNETES_SERVICE_PORT", port),
            ("KUBECONFIG", self.kubeconfig.display().to_string()),
            (
                "CHARM_CONTAINERS_ROOT",
                self.containers_root.display().to_string(),
            ),
        ];
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    fn run_hook(&mut self, h: &HookStep) -> Result<StepOutput, SimError> {
        let mut env = self.base_env(&h.name);
        env.push(("JUJU_DISPATCH_PATH".into(), format!("hooks/{}", h.name)));
        env.push(("JUJU_HOOK_NAME".into(), h.name.clone()));
        let mut ctx = HookCtx {
            context_id: context_id(&env),
            ..Default::default()
        };
        match &h.kind {
            HookKind::Relation { endpoint, kind } => {
                let id = h.relation.unwrap_or_default();
                let mut w = lock(&self.world);
                let rel = w.relations.get_mut(&id).ok_or_else(|| {
                    SimError::Scenario(format!("{}: relation {id} does not exist", h.name))
                })?;
                // The departing unit leaves relation-list before the hook; its bag stays.
                if let Some(d) = &h.departing_unit {
                    rel.remote_units.retain(|u| u != d);
                }
                let remote_unit = match kind {
                    RelKind::Created | RelKind::Broken => None,
                    RelKind::Departed => h.remote_unit.clone().or(h.departing_unit.clone()),
                    _ => h.remote_unit.clone(),
                };
                env.push(("JUJU_RELATION".into(), endpoint.clone()));
                env.push(("JUJU_RELATION_ID".into(), format!("{endpoint}:{id}")));
                env.push(("JUJU_REMOTE_APP".into(), rel.remote_app.clone()));
                env.push((
                    "JUJU_REMOTE_UNIT".into(),
                    remote_unit.clone().unwrap_or_default(),
                ));
                if let Some(d) = &h.departing_unit {
                    env.push(("JUJU_DEPARTING_UNIT".into(), d.clone()));
                }
                ctx.relation_id = Some(id);
                ctx.remote_unit = remote_unit;
                if *kind == RelKind::Broken {
                    ctx.broken = Some(id);
                }
            }
            HookKind::Workload { container } => {
                env.push(("JUJU_WORKLOAD_NAME".into(), container.clone()));
            }
            HookKind::Storage { storage } => {
                env.push(("JUJU_STORAGE_ID".into(), format!("{storage}/0")));
                env.push(("JUJU_STORAGE_LOCATION".into(), format!("/{storage}")));
                env.push(("JUJU_STORAGE_KIND".into(), "filesystem".into()));
            }
            HookKind::Plain => {}
        }
        let handler = self.handler(&format!("hooks/{}", h.name));
        let (mut out, ctx) = self.execute(&h.name, handler, env, ctx)?;
        if let Some(id) = ctx.broken {
            // After relation-broken the relation is gone from the model.
            lock(&self.world).relations.remove(&id);
        }
        out.logs = ctx.logs;
        out.relations = self.relations_snapshot();
        Ok(out)
    }

    fn run_action(
        &mut self,
        name: &str,
        params: &serde_json::Map<String, Value>,
    ) -> Result<StepOutput, SimError> {
        self.action_counter += 1;
        let id = self.action_counter;
        let mut env = self.base_env(name);
        env.push(("JUJU_DISPATCH_PATH".into(), format!("actions/{name}")));
        env.push(("JUJU_HOOK_NAME".into(), String::new()));
        env.push(("JUJU_ACTION_NAME".into(), name.to_string()));
        env.push(("JUJU_ACTION_UUID".into(), id.to_string()));
        env.push(("JUJU_ACTION_TAG".into(), format!("action-{id}")));
        // Declared defaults fill in params the caller did not give.
        let mut all = serde_json::Map::new();
        if let Some(spec) = self.charm.meta.actions.get(name) {
            for (k, schema) in &spec.params {
                if let Some(d) = schema.get("default") {
                    all.insert(k.clone(), d.clone());
                }
            }
        }
        for (k, v) in params {
            all.insert(k.clone(), v.clone());
        }
        let ctx = HookCtx {
            context_id: context_id(&env),
            action: Some(ActionCtx {
                params: all,
                ..Default::default()
            }),
            ..Default::default()
        };
        let handler = self.handler(&format!("actions/{name}"));
        let missing = handler.is_none();
        let (mut out, ctx) = self.execute(name, handler, env, ctx)?;
        let act = ctx.action.unwrap_or_default();
        let failed = if missing {
            let unit = lock(&self.world).unit.clone();
            Some(format!("action not implemented on unit {unit:?}"))
        } else if out.exit_code != 0 {
            act.failed
                .or(Some(format!("exit status {}", out.exit_code)))
        } else {
            act.failed
        };
        out.logs = ctx.logs;
        out.relations = self.relations_snapshot();
        out.action = Some(ActionOutput {
            results: act.results,
            failed,
            logs: act.logs,
        });
        Ok(out)
    }

    /// Juju runs `dispatch` when present, else the explicit hook/action file, else nothing.
    fn handler(&self, dispatch_path: &str) -> Option<PathBuf> {
        let dispatch = self.charm.dir.join("dispatch");
        if dispatch.is_file() {
            return Some(dispatch);
        }
        let explicit = self.charm.dir.join(dispatch_path);
        explicit.is_file().then_some(explicit)
    }

    fn execute(
        &mut self,
        step: &str,
        handler: Option<PathBuf>,
        env: Vec<(String, String)>,
        ctx: HookCtx,
    ) -> Result<(StepOutput, HookCtx), SimError> {
        lock(&self.world).hook = Some(ctx);
        let started = Instant::now();
        let result = handler.map(|h| {
            measure::output_measured(
                Command::new(&h)
                    .env_clear()
                    .envs(env)
                    .current_dir(&self.charm.dir)
                    .stdin(Stdio::null()),
            )
            .map_err(|e| (h, e))
        });
        let wall_ms = started.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(step, wall_ms, "hook process finished");
        let mut w = lock(&self.world);
        let ctx = w.hook.take().unwrap_or_default();
        let usage = match &result {
            Some(Ok((_, usage))) => *usage,
            _ => None,
        };
        let (exit_code, stdout, stderr) = match result {
            Some(Ok((o, _))) => {
                let code = o
                    .status
                    .code()
                    .or_else(|| o.status.signal().map(|s| 128 + s))
                    .unwrap_or(1);
                (
                    code,
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                    String::from_utf8_lossy(&o.stderr).into_owned(),
                )
            }
            // Juju fails the hook when the handler cannot be started (e.g. no shebang); the
            // shell's "cannot execute" status stands in for the missing exit code.
            Some(Err((h, e))) => (
                126,
                String::new(),
                format!("cannot run {}: {e}\n", h.display()),
            ),
            None => (0, String::new(), String::new()),
        };
        let mut ctx = ctx;
        // Commit-on-success: relation data, unit state and ports only if the hook exited 0.
        if exit_code == 0 {
            w.commit(std::mem::take(&mut ctx.pending));
        }
        let out = StepOutput {
            step: step.to_string(),
            exit_code,
            unit_status: w.unit_status.clone(),
            app_status: w.app_status.clone(),
            logs: Vec::new(),
            api_requests: self
                .api
                .take_requests()
                .into_iter()
                .map(|r| ApiRequest {
                    method: r.method,
                    path: r.path,
                    query: r.query,
                    status: r.status,
                })
                .collect(),
            action: None,
            wall_ms,
            charm_cpu_ms: usage.map(|u| u.cpu_ms),
            charm_max_rss_kib: usage.and_then(|u| u.max_rss_kib),
            stdout,
            stderr,
            relations: Vec::new(),
            workload_version: w.workload_version.clone(),
            hook_tools: std::mem::take(&mut ctx.tools),
        };
        Ok((out, ctx))
    }

    fn relations_snapshot(&self) -> Vec<RelationOutput> {
        lock(&self.world)
            .relations
            .values()
            .map(|r| RelationOutput {
                id: r.id,
                endpoint: r.endpoint.clone(),
                local_app_data: r.local_app_data.clone(),
                local_unit_data: r.local_unit_data.clone(),
            })
            .collect()
    }

    fn finish(self, steps: Vec<StepOutput>) -> Output {
        let relations = self.relations_snapshot();
        let pebble = self
            .pebble_states
            .iter()
            .map(|(name, st)| {
                let plan = st
                    .lock()
                    .map(|s| s.plan())
                    .unwrap_or_else(|p| p.into_inner().plan());
                (name.clone(), PebbleOutput { plan })
            })
            .collect();
        Output {
            steps,
            relations,
            kubernetes: self.api.objects_for_output(),
            pebble,
        }
    }
}

fn context_id(env: &[(String, String)]) -> String {
    env.iter()
        .find(|(k, _)| k == "JUJU_CONTEXT_ID")
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The hook-tool client binary `charm-sim-jujuc`, a sibling of the running `charm-sim` (or,
/// for a test harness in `target/<profile>/deps/`, of its parent dir).
fn default_tool_binary() -> Result<PathBuf, SimError> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent();
    [dir, dir.and_then(Path::parent)]
        .into_iter()
        .flatten()
        .map(|d| d.join(TOOL_CLIENT))
        .find(|p| p.is_file())
        .ok_or_else(|| SimError::Spawn {
            what: "hook tools".into(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "no {TOOL_CLIENT} binary next to {}; build it or set RunOptions::tool_binary",
                    exe.display()
                ),
            ),
        })
}

/// The file name of the hook-tool client binary.
pub const TOOL_CLIENT: &str = "charm-sim-jujuc";
