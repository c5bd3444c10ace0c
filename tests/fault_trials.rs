//! Fault trials: the beacon played through `charm-sim` on a model with good and hostile
//! consumers and other owners' objects, while a seeded random schedule makes the API server
//! fail some hooks' requests (500, 409, 429, 503, 504, a timeout, a reset connection; 1 to 4
//! times; before the request is performed or, `after`, once it took effect; left armed for
//! the next hooks or not). After the faulted steps a few fault-free hooks run, and the trial
//! must have converged:
//!
//! 1. the cluster (every object) and our relation databags equal those of the same steps
//!    played with no fault at all (after a teardown by `remove`: our policies, waypoint and
//!    namespace labels);
//! 2. no object of another owner was modified or deleted, nor did any write target one;
//! 3. every hook exits 0 or 1 without a panic, and the fault-free hooks at the end exit 0,
//!    the last one writing nothing;
//! 4. no request is sent more than 1 + 3 times in a row, and no hook sends one path more
//!    than 4 times as often as any fault-free hook does.
//!
//! A trial that fails is a bug of the beacon or of the simulator. `FAULT_TRIALS=<n>` changes
//! the number of trials, `FAULT_SEED=<n>` the first seed (each failure names its trial's seed:
//! `FAULT_TRIALS=1 FAULT_SEED=<seed>` replays it), `FAULT_DENSITY=<percent>` the share of
//! hooks given faults (30), and `FAULT_DUMP=<dir>` keeps every run's output there.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::{Value, json};

const WAYPOINT: &str = "prod-istio-beacon-k8s-waypoint";
const APP: &str = "istio-beacon-k8s";
/// A cross-model consumer, as the offering side names it.
const REMOTE: &str = "remote-0123456789abcdef0123456789abcdef";

/// Trials of the default run: each is one charm-sim run of the whole model.
const DEFAULT_TRIALS: u64 = 48;
const DEFAULT_SEED: u64 = 0x5eed_0000;
/// charm-sim runs at once: most of a faulted run's time is the client's back-off sleeps.
const WORKERS: usize = 3;

// ---------------------------------------------------------------------------------------
// A small deterministic RNG (xorshift64*).

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so that neighbouring seeds start far apart (never 0).
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("small")
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// An index into `weights`, drawn by weight.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut pick = u32::try_from(self.next() % u64::from(total)).expect("small");
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                return i;
            }
            pick -= w;
        }
        weights.len() - 1
    }
}

// ---------------------------------------------------------------------------------------
// The model.

/// A same-model app policy from `source` to `target` (Python `json.dumps` field order).
fn app_policy(source: &str, namespace: &str, target: &str, ports: &[u16]) -> Value {
    json!({
        "source_namespace": "prod",
        "source_app_name": source,
        "target_namespace": namespace,
        "target_app_name": target,
        "target_selector_labels": null,
        "target_service": null,
        "target_type": "app",
        "endpoints": [
            {"hosts": null, "ports": ports, "methods": ["GET", "POST"], "paths": ["/api"]}
        ],
    })
}

fn policies(list: &[Value]) -> String {
    service_mesh::pyjson::dumps(&Value::Array(list.to_vec()))
}

fn consumer(id: u64, app: &str, data: &str) -> Value {
    json!({
        "id": id,
        "endpoint": "service-mesh",
        "remote_app": app,
        "remote_units": [format!("{app}/0")],
        "remote_app_data": {"policies": data},
    })
}

/// The hostile consumer `evil` at first: another namespace, another app, another app's
/// Service, and one honest policy for itself.
fn evil_policies() -> String {
    let mut other_service = app_policy("web", "prod", "evil", &[80]);
    other_service["target_service"] = json!("mydb");
    policies(&[
        app_policy("evil", "kube-system", "coredns", &[53]),
        app_policy("evil", "prod", "mydb", &[5432]),
        other_service,
        app_policy("web", "prod", "evil", &[8443]),
    ])
}

/// `evil` later: a unit policy that would select every pod, one for another app's pods, a
/// name that is not a label, and a namespace that is a path.
fn evil_policies_later() -> String {
    let mut every_pod = app_policy("evil", "prod", "", &[22]);
    every_pod["target_app_name"] = Value::Null;
    every_pod["target_type"] = json!("unit");
    let mut others_pods = every_pod.clone();
    others_pods["target_selector_labels"] = json!({"app.kubernetes.io/name": "mydb"});
    policies(&[
        every_pod,
        others_pods,
        app_policy("evil", "prod", "Evil_App", &[1]),
        app_policy("evil", "../../api/v1/namespaces/prod", "evil", &[2]),
    ])
}

/// An object with labels, as `manager` wrote it (charm-sim records a seeded object's first
/// `managedFields` manager as its writer).
fn object(
    api_version: &str,
    kind: &str,
    ns: &str,
    name: &str,
    labels: Value,
    manager: &str,
) -> Value {
    let mut meta = json!({"name": name, "namespace": ns, "managedFields": [{"manager": manager}]});
    if !labels.is_null() {
        meta["labels"] = labels;
    }
    json!({"apiVersion": api_version, "kind": kind, "metadata": meta})
}

