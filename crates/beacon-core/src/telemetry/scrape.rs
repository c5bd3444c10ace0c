//! `metrics-endpoint` (interface `prometheus_scrape`, provider side): the databags the Python
//! charm's `MetricsEndpointProvider` (charm lib `charms.prometheus_k8s.v0.prometheus_scrape`,
//! with `cosl` 1.6.x for topology and alert rules) writes, reproduced byte for byte.
//!
//! # When the Python library writes (wire the beacon the same way)
//!
//! `MetricsEndpointProvider.set_scrape_job_spec` runs on
//! - `metrics-endpoint-relation-joined`, and
//! - the library's refresh event: the beacon passes none and has exactly one container, so it is
//!   `metrics-proxy-pebble-ready`.
//!
//! It writes to **every** `metrics-endpoint` relation:
//! - on **every unit** (leader or not), the unit databag from [`unit_databag`];
//! - then, **leader only**, the app databag from [`app_databag`] (non-leaders stop after the unit
//!   data).
//!
//! Keys are overwritten one by one (`relation.data[...][key] = value`), never cleared first, and
//! the library writes `prometheus_scrape_unit_path = ""`, which ops turns into a key deletion —
//! so that key is absent from [`unit_databag`]. Writing identical values again is harmless
//! (Juju only fires `-changed` on a real change), so calling this on more events is safe.
//!
//! # Where the unit data comes from
//!
//! - address: `network-get --format=json metrics-endpoint -r <relation-id>` →
//!   `bind-addresses[0].addresses[0].value` (ops' `binding.network.bind_address`); if that is
//!   missing or not an IP address, the unit's FQDN is used instead ([`unit_address`]).
//! - FQDN: Python uses `socket.getfqdn()`, which in a Juju sidecar pod is
//!   `<app>-<n>.<app>-endpoints.<model>.svc.cluster.local` ([`unit_fqdn`]).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value, json};

/// The Python charm's `src/prometheus_alert_rules/` holds exactly this one file.
const BEACON_RULES: &str = include_str!("../prometheus_alert_rules/beacon.rules");
const BEACON_RULES_STEM: &str = "beacon";

/// metrics-proxy's port, scraped on every unit (`*:15090`).
pub const METRICS_PORT: u16 = 15090;

/// cosl's `JujuTopology`, from the charm's own identity.
#[derive(Debug, Clone, Copy)]
pub struct Topology<'a> {
    pub model: &'a str,
    pub model_uuid: &'a str,
    pub application: &'a str,
    pub unit: &'a str,
    /// The charm's metadata name (`istio-beacon-k8s`), not the application name.
    pub charm_name: &'a str,
}

impl Topology<'_> {
    /// `JujuTopology.as_dict()`: also the `scrape_metadata` value.
    fn as_dict(&self) -> Value {
        json!({
            "model": self.model,
            "model_uuid": self.model_uuid,
            "application": self.application,
            "unit": self.unit,
            "charm_name": self.charm_name,
        })
    }

    /// `JujuTopology.identifier`: `<model>_<uuid[:8]>_<app>` with `/` replaced by `_`.
    fn identifier(&self) -> String {
        let uuid_short: String = self.model_uuid.chars().take(8).collect();
        format!("{}_{}_{}", self.model, uuid_short, self.application).replace('/', "_")
    }

    /// `JujuTopology.label_matcher_dict`: no unit, `charm_name` renamed `charm`, empty values
    /// dropped; in this order.
    fn label_matchers(&self) -> Vec<(&'static str, &str)> {
        [
            ("juju_model", self.model),
            ("juju_model_uuid", self.model_uuid),
            ("juju_application", self.application),
            ("juju_charm", self.charm_name),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }
}

/// The leader's app databag on every `metrics-endpoint` relation: `scrape_metadata`,
/// `scrape_jobs` and `alert_rules`, each a Python `json.dumps` string.
pub fn app_databag(topology: &Topology, problems: &mut Vec<String>) -> BTreeMap<String, String> {
    // The charm passes `jobs=[{"static_configs": ...}]`; the library's sanitizer starts from its
    // DEFAULT_JOB, so `metrics_path` comes first.
    let scrape_jobs = json!([{
        "metrics_path": "/metrics",
        "static_configs": [{"targets": [format!("*:{METRICS_PORT}")]}],
    }]);
    BTreeMap::from([
        (
            "scrape_metadata".to_owned(),
            service_mesh::pyjson::dumps(&topology.as_dict()),
        ),
        (
            "scrape_jobs".to_owned(),
            service_mesh::pyjson::dumps(&scrape_jobs),
        ),
        (
            "alert_rules".to_owned(),
            service_mesh::pyjson::dumps(&alert_rules(topology, problems)),
        ),
    ])
}

