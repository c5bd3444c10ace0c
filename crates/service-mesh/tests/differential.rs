//! Differential test against the real Python `service_mesh` code.
//!
//! A seeded generator produces thousands of consumer `policies` values (odd strings, every
//! historic key set, lax and invalid values) and other wire inputs; all of them go to ONE
//! Python process (`tests/python/oracle/oracle.py`, JSON lines) and every answer is compared
//! with the Rust result: parse verdicts and first errors, `str(MeshPolicy)`, names, built
//! bodies, re-dumped databags, labels, CMR and provider data, `repr` and `json.dumps`.
//!
//! The venv comes from `scripts/setup-python.sh`. Set `MESH_DIFF_SEED` / `MESH_DIFF_CASES`
//! to explore beyond the fixed default seed.

mod oracle;
use oracle::{env_num, run_oracle};

use python_repr::repr_str;
use serde_json::{Value, json};
use service_mesh::labels::charm_kubernetes_label;
use service_mesh::names::policy_name;
use service_mesh::pyjson::{self, PyValue};
use service_mesh::{
    BuildError, CmrData, CmrDataError, DatabagError, FieldError, PolicyError, ProviderAppData,
    ProviderDataError, build_authorization_policy, dump_policies, parse_policies,
};

type ValueGen = fn(&mut Rng) -> PyValue;
type CaseGen = fn(&mut Rng) -> Case;

/// splitmix64: small, seedable, reproducible.
struct Rng {
    state: u64,
    /// While set, generators only produce values pydantic accepts field by field, so that
    /// many policies get through to the name and builder comparison.
    valid: bool,
}