fn policy_object(
    ns: &str,
    name: &str,
    instance: Option<&str>,
    manager: &str,
    spec: Value,
) -> Value {
    let labels = match instance {
        Some(i) => json!({
            "app.kubernetes.io/instance": i,
            "kubernetes-resource-handler-scope": "istio-authorization-policy",
        }),
        None => Value::Null,
    };
    let mut o = object(
        "security.istio.io/v1",
        "AuthorizationPolicy",
        ns,
        name,
        labels,
        manager,
    );
    o["spec"] = spec;
    o
}

/// Objects of other owners: never to be modified or deleted.
fn foreign_objects() -> Vec<Value> {
    let deny = json!({
        "selector": {"matchLabels": {"app.kubernetes.io/name": "mydb"}},
        "action": "DENY",
        "rules": [{"from": [{"source": {"namespaces": ["evil"]}}]}],
    });
    let allow = json!({
        "selector": {"matchLabels": {"app.kubernetes.io/name": "db"}},
        "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/prod/sa/web"]}}]}],
    });
    let waypoint_labels = json!({"gateway.networking.k8s.io/gateway-name": WAYPOINT});
    let mut gateway = object(
        "gateway.networking.k8s.io/v1",
        "Gateway",
        "prod",
        "prod-other-beacon-waypoint",
        json!({
            "app.kubernetes.io/instance": "prod-other-beacon",
            "kubernetes-resource-handler-scope": "istio-waypoint",
        }),
        "other-beacon",
    );
    gateway["spec"] = json!({
        "gatewayClassName": "istio-waypoint",
        "listeners": [{"name": "mesh", "port": 15008, "protocol": "HBONE"}],
    });
    let mut hpa = object(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "prod",
        "someone-hpa",
        Value::Null,
        "kubectl",
    );
    hpa["spec"] = json!({
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 1,
        "maxReplicas": 3,
    });
    let mut config = object(
        "v1",
        "ConfigMap",
        "prod",
        "someone-config",
        Value::Null,
        "kubectl",
    );
    config["data"] = json!({"labels": "{}"});
    let mut waypoint = object(
        "apps/v1",
        "Deployment",
        "prod",
        WAYPOINT,
        Value::Null,
        "istiod",
    );
    waypoint["spec"] = json!({
        "replicas": 2,
        "selector": {"matchLabels": waypoint_labels},
        "template": {
            "metadata": {"labels": waypoint_labels},
            "spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2"}]},
        },
    });
    waypoint["status"] = json!({"replicas": 2, "readyReplicas": 2});
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
        // Hand-written, one of them named as we name ours.
        policy_object("prod", "hand-written", None, "kubectl", deny.clone()),
        policy_object(
            "prod",
            "istio-beacon-k8s-prod-policy-web-prod-db-00000000",
            None,
            "kubectl",
            allow.clone(),
        ),
        // Another beacon app in this model, and our app in another model.
        policy_object(
            "prod",
            "other-beacon-prod-policy-web-prod-db-12345678",
            Some("prod-other-beacon"),
            "other-beacon",
            allow.clone(),
        ),
        policy_object(
            "team",
            "istio-beacon-k8s-team-policy-web-team-db-12345678",
            Some("team-istio-beacon-k8s"),
            APP,
            allow.clone(),
        ),
        // The team beacon's policy under the legacy owner label `<app>-<model>`.
        policy_object(
            "team",
            "istio-beacon-k8s-team-policy-old-team-db-87654321",
            Some("istio-beacon-k8s-team"),
            APP,
            allow.clone(),
        ),
        // Another beacon, app `prod` in model `istio-beacon-k8s`: its owner label is our
        // legacy one, but neither its field manager nor its name is ours.
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": APP}}),
        policy_object(
            APP,
            "prod-istio-beacon-k8s-policy-web-istio-beacon-k8s-db-1234abcd",
            Some("istio-beacon-k8s-prod"),
            "prod",
            allow.clone(),
        ),
        // Our owner label, put by hand on an object we never wrote.
        policy_object(
            "prod",
            "relabelled",
            Some("prod-istio-beacon-k8s"),
            "kubectl",
            deny,
        ),
        gateway,
        hpa,
        config,
        waypoint,
    ]
}

/// Ours, left behind: pruned by the first reconcile (in every run alike).
fn stale_owned() -> Vec<Value> {
    vec![
        policy_object(
            "prod",
            "istio-beacon-k8s-prod-policy-gone-prod-gone-0badcafe",
            Some("prod-istio-beacon-k8s"),
            APP,
            json!({}),
        ),
        policy_object(
            "team",
            "istio-beacon-k8s-prod-policy-old-team-gone-0badcafe",
            Some("istio-beacon-k8s-prod"),
            APP,
            json!({}),
        ),
    ]
}