/// Every unit's own databag on every `metrics-endpoint` relation.
pub fn unit_databag(unit_name: &str, address: &str, fqdn: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "prometheus_scrape_unit_address".to_owned(),
            address.to_owned(),
        ),
        (
            "prometheus_scrape_unit_name".to_owned(),
            unit_name.to_owned(),
        ),
        ("prometheus_scrape_unit_fqdn".to_owned(), fqdn.to_owned()),
    ])
}

/// What `socket.getfqdn()` returns in the unit's pod: the pod `<app>-<n>` under Juju's headless
/// Service `<app>-endpoints` in the model's namespace, with the default cluster domain.
pub fn unit_fqdn(unit_name: &str, model: &str) -> String {
    let app = unit_name.split_once('/').map_or(unit_name, |(app, _)| app);
    let pod = unit_name.replace('/', "-");
    format!("{pod}.{app}-endpoints.{model}.svc.cluster.local")
}

/// The library's choice of `prometheus_scrape_unit_address`: the relation binding's bind
/// address when it is an IP address, the FQDN otherwise.
pub fn unit_address(bind_address: Option<&str>, fqdn: &str) -> String {
    match bind_address {
        Some(addr) if addr.parse::<IpAddr>().is_ok() => addr.to_owned(),
        _ => fqdn.to_owned(),
    }
}

/// `AlertRules(query_type="promql", topology).add_path(rules_dir)` followed by
/// `.add(generic_alert_groups.application_rules, group_name_prefix=topology.identifier)`, as a
/// dict. Expressions are left as written: Python only rewrites them through the `cos-tool`
/// binary, which the charm does not ship.
pub fn alert_rules(topology: &Topology, problems: &mut Vec<String>) -> Value {
    let prefix = topology.identifier();
    let mut groups = rules_from_file(BEACON_RULES, BEACON_RULES_STEM, &prefix, topology, problems);
    groups.extend(process(
        host_health_rules(),
        None,
        &prefix,
        topology,
        problems,
    ));
    json!({ "groups": groups })
}

/// `Rules._from_file`: an unreadable or invalid file contributes no groups; what is wrong
/// goes to `problems` (the caller logs it, as the library does).
fn rules_from_file(
    text: &str,
    stem: &str,
    prefix: &str,
    topology: &Topology,
    problems: &mut Vec<String>,
) -> Vec<Value> {
    match serde_yaml_ng::from_str::<Value>(text) {
        Ok(doc) => process(doc, Some(stem), prefix, topology, problems),
        Err(e) => {
            problems.push(format!("Failed to read rules from {stem}: {e}"));
            Vec::new()
        }
    }
}

/// `Rules._from_dict`: accept the official format (`groups: [...]`) or a single rule
/// (`alert` + `expr`, grouped under `group_name`), then name each group and label each rule.
fn process(
    doc: Value,
    group_name: Option<&str>,
    prefix: &str,
    topology: &Topology,
    problems: &mut Vec<String>,
) -> Vec<Value> {
    let groups = match doc {
        Value::Object(mut map) if map.contains_key("groups") => match map.remove("groups") {
            Some(Value::Array(groups)) => groups,
            _ => {
                problems.push("Invalid rules file: `groups` is not a list".to_owned());
                return Vec::new();
            }
        },
        Value::Object(rule) if rule.contains_key("alert") && rule.contains_key("expr") => {
            let Some(name) = group_name else {
                problems.push("Invalid rules: a single rule needs a group name".to_owned());
                return Vec::new();
            };
            vec![json!({"name": name, "rules": [Value::Object(rule)]})]
        }
        _ => {
            problems.push("Invalid rules file: Invalid rule format".to_owned());
            return Vec::new();
        }
    };
    groups
        .into_iter()
        .filter_map(|group| match group {
            Value::Object(group) => process_group(group, prefix, topology, problems),
            _ => {
                problems.push("Invalid rules file: a group is not a mapping".to_owned());
                None
            }
        })
        .collect()
}

fn process_group(
    mut group: Map<String, Value>,
    prefix: &str,
    topology: &Topology,
    problems: &mut Vec<String>,
) -> Option<Value> {
    let Some(Value::String(name)) = group.get("name") else {
        problems.push("Invalid rules file: a group has no name".to_owned());
        return None;
    };
    let name = if is_already_modified(name) {
        name.clone()
    } else {
        [prefix, name.as_str(), "alerts"]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("_")
    };
    group.insert(
        "name".to_owned(),
        Value::String(sanitize_metric_name(&name)),
    );
    let Some(Value::Array(rules)) = group.get_mut("rules") else {
        problems.push(format!(
            "Invalid rules file: group {name} has no list of rules"
        ));
        return None;
    };
    for rule in rules.iter_mut().filter_map(Value::as_object_mut) {
        add_topology(rule, topology);
    }
    Some(Value::Object(group))
}

