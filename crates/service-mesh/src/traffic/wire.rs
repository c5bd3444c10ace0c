//! Writing a `traffic` value: the wire keys in a fixed order, absent settings left out,
//! `json.dumps` spacing (through [`crate::pyjson`]). `serde` goes through the same value.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::tree::{Keys, policy_into, put};
use super::{TRAFFIC_VERSION, TrafficIntent};
use crate::pyjson::{self, PyValue};

impl TrafficIntent {
    /// The wire value: `version`, the default policy's keys, `ports`, `mtls`, in that order.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("version".into(), TRAFFIC_VERSION.into());
        put(&mut m, "service", self.service.as_deref());
        policy_into(&mut m, &self.policy, Keys::Wire);
        if !self.ports.is_empty() {
            let ports = self
                .ports
                .iter()
                .map(|p| {
                    let mut pm = Map::new();
                    pm.insert("port".into(), p.port.into());
                    policy_into(&mut pm, &p.policy, Keys::Wire);
                    Value::Object(pm)
                })
                .collect();
            m.insert("ports".into(), Value::Array(ports));
        }
        put(&mut m, "mtls", self.mtls.map(|x| x.value()));
        Value::Object(m)
    }

    /// The databag value, as Python's `json.dumps(value)` would write it.
    pub fn to_json(&self) -> String {
        pyjson::dumps(&self.to_value())
    }
}

impl Serialize for TrafficIntent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

/// `serde_json` value → `json.loads` value (integers kept exact, as text).
fn to_py(v: &Value) -> PyValue {
    match v {
        Value::Null => PyValue::Null,
        Value::Bool(b) => PyValue::Bool(*b),
        Value::Number(n) if n.is_i64() || n.is_u64() => PyValue::Int(n.to_string()),
        Value::Number(n) => PyValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => PyValue::Str(s.clone()),
        Value::Array(a) => PyValue::List(a.iter().map(to_py).collect()),
        Value::Object(o) => PyValue::Dict(o.iter().map(|(k, v)| (k.clone(), to_py(v))).collect()),
    }
}

/// Validating: whatever [`TrafficIntent::from_json`] refuses, this refuses (the error's
/// `Display` is the message).
impl<'de> Deserialize<'de> for TrafficIntent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        TrafficIntent::from_py(&to_py(&v)).map_err(D::Error::custom)
    }
}