/// The model and cluster every trial starts from, playing `steps`.
fn scenario(steps: Vec<Value>) -> Value {
    let app_labels = json!({"app.kubernetes.io/name": APP});
    let mut kubernetes = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": APP, "namespace": "prod"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": app_labels},
                "serviceName": format!("{APP}-endpoints"),
                "template": {
                    "metadata": {"labels": app_labels},
                    "spec": {"containers": [{"name": "charm", "image": "charm-base"}]},
                },
            },
        }),
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": APP, "namespace": "prod"},
            "spec": {"selector": app_labels, "ports": [{"port": 65535}]},
        }),
    ];
    kubernetes.extend(foreign_objects());
    kubernetes.extend(stale_owned());
    let relations = vec![
        json!({"id": 1, "endpoint": "peers", "remote_units": [format!("{APP}/1")]}),
        consumer(
            3,
            "mydb",
            &policies(&[app_policy("myapp", "prod", "mydb", &[5432])]),
        ),
        consumer(
            4,
            "web",
            &policies(&[
                app_policy("frontend", "prod", "web", &[80, 443]),
                app_policy("mydb", "prod", "web", &[8080]),
            ]),
        ),
        consumer(
            5,
            "api",
            &policies(&[app_policy("web", "prod", "api", &[8080])]),
        ),
        consumer(6, "evil", &evil_policies()),
        consumer(7, "junk", "not json"),
        consumer(
            8,
            "cache",
            &policies(&[app_policy("api", "prod", "cache", &[6379])]),
        ),
        consumer(
            9,
            REMOTE,
            &policies(&[app_policy("myapp", "prod", "mydb", &[5432])]),
        ),
        json!({
            "id": 20,
            "endpoint": "metrics-endpoint",
            "remote_app": "prometheus",
            "remote_units": ["prometheus/0"],
        }),
    ];
    json!({
        "model": {"name": "prod", "uuid": "7b0e1c9e-0000-4000-8000-000000000001"},
        "unit": format!("{APP}/0"),
        "leader": true,
        "planned_units": 2,
        "config": {},
        "relations": relations,
        "containers": {"metrics-proxy": {"can_connect": true}},
        "kubernetes": kubernetes,
        "crds": "default",
        "steps": steps,
    })
}

fn hook(name: &str) -> Value {
    json!(name)
}

fn rel_hook(name: &str, relation: u64, unit: Option<&str>) -> Value {
    match unit {
        Some(u) => json!({"hook": name, "relation": relation, "remote_unit": u}),
        None => json!({"hook": name, "relation": relation}),
    }
}

fn config(key: &str, value: Value) -> Value {
    json!({"update": {"config": {key: value}}})
}

/// The steps a fault may hit: hooks and the world's changes between them.
fn main_steps() -> Vec<Value> {
    let changed = "service-mesh-relation-changed";
    vec![
        hook("leader-elected"),
        hook("config-changed"),
        rel_hook(changed, 3, Some("mydb/0")),
        // A consumer changes its policies.
        json!({"update": {"relation": 5, "remote_app_data": {"policies": policies(&[
            app_policy("web", "prod", "api", &[8080, 9090]),
            app_policy("frontend", "prod", "api", &[8080]),
        ])}}}),
        rel_hook(changed, 5, None),
        config("model-on-mesh", json!(true)),
        hook("config-changed"),
        hook("update-status"),
        rel_hook("service-mesh-relation-departed", 8, Some("cache/0")),
        rel_hook("service-mesh-relation-broken", 8, None),
        config("manage-authorization-policies", json!(false)),
        hook("config-changed"),
        json!({"update": {"relation": 6, "remote_app_data": {"policies": evil_policies_later()}}}),
        rel_hook(changed, 6, None),
        config("manage-authorization-policies", Value::Null),
        hook("config-changed"),
        json!({"update": {"add_relation": {
            "id": 10, "endpoint": "service-mesh", "remote_app": "shop", "remote_units": ["shop/0"],
            "remote_app_data": {
                "policies": policies(&[app_policy("web", "prod", "shop", &[3000])]),
            },
        }}}),
        rel_hook("service-mesh-relation-created", 10, None),
        rel_hook(changed, 10, Some("shop/0")),
        hook("leader-elected"),
        config("model-on-mesh", Value::Null),
        hook("config-changed"),
        json!({"update": {"relation": 7, "remote_app_data": {"policies": "[{\"broken\": true}]"}}}),
        rel_hook(changed, 7, None),
        rel_hook(
            "metrics-endpoint-relation-changed",
            20,
            Some("prometheus/0"),
        ),
        // Leadership moves away and back; meanwhile a consumer changes its data.
        json!({"update": {"leader": false}}),
        hook("update-status"),
        json!({"update": {"relation": 4, "remote_app_data": {"policies": policies(&[
            app_policy("frontend", "prod", "web", &[80]),
        ])}}}),
        rel_hook(changed, 4, None),
        json!({"update": {"leader": true}}),
        hook("leader-elected"),
        // A third unit: the waypoint scales with the planned units.
        json!({"update": {"planned_units": 3, "relation": 1,
            "remote_units": [format!("{APP}/1"), format!("{APP}/2")]}}),
        rel_hook("peers-relation-joined", 1, Some(&format!("{APP}/2"))),
        // Another actor deletes our Gateway and edits one of our policies.
        json!({"update": {"kubernetes_delete": [{
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "namespace": "prod", "name": WAYPOINT,
        }]}}),
        config("model-on-mesh", json!(true)),
        hook("config-changed"),
        hook("upgrade-charm"),
        hook("update-status"),
    ]
}

/// The application scales to zero: `remove` tears down what is ours.
fn teardown_steps() -> Vec<Value> {
    vec![
        hook("leader-elected"),
        config("model-on-mesh", json!(true)),
        hook("config-changed"),
        rel_hook("service-mesh-relation-changed", 3, Some("mydb/0")),
        json!({"update": {"planned_units": 0}}),
        hook("remove"),
    ]
}

