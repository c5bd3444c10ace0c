//! The wire formats: what the Python libraries write (`json.dumps` of `model_dump()`, field by
//! field for the provider) and pydantic's `str()`/`repr()`, which the policy name hashes.

use python_repr::repr_str;

use super::{CmrData, Endpoint, MeshPolicy, ProviderAppData};
use crate::pyjson::{self, PyValue};

impl Endpoint {
    /// `Endpoint.model_dump()` as a JSON value (all four keys, explicit nulls).
    pub fn to_py(&self) -> PyValue {
        fn strs(v: &Option<Vec<String>>) -> PyValue {
            v.as_ref().map_or(PyValue::Null, |l| {
                PyValue::List(l.iter().map(|s| PyValue::Str(s.clone())).collect())
            })
        }
        PyValue::Dict(vec![
            ("hosts".into(), strs(&self.hosts)),
            (
                "ports".into(),
                self.ports.as_ref().map_or(PyValue::Null, |l| {
                    PyValue::List(l.iter().map(|p| PyValue::Int(p.0.clone())).collect())
                }),
            ),
            (
                "methods".into(),
                self.methods.as_ref().map_or(PyValue::Null, |l| {
                    PyValue::List(l.iter().map(|m| PyValue::Str(m.value().into())).collect())
                }),
            ),
            ("paths".into(), strs(&self.paths)),
        ])
    }

    /// pydantic `repr(Endpoint)`.
    pub fn py_repr(&self) -> String {
        fn list<T>(v: &Option<Vec<T>>, f: impl Fn(&T) -> String) -> String {
            match v {
                None => "None".to_owned(),
                Some(l) => format!("[{}]", l.iter().map(f).collect::<Vec<_>>().join(", ")),
            }
        }
        format!(
            "Endpoint(hosts={}, ports={}, methods={}, paths={})",
            list(&self.hosts, |s| repr_str(s)),
            list(&self.ports, |p| p.0.clone()),
            list(&self.methods, |m| m.py_repr()),
            list(&self.paths, |s| repr_str(s)),
        )
    }
}

impl MeshPolicy {
    /// `MeshPolicy.model_dump()` as a JSON value: every key, in field order, nulls explicit.
    pub fn to_py(&self) -> PyValue {
        let opt_str = |v: &Option<String>| v.clone().map_or(PyValue::Null, PyValue::Str);
        PyValue::Dict(vec![
            (
                "source_namespace".into(),
                PyValue::Str(self.source_namespace.clone()),
            ),
            (
                "source_app_name".into(),
                PyValue::Str(self.source_app_name.clone()),
            ),
            (
                "target_namespace".into(),
                PyValue::Str(self.target_namespace.clone()),
            ),
            ("target_app_name".into(), opt_str(&self.target_app_name)),
            (
                "target_selector_labels".into(),
                self.target_selector_labels
                    .as_ref()
                    .map_or(PyValue::Null, |l| {
                        PyValue::Dict(
                            l.iter()
                                .map(|(k, v)| (k.clone(), PyValue::Str(v.clone())))
                                .collect(),
                        )
                    }),
            ),
            ("target_service".into(), opt_str(&self.target_service)),
            (
                "target_type".into(),
                PyValue::Str(self.target_type.value().into()),
            ),
            (
                "endpoints".into(),
                PyValue::List(self.endpoints.iter().map(Endpoint::to_py).collect()),
            ),
        ])
    }

    /// pydantic v2 `str(MeshPolicy)`: `field=repr(value)` pairs joined by single spaces.
    pub fn pydantic_str(&self) -> String {
        let opt = |v: &Option<String>| v.as_deref().map_or("None".to_owned(), repr_str);
        let labels = match &self.target_selector_labels {
            None => "None".to_owned(),
            Some(l) => format!(
                "{{{}}}",
                l.iter()
                    .map(|(k, v)| format!("{}: {}", repr_str(k), repr_str(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        format!(
            "source_namespace={} source_app_name={} target_namespace={} target_app_name={} \
             target_selector_labels={} target_service={} target_type={} endpoints=[{}]",
            repr_str(&self.source_namespace),
            repr_str(&self.source_app_name),
            repr_str(&self.target_namespace),
            opt(&self.target_app_name),
            labels,
            opt(&self.target_service),
            self.target_type.py_repr(),
            self.endpoints
                .iter()
                .map(Endpoint::py_repr)
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// The `policies` value as the consumer library writes it:
/// `json.dumps([p.model_dump() for p in policies])`.
pub fn dump_policies(policies: &[MeshPolicy]) -> String {
    pyjson::dumps_value(&PyValue::List(
        policies.iter().map(MeshPolicy::to_py).collect(),
    ))
}

impl CmrData {
    /// `json.dumps(CMRData(...).model_dump())`.
    pub fn to_json(&self) -> String {
        pyjson::dumps_value(&PyValue::Dict(vec![
            ("app_name".into(), PyValue::Str(self.app_name.clone())),
            (
                "juju_model_name".into(),
                PyValue::Str(self.juju_model_name.clone()),
            ),
        ]))
    }
}

impl ProviderAppData {
    /// The databag entries the provider writes: each field `json.dumps`-ed, `labels` first.
    pub fn to_databag(&self) -> Vec<(String, String)> {
        let labels = PyValue::Dict(
            self.labels
                .iter()
                .map(|(k, v)| (k.clone(), PyValue::Str(v.clone())))
                .collect(),
        );
        vec![
            ("labels".to_owned(), pyjson::dumps_value(&labels)),
            (
                "mesh_type".to_owned(),
                pyjson::dumps_value(&PyValue::Str(self.mesh_type.value().to_owned())),
            ),
        ]
    }
}