impl Rng {
    fn new(seed: u64) -> Self {
        Rng {
            state: seed,
            valid: false,
        }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &[
    "prod",
    "cos",
    "myapp",
    "mydb",
    "prometheus",
    "istio-beacon-k8s",
    "a",
    "m",
    "svc",
    "otel-collector",
    "beaconApp",
    "senderNamespace",
];

fn odd_char(rng: &mut Rng) -> char {
    let cp = match rng.below(15) {
        14 => 0x800 + rng.below(0xd800 - 0x800) as u32,
        0 => rng.below(0x20) as u32,
        1 => *rng.pick(&[0x27, 0x22, 0x5c, 0x09, 0x0a, 0x0d, 0x7f, 0x20, 0x2f]),
        2 => 0x80 + rng.below(0x80) as u32,
        3 => 0x100 + rng.below(0x700) as u32,
        4 => *rng.pick(&[
            0x200b, 0x2028, 0x2029, 0x3000, 0xfeff, 0x00ad, 0x061c, 0x1680, 0x202e,
        ]),
        5 => 0xe000 + rng.below(0x1900) as u32,
        6 => 0x1f600 + rng.below(0x50) as u32,
        7 => *rng.pick(&[
            0x1d173, 0xe0001, 0xf0000, 0x10ffff, 0x1f9ff, 0x2fffe, 0x30000, 0xe01ef,
        ]),
        8 => 0x10000 + rng.below(0x100000) as u32,
        9 => 0x378 + rng.below(0x30) as u32,
        10 => 0xfff0 + rng.below(0x10) as u32,
        11 => 0x0600 + rng.below(0x100) as u32,
        _ => 0x20 + rng.below(0x5f) as u32,
    };
    // Skip the surrogate block (not representable in Rust strings).
    char::from_u32(cp).unwrap_or('?')
}

fn gen_string(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=3 => (*rng.pick(NAMES)).to_owned(),
        4 => String::new(),
        5 => {
            // Long: exercises the 253-character name fallback.
            let n = 20 + rng.below(200);
            (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect()
        }
        6 => format!("{}{}", rng.pick(NAMES), odd_char(rng)),
        _ => {
            let n = rng.below(10);
            (0..n).map(|_| odd_char(rng)).collect()
        }
    }
}

fn s(v: impl Into<String>) -> PyValue {
    PyValue::Str(v.into())
}

fn int(v: i64) -> PyValue {
    PyValue::Int(v.to_string())
}

fn gen_port(rng: &mut Rng) -> PyValue {
    if rng.valid {
        return match rng.below(6) {
            0..=2 => int(rng.below(65536) as i64),
            3 => PyValue::Float(rng.below(65536) as f64),
            4 => PyValue::Bool(rng.chance(50)),
            _ => s(*rng.pick(&[
                "80",
                " 443 ",
                "+8080",
                "1_000",
                "9090.0",
                "00",
                "99999999999999999999",
            ])),
        };
    }
    match rng.below(20) {
        0..=7 => int(rng.below(65536) as i64),
        8 => int(-(rng.below(100) as i64)),
        9 => PyValue::Int(format!(
            "{}{}",
            1 + rng.below(9),
            "9".repeat(18 + rng.below(30))
        )),
        10 => PyValue::Bool(rng.chance(50)),
        11 => PyValue::Float(rng.below(100_000) as f64),
        12 => PyValue::Float(*rng.pick(&[
            80.5,
            -0.0,
            1e20,
            9.2e18,
            9.3e18,
            -9.223_372_036_854_776e18,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            4_611_686_018_427_387_904.0,
        ])),
        13 => PyValue::Null,
        14 => PyValue::List(vec![]),
        _ => s(*rng.pick(&[
            "80",
            " 80 ",
            "+80",
            "-80",
            "0x50",
            "80_000",
            "1e2",
            "080",
            "80.0",
            "80.5",
            "",
            "abc",
            "1__0",
            "_1",
            "1_",
            "80.",
            ".0",
            "80.00",
            "1_0.0",
            "\u{a0}80",
            "\u{3000}80",
            "\u{1c}80",
            "80\u{85}",
            "-0",
            "00",
            "+",
            "-",
            "99999999999999999999",
            "٣",
            "１２",
            "-_1",
            "+-1",
            "1.0_0",
            "9223372036854775808",
            "\t443\n",
        ])),
    }
}

fn gen_list(rng: &mut Rng, item: ValueGen) -> PyValue {
    let invalid_kinds = if rng.valid { 0 } else { 4 };
    match invalid_kinds + rng.below(12 - invalid_kinds) {
        0 => PyValue::Null,
        1 => s("x"),
        2 => PyValue::Dict(vec![]),
        3 => int(1),
        _ => PyValue::List((0..rng.below(4)).map(|_| item(rng)).collect()),
    }
}

fn gen_str_item(rng: &mut Rng) -> PyValue {
    let invalid_kinds = if rng.valid { 2 } else { 0 };
    match invalid_kinds + rng.below(25 - invalid_kinds) {
        0 => PyValue::Null,
        1 => int(3),
        _ => s(gen_string(rng)),
    }
}

fn gen_method(rng: &mut Rng) -> PyValue {
    let invalid_kinds = if rng.valid { 4 } else { 0 };
    match invalid_kinds + rng.below(20 - invalid_kinds) {
        0 => s("get"),
        1 => s(" GET"),
        2 => PyValue::Null,
        3 => int(1),
        _ => s(*rng.pick(&[
            "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
        ])),
    }
}

fn gen_endpoint(rng: &mut Rng) -> PyValue {
    if !rng.valid && rng.chance(3) {
        return rng
            .pick(&[PyValue::Null, s("ep"), PyValue::List(vec![])])
            .clone();
    }
    let mut items = Vec::new();
    let l7 = rng.chance(60);
    let fields: [(&str, ValueGen); 4] = [
        ("hosts", gen_str_item),
        ("ports", gen_port),
        ("methods", gen_method),
        ("paths", gen_str_item),
    ];
    for (key, item) in fields {
        if key != "ports" && !l7 {
            continue;
        }
        if rng.chance(70) {
            items.push((key.to_owned(), gen_list(rng, item)));
        }
    }
    if rng.chance(10) {
        items.push(("notHosts".to_owned(), s("ignored")));
    }
    shuffle_sometimes(rng, &mut items);
    PyValue::Dict(items)
}

fn shuffle_sometimes(rng: &mut Rng, items: &mut [(String, PyValue)]) {
    if rng.chance(25) {
        for i in (1..items.len()).rev() {
            let j = rng.below(i + 1);
            items.swap(i, j);
        }
    }
}

fn gen_opt_str(rng: &mut Rng) -> Option<PyValue> {
    match rng.below(12) {
        0 => None,
        1..=3 => Some(PyValue::Null),
        4 => Some(s("")),
        5 if !rng.valid => Some(int(7)),
        _ => Some(s(gen_string(rng))),
    }
}

fn gen_labels(rng: &mut Rng) -> Option<PyValue> {
    match rng.below(10) {
        0..=3 => None,
        4 => Some(PyValue::Null),
        5 => Some(PyValue::Dict(vec![])),
        6 if !rng.valid => Some(PyValue::List(vec![])),
        _ => {
            let n = 1 + rng.below(3);
            Some(PyValue::Dict(
                (0..n)
                    .map(|_| {
                        let v = if !rng.valid && rng.chance(5) {
                            PyValue::Null
                        } else {
                            s(gen_string(rng))
                        };
                        (gen_string(rng), v)
                    })
                    .collect(),
            ))
        }
    }
}

/// One `policies` element in one of the historic key sets (or something broken).
fn gen_policy(rng: &mut Rng) -> PyValue {
    rng.valid = rng.chance(60);
    let policy = gen_policy_inner(rng);
    rng.valid = false;
    policy
}

fn gen_policy_inner(rng: &mut Rng) -> PyValue {
    if !rng.valid && rng.chance(2) {
        return rng
            .pick(&[int(5), s("policy"), PyValue::Null, PyValue::List(vec![])])
            .clone();
    }
    let target_type = match rng.below(20) {
        0 if !rng.valid => Some(s("APP")),
        1 if !rng.valid => Some(PyValue::Null),
        2..=6 => None,
        7..=12 => Some(s("unit")),
        _ => Some(s("app")),
    };
    let mut fields: Vec<(&str, Option<PyValue>)> = vec![
        ("source_namespace", Some(s(gen_string(rng)))),
        ("source_app_name", Some(s(gen_string(rng)))),
        ("target_namespace", Some(s(gen_string(rng)))),
        ("target_app_name", gen_opt_str(rng)),
        ("target_selector_labels", gen_labels(rng)),
        ("target_service", gen_opt_str(rng)),
        ("target_type", target_type),
        (
            "endpoints",
            match rng.below(20) {
                0 => None,
                1 if !rng.valid => Some(PyValue::Null),
                _ => Some(PyValue::List(
                    (0..rng.below(4)).map(|_| gen_endpoint(rng)).collect(),
                )),
            },
        ),
    ];
    for field in fields.iter_mut().take(3) {
        if rng.valid {
            break;
        }
        if rng.chance(3) {
            field.1 = None;
        }
        if rng.chance(2) {
            field.1 = Some(PyValue::Null);
        }
    }

    let order: &[usize] = match rng.below(4) {
        // LIBPATCH 1–6 order (no target_type / selector labels: dropped below).
        0 => &[1, 0, 3, 2, 5, 7],
        // LIBPATCH 7–11 order.
        1 => &[1, 0, 3, 2, 5, 6, 7],
        _ => &[0, 1, 2, 3, 4, 5, 6, 7],
    };
    let mut items: Vec<(String, PyValue)> = order
        .iter()
        .filter_map(|&i| fields[i].1.clone().map(|v| (fields[i].0.to_owned(), v)))
        .collect();
    if rng.chance(10) {
        items.push(("relation".to_owned(), s("unknown key")));
    }
    if rng.chance(5) && !items.is_empty() {
        // A duplicate key: Python keeps the first position and the last value.
        let (k, _) = items[rng.below(items.len())].clone();
        items.push((k, s(gen_string(rng))));
    }
    shuffle_sometimes(rng, &mut items);
    PyValue::Dict(items)
}

fn gen_databag(rng: &mut Rng) -> String {
    match rng.below(40) {
        0 => "{\"not\": \"a list\"}".to_owned(),
        1 => "\"text\"".to_owned(),
        2 => {
            let mut t = pyjson::dumps_value(&gen_policy(rng));
            t.truncate(t.len() / 2);
            t
        }
        3 => "[]".to_owned(),
        _ => {
            let n = 1 + rng.below(4);
            pyjson::dumps_value(&PyValue::List((0..n).map(|_| gen_policy(rng)).collect()))
        }
    }
}

/// One request for the oracle, plus the Rust-side expected answer it must match.
struct Case {
    request: Value,
    rust: Value,
}

fn field_error_json(e: &FieldError) -> Value {
    json!({"type": e.kind.pydantic_type(), "loc": e.loc.to_string()})
}

fn rust_policies(databag: &str, app: &str, model: &str) -> Value {
    let results = match parse_policies(databag) {
        Err(DatabagError::InvalidJson(_)) => return json!({"databag_error": "invalid_json"}),
        Err(DatabagError::NotAList) => return json!({"databag_error": "not_list"}),
        Ok(r) => r,
    };
    let mut elements = Vec::new();
    let mut valid = Vec::new();
    for r in results {
        match r {
            Err(PolicyError::Field(e)) => elements.push(json!({"error": field_error_json(&e)})),
            Err(PolicyError::Rule(rule)) => elements.push(json!({"error": {
                "type": "value_error", "loc": "", "msg": rule.to_string()
            }})),
            Ok(p) => {
                let body = match build_authorization_policy(app, model, &p) {
                    Ok(b) => Value::String(pyjson::dumps(&b)),
                    Err(BuildError::UnitPolicyWithL7 { .. }) => Value::Null,
                    Err(e) => Value::String(format!("unexpected build error: {e}")),
                };
                elements.push(json!({
                    "str": p.pydantic_str(),
                    "name": policy_name(app, model, &p),
                    "body": body,
                }));
                valid.push(p);
            }
        }
    }
    json!({"elements": elements, "redump": dump_policies(&valid)})
}

fn policies_case(rng: &mut Rng) -> Case {
    let databag = gen_databag(rng);
    let app = if rng.chance(10) {
        gen_string(rng)
    } else {
        (*rng.pick(NAMES)).to_owned()
    };
    let model = if rng.chance(10) {
        gen_string(rng)
    } else {
        (*rng.pick(NAMES)).to_owned()
    };
    Case {
        rust: rust_policies(&databag, &app, &model),
        request: json!({"kind": "policies", "databag": databag, "beacon_app": app, "beacon_model": model}),
    }
}

fn label_case(rng: &mut Rng) -> Case {
    let name = |rng: &mut Rng| match rng.below(6) {
        0 => String::new(),
        1 => (*rng.pick(NAMES)).to_owned(),
        2 => {
            let c = *rng.pick(&['m', 'a', 'é', '😀']);
            std::iter::repeat_n(c, 1 + rng.below(80)).collect()
        }
        _ => gen_string(rng),
    };
    let (model, app) = (name(rng), name(rng));
    let prefix = (*rng.pick(&["", "", "charms.canonical.com/", "prefix/", "ünï/"])).to_owned();
    let suffix = (*rng.pick(&["", "", "-waypoint", ".telemetry", "-suffix"])).to_owned();
    let separator = (*rng.pick(&["-", ".", "--", "", "·"])).to_owned();
    let max_length = *rng.pick(&[63usize, 63, 63, 10, 20, 30, 40, 80, 253]);
    let rust = match charm_kubernetes_label(&model, &app, &prefix, &suffix, &separator, max_length)
    {
        Ok(label) => json!({"label": label}),
        Err(e) => json!({"error": e.to_string()}),
    };
    Case {
        request: json!({"kind": "label", "model": model, "app": app, "prefix": prefix,
            "suffix": suffix, "separator": separator, "max_length": max_length}),
        rust,
    }
}

fn cmr_case(rng: &mut Rng) -> Case {
    let text = match rng.below(8) {
        0 => "{\"app_name\": ".to_owned(),
        1 => "[]".to_owned(),
        _ => {
            let mut items = Vec::new();
            for key in ["app_name", "juju_model_name"] {
                match rng.below(10) {
                    0 => {}
                    1 => items.push((key.to_owned(), int(1))),
                    2 => items.push((key.to_owned(), PyValue::Null)),
                    _ => items.push((key.to_owned(), s(gen_string(rng)))),
                }
            }
            if rng.chance(20) {
                items.push(("extra".to_owned(), PyValue::Bool(true)));
            }
            shuffle_sometimes(rng, &mut items);
            pyjson::dumps_value(&PyValue::Dict(items))
        }
    };
    let rust = match CmrData::parse(&text) {
        Ok(d) => json!({"json": d.to_json()}),
        Err(CmrDataError::InvalidJson(_)) => json!({"error": "invalid_json"}),
        Err(CmrDataError::Invalid(e)) => json!({"error": "invalid", "first": field_error_json(&e)}),
    };
    Case {
        request: json!({"kind": "cmr", "text": text}),
        rust,
    }
}

fn gen_label_pairs(rng: &mut Rng) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for _ in 0..rng.below(4) {
        let k = gen_string(rng);
        // A dict cannot hold a key twice; keep the generator's pairs unique.
        if !pairs.iter().any(|(x, _)| *x == k) {
            pairs.push((k, gen_string(rng)));
        }
    }
    pairs
}

fn provider_read_case(rng: &mut Rng) -> Case {
    let mut bag: Vec<(String, String)> = Vec::new();
    if rng.chance(90) {
        let labels = gen_label_pairs(rng);
        let value = match rng.below(10) {
            0 => "[]".to_owned(),
            1 => "{\"a\": 1}".to_owned(),
            _ => pyjson::dumps_value(&PyValue::Dict(
                labels.into_iter().map(|(k, v)| (k, s(v))).collect(),
            )),
        };
        bag.push(("labels".to_owned(), value));
    }
    if rng.chance(90) {
        let v = *rng.pick(&[
            "\"istio\"",
            "\"istio\"",
            "\"linkerd\"",
            "istio",
            "1",
            "null",
        ]);
        bag.push(("mesh_type".to_owned(), v.to_owned()));
    }
    if rng.chance(10) {
        bag.push((
            "extra".to_owned(),
            (*rng.pick(&["{}", "not json"])).to_owned(),
        ));
    }
    let rust = match ProviderAppData::parse(bag.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(None) => json!({"none": true}),
        Ok(Some(d)) => json!({"labels": d.labels, "mesh_type": d.mesh_type.value()}),
        Err(ProviderDataError::InvalidJson { .. }) => json!({"error": "invalid_json"}),
        Err(ProviderDataError::Invalid(e)) => {
            json!({"error": "invalid", "first": field_error_json(&e)})
        }
    };
    let databag: serde_json::Map<String, Value> = bag
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Case {
        request: json!({"kind": "provider_read", "databag": databag}),
        rust,
    }
}

fn provider_write_case(rng: &mut Rng) -> Case {
    let labels = gen_label_pairs(rng);
    let data = ProviderAppData {
        labels: labels.clone(),
        mesh_type: service_mesh::MeshType::Istio,
    };
    Case {
        request: json!({"kind": "provider_write", "labels": labels}),
        rust: json!({"databag": data.to_databag()}),
    }
}

fn repr_case(rng: &mut Rng) -> Case {
    let text: String = (0..rng.below(12)).map(|_| odd_char(rng)).collect();
    Case {
        rust: json!({"repr": repr_str(&text), "json": pyjson::dumps(&Value::String(text.clone()))}),
        request: json!({"kind": "repr", "text": text}),
    }
}

fn json_case(rng: &mut Rng) -> Case {
    let mut text = pyjson::dumps_value(&gen_policy(rng));
    match rng.below(8) {
        0 => text = text.replace(", ", ","),
        1 => text = format!(" \n{text}\t"),
        2 => {
            text = (*rng.pick(&[
                "1.5e-7",
                "[1E400, -0.0, 0.1, 1e16, 123456789.25]",
                "[01]",
                "[1,]",
                "{\"a\":1 , \"a\" : [ ] }",
                "\"\\ud83d\\ude00\\u00e9\\/\"",
                "[-Infinity, NaN]",
                "[true, false, null]",
                "[1.0e+2, 2E-3]",
                "\"\\u12\"",
                "{\"k\": }",
            ]))
            .to_owned()
        }
        _ => {}
    }
    let rust = match pyjson::loads(&text) {
        Ok(v) => json!({"json": pyjson::dumps_value(&v)}),
        Err(_) => json!({"error": "invalid_json"}),
    };
    Case {
        request: json!({"kind": "json", "text": text}),
        rust,
    }
}

#[test]
fn rust_matches_python_service_mesh() {
    let seed = env_num("MESH_DIFF_SEED", 0x5EED_CAFE);
    let cases = env_num("MESH_DIFF_CASES", 6000);
    let mut rng = Rng::new(seed);
    let generators: [(CaseGen, u64); 7] = [
        (policies_case, 10),
        (label_case, 3),
        (cmr_case, 1),
        (provider_read_case, 1),
        (provider_write_case, 1),
        (repr_case, 2),
        (json_case, 2),
    ];
    let total_weight: u64 = generators.iter().map(|(_, w)| w).sum();
    let mut all = Vec::new();
    for id in 0..cases {
        let mut roll = rng.next() % total_weight;
        let generator = generators
            .iter()
            .find(|(_, w)| {
                let hit = roll < *w;
                roll = roll.saturating_sub(*w);
                hit
            })
            .map_or(policies_case as CaseGen, |(g, _)| *g);
        let mut case = generator(&mut rng);
        case.request["id"] = json!(id);
        case.rust["id"] = json!(id);
        all.push(case);
    }
    let requests: Vec<Value> = all.iter().map(|c| c.request.clone()).collect();
    let answers = run_oracle("tests/python/oracle/oracle.py", &requests);
    assert_eq!(
        answers.len(),
        all.len(),
        "oracle answered a different number of cases"
    );

    let mut mismatches = Vec::new();
    // What the comparison actually covered, by outcome (counted on the Python answers).
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (case, python) in all.iter().zip(&answers) {
        let kind = case.request["kind"].as_str().unwrap_or("?");
        let mut outcomes = Vec::new();
        if let Some(elements) = python.get("elements").and_then(Value::as_array) {
            for e in elements {
                outcomes.push(match (e.get("error"), e.get("body")) {
                    (Some(err), _) => {
                        format!("element error {}", err["type"].as_str().unwrap_or("?"))
                    }
                    (None, Some(Value::Null)) => "element refused (unit policy with L7)".to_owned(),
                    _ => "element built".to_owned(),
                });
            }
        } else if let Some(err) = python.get("databag_error").or(python.get("error")) {
            let err: String = err.as_str().unwrap_or("?").chars().take(40).collect();
            outcomes.push(format!("{kind} error {err}"));
        } else {
            outcomes.push(format!("{kind} ok"));
        }
        for o in outcomes {
            *seen.entry(o).or_default() += 1;
        }
        if &case.rust != python {
            mismatches.push((case, python));
        }
    }
    eprintln!(
        "differential (seed {seed:#x}): {} cases, {} mismatches; outcomes: {seen:#?}",
        all.len(),
        mismatches.len(),
    );
    for (case, python) in mismatches.iter().take(5) {
        eprintln!(
            "--- mismatch\nrequest: {}\npython:  {}\nrust:    {}",
            case.request, python, case.rust
        );
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Python",
        mismatches.len(),
        all.len()
    );
    // The generator must keep reaching every interesting outcome, or the comparison is hollow.
    for outcome in [
        "element built",
        "element refused (unit policy with L7)",
        "element error value_error",
        "element error int_parsing",
        "element error missing",
        "policies error invalid_json",
        "policies error not_list",
        "label ok",
        "label error Both model_name and app_name must be at ",
        "label error Fixed label portion (prefix, suffix, has",
        "cmr ok",
        "cmr error invalid",
        "provider_read ok",
        "provider_read error invalid",
        "json error invalid_json",
    ] {
        assert!(seen.contains_key(outcome), "no case reached {outcome:?}");
    }
}