/// Steps to play with faults, and the fault-free hooks that end them.
struct Variant {
    name: &'static str,
    main: Vec<Value>,
    tail: &'static [&'static str],
    /// Whether the tail reconciles everything, so that the final cluster, status and
    /// databags must equal the fault-free run's. `remove` only tears down our policies,
    /// waypoint and namespace labels: what a failed hook before it did not do (publish
    /// databags, label our pods) stays undone (Juju would have run that hook again first,
    /// but these steps go on), so only those are compared.
    hooks_converge: bool,
}

fn variants() -> Vec<Variant> {
    vec![
        Variant {
            name: "hooks",
            main: main_steps(),
            tail: &["update-status", "update-status", "config-changed"],
            hooks_converge: true,
        },
        // Juju runs a failed `remove` again.
        Variant {
            name: "teardown",
            main: teardown_steps(),
            tail: &["remove", "remove"],
            hooks_converge: false,
        },
    ]
}

fn is_hook(step: &Value) -> bool {
    step.get("update").is_none()
}

// ---------------------------------------------------------------------------------------
// Fault schedules.

/// Where a fault hits: a method (`None`: any) and a path regex.
struct Target {
    name: &'static str,
    method: Option<&'static str>,
    path: &'static str,
}

const TARGETS: &[Target] = &[
    Target {
        name: "policy apply",
        method: Some("PATCH"),
        path: "/authorizationpolicies/",
    },
    Target {
        name: "policy delete",
        method: Some("DELETE"),
        path: "/authorizationpolicies/",
    },
    Target {
        name: "policy list",
        method: Some("GET"),
        path: "/authorizationpolicies$",
    },
    Target {
        name: "gateway",
        method: None,
        path: "/gateways",
    },
    Target {
        name: "hpa",
        method: None,
        path: "/horizontalpodautoscalers",
    },
    Target {
        name: "namespace patch",
        method: Some("PATCH"),
        path: "^/api/v1/namespaces/prod$",
    },
    Target {
        name: "namespace get",
        method: Some("GET"),
        path: "^/api/v1/namespaces/prod$",
    },
    Target {
        name: "configmap",
        method: None,
        path: "/configmaps",
    },
    Target {
        name: "statefulset",
        method: None,
        path: "/statefulsets/",
    },
    Target {
        name: "service",
        method: None,
        path: "/services/",
    },
    Target {
        name: "deployment get",
        method: Some("GET"),
        path: "/deployments/",
    },
    Target {
        name: "any request",
        method: None,
        path: "",
    },
];

/// The kinds of failure, as charm-sim's `error:` values, and how often each is drawn.
const ERRORS: &[(&str, u32)] = &[
    ("500", 3),
    ("409", 2),
    ("429", 2),
    ("503", 2),
    ("504", 1),
    ("timeout", 1),
    ("reset", 2),
];

struct Armed {
    target: usize,
    error: usize,
    times: u32,
    /// The request is performed, then its answer replaced by the error (charm-sim's
    /// `after: true`): a write that took effect though the beacon saw it fail.
    after: bool,
}

struct Trial {
    seed: u64,
    /// Which of [`variants`].
    variant: usize,
    /// Faults armed before the main step at each index (a hook).
    faults: BTreeMap<usize, Vec<Armed>>,
    /// Whether faults a hook did not consume stay armed for the next hooks (until the next
    /// faults replace them, or the fault-free tail), as an outage that outlasts a hook.
    carry: bool,
}

impl Trial {
    fn draw(seed: u64, variants: &[Variant]) -> Trial {
        let mut rng = Rng::new(seed);
        let variant = usize::from(rng.chance(20));
        let steps = &variants[variant].main;
        let carry = rng.chance(50);
        let density = env_u64("FAULT_DENSITY", 30);
        let hooks: Vec<usize> = (0..steps.len()).filter(|&i| is_hook(&steps[i])).collect();
        let mut faults = BTreeMap::new();
        for &i in &hooks {
            if rng.chance(density) {
                faults.insert(i, Trial::draw_faults(&mut rng));
            }
        }
        if faults.is_empty() {
            let i = hooks[rng.below(hooks.len())];
            faults.insert(i, Trial::draw_faults(&mut rng));
        }
        Trial {
            seed,
            variant,
            faults,
            carry,
        }
    }

    fn draw_faults(rng: &mut Rng) -> Vec<Armed> {
        let n = 1 + usize::from(rng.chance(35));
        (0..n)
            .map(|_| Armed {
                target: rng.below(TARGETS.len()),
                error: rng.weighted(&ERRORS.iter().map(|(_, w)| *w).collect::<Vec<_>>()),
                times: 1 + u32::try_from(rng.weighted(&[45, 25, 15, 15])).expect("small"),
                after: rng.chance(30),
            })
            .collect()
    }

    /// The main steps with this trial's faults (armed before their hook and, unless
    /// carried, disarmed after it), then the fault-free tail.
    fn steps(&self, v: &Variant) -> Vec<Value> {
        let mut out = Vec::new();
        for (i, step) in v.main.iter().enumerate() {
            match self.faults.get(&i) {
                Some(armed) => {
                    let faults: Vec<Value> = armed
                        .iter()
                        .map(|a| {
                            let t = &TARGETS[a.target];
                            let mut m = json!({"path_regex": t.path});
                            if let Some(method) = t.method {
                                m["method"] = json!(method);
                            }
                            json!({
                                "match": m,
                                "error": ERRORS[a.error].0,
                                "times": a.times,
                                "after": a.after,
                            })
                        })
                        .collect();
                    out.push(json!({"update": {"faults": faults}}));
                    out.push(step.clone());
                    if !self.carry {
                        out.push(json!({"update": {"faults": []}}));
                    }
                }
                None => out.push(step.clone()),
            }
        }
        out.push(json!({"update": {"faults": []}}));
        out.extend(v.tail.iter().map(|h| hook(h)));
        out
    }