/// Topology labels are appended after the rule's own labels, never overriding them; the
/// `%%juju_topology%%` placeholder is removed from the expression.
fn add_topology(rule: &mut Map<String, Value>, topology: &Topology) {
    let labels = rule
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(labels) = labels {
        for (key, value) in topology.label_matchers() {
            if !labels.contains_key(key) {
                labels.insert(key.to_owned(), Value::String(value.to_owned()));
            }
        }
    }
    if let Some(Value::String(expr)) = rule.get_mut("expr") {
        *expr = strip_topology_placeholder(expr);
    }
}

/// `re.sub(r"%%juju_topology%%,?", "", expr)`: one left-to-right pass.
fn strip_topology_placeholder(expr: &str) -> String {
    const PLACEHOLDER: &str = "%%juju_topology%%";
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find(PLACEHOLDER) {
        out.push_str(&rest[..at]);
        rest = &rest[at + PLACEHOLDER.len()..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    out.push_str(rest);
    out
}

/// `re.match(r"^.*?_[\da-f]{8}_.*?alerts$", name)`: the name already carries a topology prefix.
fn is_already_modified(name: &str) -> bool {
    // `.` does not cross newlines; `$` may match before one trailing newline.
    let name = name.strip_suffix('\n').unwrap_or(name);
    if name.contains('\n') || !name.ends_with("alerts") {
        return false;
    }
    let bytes = name.as_bytes();
    (0..bytes.len()).any(|i| {
        bytes.get(i) == Some(&b'_')
            && bytes.get(i + 9) == Some(&b'_')
            && bytes[i + 1..i + 9]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            && name
                .get(i + 10..)
                .is_some_and(|tail| tail.ends_with("alerts"))
    })
}

/// Every character outside `[a-zA-Z0-9_:]` becomes `_`.
fn sanitize_metric_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// cosl's `generic_alert_groups.application_rules` (cosl 1.6.x text, as the reference data
/// shows): the `HostHealth` group every scraped application gets.
fn host_health_rules() -> Value {
    json!({"groups": [{
        "name": "HostHealth",
        "rules": [
            {
                "alert": "HostDown",
                "expr": "up < 1",
                "for": "5m",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": "Host '{{ $labels.instance }}' is down.",
                    "description": "Juju application '{{ $labels.juju_application }}' in model '{{ $labels.juju_model }}' is down. Prometheus has been unable to scrape it during at least the past five minutes.",
                },
            },
            {
                "alert": "HostMetricsMissing",
                "expr": "absent(up)",
                "for": "5m",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": "Unit '{{ $labels.juju_unit }}' of application '{{ $labels.juju_application }}' is down or failing to remote write.",
                    "description": "`Up` missing for unit '{{ $labels.juju_unit }}' of application {{ $labels.juju_application }} in model {{ $labels.juju_model }}. Please ensure the unit or the collector scraping it is up and is able to successfully reach the metrics backend.",
                },
            },
        ],
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFERENCE: &str = include_str!("testdata/metrics-endpoint-databag.json");

    fn prod() -> Topology<'static> {
        Topology {
            model: "prod",
            model_uuid: "7b0e1c9e-0000-4000-8000-000000000001",
            application: "istio-beacon-k8s",
            unit: "istio-beacon-k8s/0",
            charm_name: "istio-beacon-k8s",
        }
    }

    fn reference_bag(reference: &str, which: &str) -> BTreeMap<String, String> {
        let doc: Value = serde_json::from_str(reference).expect("reference is JSON");
        serde_json::from_value(doc[which].clone()).expect("a map of strings")
    }

    fn assert_matches_reference(reference: &str) {
        let app = reference_bag(reference, "local_app_data");
        let unit = reference_bag(reference, "local_unit_data");
        assert_eq!(app.len(), 3);
        assert_eq!(unit.len(), 3);

        // Compared value by value so a mismatch names the key.
        let mut problems = Vec::new();
        let ours = app_databag(&prod(), &mut problems);
        assert_eq!(problems, Vec::<String>::new());
        for (key, expected) in &app {
            assert_eq!(ours.get(key), Some(expected), "app key {key}");
        }
        assert_eq!(ours, app);

        let fqdn = unit_fqdn("istio-beacon-k8s/0", "prod");
        let address = unit_address(Some("192.0.2.0"), &fqdn);
        assert_eq!(unit_databag("istio-beacon-k8s/0", &address, &fqdn), unit);
    }

    #[test]
    fn databags_match_committed_reference_byte_for_byte() {
        assert_matches_reference(REFERENCE);
    }

    #[test]
    fn databags_match_shared_reference() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/metrics-endpoint-databag.json"
        );
        // shared/ sits beside the clone, for developers and CI alike: its absence is a
        // failure, not a pass.
        let shared = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{path}: {e} (shared/ must sit beside the clone)"));
        assert_eq!(shared, REFERENCE, "committed testdata drifted from shared/");
        assert_matches_reference(&shared);
    }

    #[test]
    fn rules_file_is_the_python_charms() {
        let doc: Value = serde_yaml_ng::from_str(BEACON_RULES).expect("the rules file is YAML");
        let names: Vec<_> = doc["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| g["name"].as_str().expect("a group name"))
            .collect();
        assert_eq!(
            names,
            [
                "IstioAgentMonitoring",
                "EnvoyClusterMonitoring",
                "EnvoyErrorMonitoring"
            ]
        );
        // The folded two-line expression becomes one line with a single space.
        assert_eq!(
            doc["groups"][2]["rules"][0]["expr"],
            "sum(rate(envoy_cluster_internal_upstream_rq_completed[5m])) / \
             sum(rate(envoy_cluster_internal_upstream_rq{response_code_class=\"2xx\"}[5m])) > 0.1"
        );
    }

    #[test]
    fn unit_address_falls_back_to_fqdn_unless_ip() {
        assert_eq!(unit_address(Some("10.1.2.3"), "f"), "10.1.2.3");
        assert_eq!(unit_address(Some("fd00::1"), "f"), "fd00::1");
        assert_eq!(unit_address(Some("host.example"), "f"), "f");
        assert_eq!(unit_address(None, "f"), "f");
    }

    #[test]
    fn fqdn_formula() {
        assert_eq!(
            unit_fqdn("istio-beacon-k8s/12", "my-model"),
            "istio-beacon-k8s-12.istio-beacon-k8s-endpoints.my-model.svc.cluster.local"
        );
    }

    #[test]
    fn existing_labels_win_and_missing_labels_are_created() {
        let doc = json!({"groups": [{"name": "g", "rules": [
            {"alert": "A", "expr": "x{%%juju_topology%%,a=\"b\"} > 1%%juju_topology%%",
             "labels": {"juju_model": "mine"}},
            {"alert": "B", "expr": "y"},
        ]}]});
        let groups = process(doc, None, "p_12345678_app", &prod(), &mut Vec::new());
        assert_eq!(groups[0]["name"], "p_12345678_app_g_alerts");
        let a = &groups[0]["rules"][0];
        assert_eq!(a["expr"], "x{a=\"b\"} > 1");
        assert_eq!(a["labels"]["juju_model"], "mine");
        assert_eq!(a["labels"]["juju_charm"], "istio-beacon-k8s");
        let b = &groups[0]["rules"][1];
        let keys: Vec<_> = b.as_object().into_iter().flat_map(|m| m.keys()).collect();
        assert_eq!(keys, ["alert", "expr", "labels"]);
        assert_eq!(b["labels"]["juju_application"], "istio-beacon-k8s");
    }

    #[test]
    fn single_rule_file_is_grouped_under_its_stem() {
        let groups = rules_from_file(
            "alert: A\nexpr: up < 1\n",
            "my.rule",
            "pre",
            &prod(),
            &mut Vec::new(),
        );
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0]["name"], "pre_my_rule_alerts");
        assert_eq!(groups[0]["rules"][0]["alert"], "A");
    }

    #[test]
    fn invalid_rules_contribute_nothing() {
        let mut problems = Vec::new();
        assert!(rules_from_file("groups: [", "x", "p", &prod(), &mut problems).is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
        let mut problems = Vec::new();
        assert!(rules_from_file("just text", "x", "p", &prod(), &mut problems).is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
        let mut problems = Vec::new();
        assert!(rules_from_file("groups: 3", "x", "p", &prod(), &mut problems).is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn group_names_already_carrying_topology_are_kept() {
        assert!(is_already_modified("prod_7b0e1c9e_app_G_alerts"));
        assert!(!is_already_modified("IstioAgentMonitoring"));
        assert!(!is_already_modified("prod_7B0E1C9E_app_alerts"));
        assert!(!is_already_modified("prod_7b0e1c9e_app_rules"));
        assert_eq!(sanitize_metric_name("a-b.c:d_é"), "a_b_c:d__");
    }

    #[test]
    fn empty_charm_name_is_not_a_label() {
        let topology = Topology {
            charm_name: "",
            ..prod()
        };
        let keys: Vec<_> = topology
            .label_matchers()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, ["juju_model", "juju_model_uuid", "juju_application"]);
    }
}