    fn describe(&self, v: &Variant) -> String {
        let carry = if self.carry { ", carried" } else { "" };
        let mut s = format!("seed {:#x} ({}{carry}):", self.seed, v.name);
        for (i, armed) in &self.faults {
            let _ = write!(s, " [{}:", v.main[*i]);
            for a in armed {
                let after = if a.after { " after" } else { "" };
                let _ = write!(
                    s,
                    " {} {}x{}{after}",
                    TARGETS[a.target].name, ERRORS[a.error].0, a.times
                );
            }
            s.push(']');
        }
        s
    }
}

// ---------------------------------------------------------------------------------------
// Running and reading.

/// The charm with a copy of the beacon binary, not the link `common::charm_dir` makes: a
/// build in the shared target dir during the trials must not change the charm between the
/// fault-free run and the trials.
fn charm_copy() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        for file in [
            "dispatch",
            "metadata.yaml",
            "config.yaml",
            "bin/istio-beacon-k8s",
        ] {
            let from = common::charm_dir().join(file);
            let to = dir.path().join(file);
            std::fs::create_dir_all(to.parent().expect("parent")).expect("charm dir");
            std::fs::copy(&from, &to).expect("copy charm file");
        }
        dir
    })
    .path()
}

fn run_json(scenario: &Value) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("trial.json");
    std::fs::write(&path, serde_json::to_vec(scenario).expect("JSON")).expect("write scenario");
    common::run_charm(charm_copy(), &path)
}

fn steps_of(out: &Value) -> &Vec<Value> {
    out["steps"].as_array().expect("steps")
}

fn requests(step: &Value) -> &Vec<Value> {
    step["api_requests"].as_array().expect("api_requests")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// The API path of an object (cluster-scoped when it has no namespace).
fn path_of(obj: &Value) -> String {
    let av = str_of(obj, "apiVersion");
    let kind = str_of(obj, "kind");
    let plural = match kind {
        "AuthorizationPolicy" => "authorizationpolicies".to_owned(),
        "HorizontalPodAutoscaler" => "horizontalpodautoscalers".to_owned(),
        k => format!("{}s", k.to_lowercase()),
    };
    let base = if av.contains('/') {
        format!("/apis/{av}")
    } else {
        format!("/api/{av}")
    };
    let name = str_of(&obj["metadata"], "name");
    match obj["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{base}/namespaces/{ns}/{plural}/{name}"),
        None => format!("{base}/{plural}/{name}"),
    }
}

fn find_object<'a>(out: &'a Value, like: &Value) -> Option<&'a Value> {
    out["kubernetes"].as_array()?.iter().find(|o| {
        o["kind"] == like["kind"]
            && o["metadata"]["name"] == like["metadata"]["name"]
            && o["metadata"]["namespace"] == like["metadata"]["namespace"]
    })
}

/// Statuses that mean a request failed and may be sent again (0: no answer).
fn failed(status: u64) -> bool {
    matches!(status, 0 | 409 | 429 | 500 | 503 | 504)
}

/// `(method, path)` → how many requests one hook sent there, at most, over `out`'s steps.
fn max_per_path(out: &Value) -> HashMap<(String, String), usize> {
    let mut max = HashMap::new();
    for step in steps_of(out) {
        let mut counts: HashMap<(String, String), usize> = HashMap::new();
        for r in requests(step) {
            *counts
                .entry((str_of(r, "method").into(), str_of(r, "path").into()))
                .or_default() += 1;
        }
        for (k, n) in counts {
            let e = max.entry(k).or_insert(0);
            *e = (*e).max(n);
        }
    }
    max
}

/// What the fault-free runs give every trial to compare with.
struct Reference {
    /// The cluster before any hook.
    initial: Value,
    /// The same steps with no faults.
    clean: Value,
    clean_per_path: HashMap<(String, String), usize>,
    /// How many fault-free hooks end the steps.
    tail: usize,
    /// Whether the status and databags are compared too (see [`Variant::hooks_converge`]).
    hooks_converge: bool,
}

#[derive(Default)]
struct Tally {
    trials: usize,
    variants: BTreeMap<&'static str, usize>,
    faulted_hooks: usize,
    failed_hooks: usize,
    armed: BTreeMap<&'static str, u32>,
    /// Of those, the ones answered after the request was performed.
    armed_after: u32,
    /// Failed answers seen in faulted runs, by status (0: connection reset).
    answered: BTreeMap<u64, u32>,
    max_wall_ms: f64,
    max_wall_at: String,
    max_retry_chain: usize,
}

/// Checks one trial's output; `Err` says what broke.
fn check(out: &Value, r: &Reference) -> Result<(), String> {
    let steps = steps_of(out);
    let clean_steps = steps_of(&r.clean);
    if steps.len() != clean_steps.len() {
        return Err(format!(
            "{} steps, {} without faults",
            steps.len(),
            clean_steps.len()
        ));
    }

    // 3. Exit codes and panics.
    for (i, s) in steps.iter().enumerate() {
        let code = s["exit_code"].as_i64().expect("exit code");
        if code != 0 && code != 1 {
            return Err(format!("step {i} ({}) exited {code}", s["step"]));
        }
        for stream in ["stderr", "stdout"] {
            if str_of(s, stream).contains("panicked") {
                return Err(format!("step {i} ({}) panicked: {}", s["step"], s[stream]));
            }
        }
        if s["logs"]
            .as_array()
            .is_some_and(|l| l.iter().any(|l| str_of(l, "message").contains("panicked")))
        {
            return Err(format!("step {i} ({}) logged a panic", s["step"]));
        }
    }
    let tail = &steps[steps.len() - r.tail..];
    for s in tail {
        if s["exit_code"] != 0 {
            return Err(format!(
                "fault-free {} exited {}: {:?}",
                s["step"],
                s["exit_code"],
                s["logs"].as_array().map(|l| l
                    .iter()
                    .filter(|l| l["level"] == "ERROR")
                    .collect::<Vec<_>>())
            ));
        }
    }
    let last = &tail[r.tail - 1];
    let last_writes: Vec<String> = requests(last)
        .iter()
        .filter(|q| q["method"] != "GET")
        .map(|q| format!("{} {}", str_of(q, "method"), str_of(q, "path")))
        .collect();
    if !last_writes.is_empty() {
        return Err(format!("the last hook still writes: {last_writes:?}"));
    }
    for tool in ["relation-set", "state-set", "state-delete", "status-set"] {
        if last["hook_tools"].get(tool).is_some_and(|n| n != 0) {
            return Err(format!("the last hook still runs {tool}"));
        }
    }
    if r.hooks_converge && last["unit_status"] != clean_steps[clean_steps.len() - 1]["unit_status"]
    {
        return Err(format!(
            "final status {} (without faults: {})",
            last["unit_status"],
            clean_steps[clean_steps.len() - 1]["unit_status"]
        ));
    }

    // 1. Converged to what the fault-free run gives.
    if r.hooks_converge {
        for key in ["kubernetes", "relations"] {
            if out[key] != r.clean[key] {
                return Err(format!(
                    "final {key} differ from the fault-free run:\n{}",
                    diff(&out[key], &r.clean[key])
                ));
            }
        }
    } else {
        // What a teardown is responsible for: our policies, waypoint and namespace labels.
        let torn_down = |o: &Value| -> Vec<Value> {
            let kinds = [
                "AuthorizationPolicy",
                "Gateway",
                "HorizontalPodAutoscaler",
                "Namespace",
            ];
            let objects = o["kubernetes"].as_array().expect("objects").iter();
            objects
                .filter(|x| kinds.contains(&str_of(x, "kind")))
                .cloned()
                .collect()
        };
        let (got, want) = (torn_down(out), torn_down(&r.clean));
        if got != want {
            return Err(format!(
                "final policies, waypoint or namespaces differ from the fault-free run:\n{}",
                diff(&Value::Array(got), &Value::Array(want))
            ));
        }
    }

    // 2. Other owners' objects: unchanged, and never written to.
    for f in foreign_objects() {
        let path = path_of(&f);
        let before = find_object(&r.initial, &f).expect("seeded");
        match find_object(out, &f) {
            Some(after) if after == before => {}
            Some(after) => return Err(format!("{path} modified: {before} → {after}")),
            None => return Err(format!("{path} deleted")),
        }
        for (i, s) in steps.iter().enumerate() {
            for q in requests(s) {
                if q["method"] != "GET" && str_of(q, "path") == path {
                    return Err(format!(
                        "step {i} ({}) sent {} {path}",
                        s["step"], q["method"]
                    ));
                }
            }
        }
    }

    // 4. Bounded requests.
    for (i, s) in steps.iter().enumerate() {
        let mut chain: HashMap<(&str, &str, &str), (usize, u64)> = HashMap::new();
        let mut per_path: HashMap<(String, String), usize> = HashMap::new();
        for q in requests(s) {
            let key = (str_of(q, "method"), str_of(q, "path"), str_of(q, "query"));
            let status = q["status"].as_u64().expect("status");
            let entry = chain.entry(key).or_insert((0, 200));
            let again = if failed(entry.1) { entry.0 + 1 } else { 0 };
            *entry = (again, status);
            if again > 3 {
                return Err(format!(
                    "step {i} ({}): {} {} sent {} times in a row after failures",
                    s["step"],
                    key.0,
                    key.1,
                    again + 1
                ));
            }
            *per_path
                .entry((key.0.to_owned(), key.1.to_owned()))
                .or_default() += 1;
        }
        for (k, n) in per_path {
            let clean = r.clean_per_path.get(&k).copied().unwrap_or(1).max(1);
            if n > 4 * clean {
                return Err(format!(
                    "step {i} ({}): {n} requests to {} {} (fault-free hooks: at most {clean})",
                    s["step"], k.0, k.1
                ));
            }
        }
    }
    Ok(())
}

fn record(tally: &mut Tally, trial: &Trial, v: &Variant, out: &Value) {
    tally.trials += 1;
    let steps = steps_of(out);
    // Output steps are the hooks, in order: map main-step indices to output indices.
    let mut at = 0;
    let mut out_index = HashMap::new();
    for (i, s) in v.main.iter().enumerate() {
        if is_hook(s) {
            out_index.insert(i, at);
            at += 1;
        }
    }
    for (i, armed) in &trial.faults {
        for a in armed {
            *tally.armed.entry(ERRORS[a.error].0).or_default() += a.times;
            if a.after {
                tally.armed_after += a.times;
            }
        }
        let s = &steps[out_index[i]];
        tally.faulted_hooks += 1;
        if s["exit_code"] != 0 {
            tally.failed_hooks += 1;
        }
        let wall = s["wall_ms"].as_f64().expect("wall_ms");
        if wall > tally.max_wall_ms {
            tally.max_wall_ms = wall;
            tally.max_wall_at = format!("{} in {}", s["step"], trial.describe(v));
        }
        let mut chain: HashMap<(&str, &str, &str), (usize, u64)> = HashMap::new();
        for q in requests(s) {
            let status = q["status"].as_u64().expect("status");
            if failed(status) {
                *tally.answered.entry(status).or_default() += 1;
            }
            let key = (str_of(q, "method"), str_of(q, "path"), str_of(q, "query"));
            let entry = chain.entry(key).or_insert((0, 200));
            let again = if failed(entry.1) { entry.0 + 1 } else { 0 };
            *entry = (again, status);
            tally.max_retry_chain = tally.max_retry_chain.max(again);
        }
    }
}

/// The lines that differ between two JSON values, pretty-printed (first few).
fn diff(a: &Value, b: &Value) -> String {
    let a = serde_json::to_string_pretty(a).expect("JSON");
    let b = serde_json::to_string_pretty(b).expect("JSON");
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut out = String::new();
    let mut shown = 0;
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if x != y && shown < 12 {
            let _ = writeln!(out, "line {i}: faulted {x}\n        clean   {y}");
            shown += 1;
        }
    }
    if a.len() != b.len() {
        let _ = writeln!(out, "{} lines vs {} lines", a.len(), b.len());
    }
    out
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => {
            let v = v.trim();
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("{name}={v}: {e}"))
        }
        Err(_) => default,
    }
}

fn reference(v: &Variant, initial: &Value) -> Reference {
    let clean_trial = Trial {
        seed: 0,
        variant: 0,
        faults: BTreeMap::new(),
        carry: false,
    };
    let clean = run_json(&scenario(clean_trial.steps(v)));
    for (i, s) in steps_of(&clean).iter().enumerate() {
        assert_eq!(
            s["exit_code"], 0,
            "fault-free step {i} ({}): {s}",
            s["step"]
        );
        for q in requests(s) {
            assert!(
                !failed(q["status"].as_u64().expect("status")),
                "fault-free step {i}: {q}"
            );
        }
    }
    if let Ok(dir) = std::env::var("FAULT_DUMP") {
        let path = format!("{dir}/clean-{}.json", v.name);
        std::fs::write(path, serde_json::to_vec_pretty(&clean).expect("JSON")).expect("dump");
    }
    if v.hooks_converge {
        assert_eq!(
            granted(&clean),
            [
                ("api", "frontend"),
                ("api", "web"),
                ("istio-beacon-k8s", "prometheus"),
                ("modeloperator", "*"),
                ("mydb", "myapp"),
                ("shop", "web"),
                ("web", "frontend"),
            ],
            "what the fault-free run allows"
        );
    }
    let clean_per_path = max_per_path(&clean);
    Reference {
        initial: initial.clone(),
        clean,
        clean_per_path,
        tail: v.tail.len(),
        hooks_converge: v.hooks_converge,
    }
}

/// What our policies allow after a run: (target, source app), sorted; `*` for any source.
/// Every trial ends with the same: the hostile consumers gain nothing, faults or not.
fn granted(out: &Value) -> Vec<(&str, &str)> {
    let mut grants: Vec<(&str, &str)> = out["kubernetes"]
        .as_array()
        .expect("objects")
        .iter()
        .filter(|o| o["kind"] == "AuthorizationPolicy")
        .filter(|o| {
            o["metadata"]["labels"]["app.kubernetes.io/instance"] == "prod-istio-beacon-k8s"
        })
        .filter(|o| str_of(&o["metadata"], "name").starts_with("istio-beacon-k8s-prod-policy-"))
        .flat_map(|o| {
            let spec = &o["spec"];
            assert_eq!(o["metadata"]["namespace"], "prod", "{o}");
            let labels = &spec["selector"]["matchLabels"];
            let target = labels["app.kubernetes.io/name"]
                .as_str()
                .or(labels["juju-modeloperator"].as_str())
                .or(spec["targetRefs"][0]["name"].as_str())
                .expect("a target");
            let rules = spec["rules"].as_array().expect("rules").iter();
            let sources: Vec<&str> = rules
                .flat_map(|r| r["from"].as_array().into_iter().flatten())
                .flat_map(|f| f["source"]["principals"].as_array().expect("principals"))
                .map(|p| {
                    p.as_str()
                        .expect("principal")
                        .rsplit('/')
                        .next()
                        .expect("sa")
                })
                .collect();
            let sources = if sources.is_empty() {
                vec!["*"]
            } else {
                sources
            };
            sources.into_iter().map(move |s| (target, s))
        })
        .collect();
    grants.sort_unstable();
    grants
}

/// Plays `seeds` (in parallel) and checks each; returns the failures and the tally.
fn play(seeds: &[u64]) -> (Vec<String>, Tally) {
    let variants = variants();
    let initial = run_json(&scenario(vec![]));
    let references: Vec<Reference> = variants.iter().map(|v| reference(v, &initial)).collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(u64, Value)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS.min(seeds.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    let trial = Trial::draw(seed, &variants);
                    let out = run_json(&scenario(trial.steps(&variants[trial.variant])));
                    if let Ok(dir) = std::env::var("FAULT_DUMP") {
                        let path = format!("{dir}/trial-{seed:#x}.json");
                        std::fs::write(path, serde_json::to_vec_pretty(&out).expect("JSON"))
                            .expect("dump");
                    }
                    results.lock().expect("results").push((seed, out));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(seed, _)| *seed);
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for (seed, out) in &results {
        let trial = Trial::draw(*seed, &variants);
        let v = &variants[trial.variant];
        record(&mut tally, &trial, v, out);
        *tally.variants.entry(v.name).or_default() += 1;
        if let Err(e) = check(out, &references[trial.variant]) {
            failures.push(format!("{}\n  {e}", trial.describe(v)));
        }
    }
    (failures, tally)
}

fn report(tally: &Tally) {
    eprintln!(
        "fault trials: {} trials {:?}, {} faulted hooks ({} exited 1)",
        tally.trials, tally.variants, tally.faulted_hooks, tally.failed_hooks
    );
    eprintln!(
        "faults armed (requests to fail), by kind: {:?}, {} of them after the request",
        tally.armed, tally.armed_after
    );
    eprintln!(
        "failed answers seen (status, 0 = reset): {:?}; longest run of re-sent requests: 1 + {}",
        tally.answered, tally.max_retry_chain
    );
    eprintln!(
        "longest hook under faults: {:.0} ms ({})",
        tally.max_wall_ms, tally.max_wall_at
    );
}

#[test]
fn random_fault_schedules_converge() {
    let trials = env_u64("FAULT_TRIALS", DEFAULT_TRIALS);
    let first = env_u64("FAULT_SEED", DEFAULT_SEED);
    let seeds: Vec<u64> = (first..first + trials).collect();
    let (failures, tally) = play(&seeds);
    report(&tally);
    assert_eq!(tally.trials, seeds.len());
    if trials >= DEFAULT_TRIALS / 2 {
        // The schedules did hit: every kind of fault was armed and answered, and hooks failed.
        assert!(tally.failed_hooks > 0, "no faulted hook failed");
        assert_eq!(tally.armed.len(), ERRORS.len(), "{:?}", tally.armed);
        let answered: Vec<u64> = tally.answered.keys().copied().collect();
        assert_eq!(answered, [0, 409, 429, 500, 503, 504]);
    }
    assert!(
        failures.is_empty(),
        "{} of {} trials did not converge:\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n")
    );
}

/// A change to a run's output.
type Alteration<'a> = Box<dyn Fn(&mut Value) + 'a>;

/// The checks catch what they are there for: the fault-free run, altered as a beacon bug
/// would alter it, fails them.
#[test]
fn the_checks_catch_a_wrong_outcome() {
    let v = &variants()[0];
    let r = reference(v, &run_json(&scenario(vec![])));
    check(&r.clean, &r).expect("the fault-free run passes");
    let last = steps_of(&r.clean).len() - 1;
    let foreign = path_of(&foreign_objects()[1]);
    let ours = "/apis/security.istio.io/v1/namespaces/prod/authorizationpolicies/x";
    fn request(method: &str, path: &str, status: u64) -> Value {
        json!({"method": method, "path": path, "query": "", "status": status})
    }
    let push = |o: &mut Value, step: usize, q: Value| {
        o["steps"][step]["api_requests"]
            .as_array_mut()
            .expect("requests")
            .push(q);
    };
    let broken: Vec<(&str, Alteration<'_>)> = vec![
        (
            "our Gateway missing",
            Box::new(|o| {
                let objects = o["kubernetes"].as_array_mut().expect("objects");
                objects.retain(|x| x["kind"] != "Gateway" || x["metadata"]["name"] != WAYPOINT);
            }),
        ),
        (
            "a databag not published",
            Box::new(|o| o["relations"][1]["local_app_data"] = json!({})),
        ),
        (
            "a foreign object deleted, as the fault-free run would not",
            Box::new(|o| {
                let f = &foreign_objects()[1];
                let objects = o["kubernetes"].as_array_mut().expect("objects");
                objects.retain(|x| x["metadata"]["name"] != f["metadata"]["name"]);
            }),
        ),
        (
            "a write to a foreign object",
            Box::new(|o| push(o, 3, request("PATCH", &foreign, 200))),
        ),
        (
            "a crash",
            Box::new(|o| o["steps"][2]["exit_code"] = json!(101)),
        ),
        (
            "a panic",
            Box::new(|o| o["steps"][2]["stderr"] = json!("thread 'main' panicked at src/x.rs")),
        ),
        (
            "a failing fault-free hook",
            Box::new(|o| o["steps"][last - 1]["exit_code"] = json!(1)),
        ),
        (
            "a write in the last hook",
            Box::new(|o| push(o, last, request("PATCH", ours, 200))),
        ),
        (
            "a fifth try",
            Box::new(|o| {
                for _ in 0..4 {
                    push(o, 2, request("GET", ours, 503));
                }
                push(o, 2, request("GET", ours, 200));
            }),
        ),
    ];
    for (what, alter) in broken {
        let mut out = r.clean.clone();
        alter(&mut out);
        assert!(check(&out, &r).is_err(), "{what} passed the checks");
    }
}
