//! Stored objects as clients see them: one object through a version, with its managedFields,
//! and list bodies, serialized without copying the objects.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use super::{State, Stored};
use crate::kube::registry::ResourceType;
use crate::kube::ssa::ManagedFields;
use crate::kube::status::ApiError;

/// An object as a client sees it through one version: the stored object with that
/// `apiVersion` and its `metadata.managedFields`, serialized without copying the object.
/// Members added that the object lacks go last, as `Map::insert` puts them.
pub(super) struct Presented<'a> {
    pub(super) api_version: &'a str,
    pub(super) stored: &'a Stored,
    /// An item of a typed (built-in) list: no apiVersion and kind.
    pub(super) list_item: bool,
}

impl Serialize for Presented<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let Some(obj) = self.stored.obj.as_object() else {
            return self.stored.obj.serialize(ser);
        };
        let managed =
            (!self.stored.managed.is_empty()).then(|| ManagedFields(&self.stored.managed));
        let mut map = ser.serialize_map(None)?;
        let (mut has_api_version, mut has_metadata) = (false, false);
        for (k, v) in obj {
            match (k.as_str(), &managed) {
                ("apiVersion", _) => {
                    has_api_version = true;
                    if !self.list_item {
                        map.serialize_entry(k, self.api_version)?;
                    }
                }
                ("kind", _) if self.list_item => {}
                ("metadata", Some(managed)) => {
                    has_metadata = true;
                    // A metadata that is not an object is replaced, as `meta_mut` does.
                    let meta = WithManaged {
                        meta: v.as_object(),
                        managed,
                    };
                    map.serialize_entry(k, &meta)?;
                }
                _ => map.serialize_entry(k, v)?,
            }
        }
        if !has_api_version && !self.list_item {
            map.serialize_entry("apiVersion", self.api_version)?;
        }
        if let Some(managed) = &managed
            && !has_metadata
        {
            map.serialize_entry(
                "metadata",
                &WithManaged {
                    meta: None,
                    managed,
                },
            )?;
        }
        map.end()
    }
}

/// Metadata with `managedFields` in place (or last).
struct WithManaged<'a> {
    meta: Option<&'a Map<String, Value>>,
    managed: &'a ManagedFields<'a>,
}

impl Serialize for WithManaged<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut map = ser.serialize_map(None)?;
        let mut placed = false;
        for (k, v) in self.meta.into_iter().flatten() {
            if k == "managedFields" {
                placed = true;
                map.serialize_entry(k, self.managed)?;
            } else {
                map.serialize_entry(k, v)?;
            }
        }
        if !placed {
            map.serialize_entry("managedFields", self.managed)?;
        }
        map.end()
    }
}

/// A list response, items serialized from the stored objects.
#[derive(serde::Serialize)]
pub(super) struct ListBody<'a> {
    #[serde(rename = "apiVersion")]
    pub(super) api_version: &'a str,
    pub(super) kind: String,
    pub(super) metadata: ListMeta,
    pub(super) items: Vec<Presented<'a>>,
}

#[derive(serde::Serialize)]
pub(super) struct ListMeta {
    #[serde(rename = "resourceVersion")]
    pub(super) resource_version: String,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub(super) continue_token: Option<String>,
}

/// `body` as JSON; `capacity` is a guess at its size, sparing the buffer's regrowth.
pub(super) fn to_json(body: &impl Serialize, capacity: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(capacity);
    serde_json::to_writer(&mut out, body)
        .map_err(|e| ApiError::internal(format!("cannot serialize: {e}")))?;
    Ok(out)
}

/// A guess at the size of one object's JSON.
pub(super) const OBJECT_JSON_CAPACITY: usize = 2048;

impl State {
    /// The object as a client sees it through `rt`'s version.
    pub(super) fn present(rt: &ResourceType, s: &Stored) -> Result<Value, ApiError> {
        let api_version = rt.api_version();
        let p = Presented {
            api_version: &api_version,
            stored: s,
            list_item: false,
        };
        serde_json::to_value(p).map_err(|e| ApiError::internal(format!("cannot present: {e}")))
    }

    /// The JSON response body of [`Self::present`].
    pub(super) fn render(rt: &ResourceType, s: &Stored) -> Result<Vec<u8>, ApiError> {
        let api_version = rt.api_version();
        let p = Presented {
            api_version: &api_version,
            stored: s,
            list_item: false,
        };
        to_json(&p, OBJECT_JSON_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::ssa::ManagedEntry;
    use serde_json::json;

    #[test]
    fn presented_sets_api_version_in_place_and_managed_fields_last() {
        use crate::kube::fields::PathElem;
        use crate::kube::ssa::Operation;
        let path = |p: &[&str]| p.iter().map(|f| PathElem::Field(f.to_string())).collect();
        let stored = Stored {
            obj: json!({"apiVersion": "g/v1", "kind": "K",
                "metadata": {"name": "a", "uid": "u"}, "spec": {"x": 1}}),
            managed: vec![ManagedEntry {
                manager: "m".into(),
                operation: Operation::Apply,
                api_version: "g/v1".into(),
                time: "t".into(),
                fields: [path(&["spec", "x"])].into_iter().collect(),
            }],
        };
        let managed = r#""managedFields":[{"manager":"m","operation":"Apply","apiVersion":"g/v1","time":"t","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:x":{}}}}]"#;
        let text = |list_item| {
            let p = Presented {
                api_version: "g/v2",
                stored: &stored,
                list_item,
            };
            serde_json::to_string(&p).expect("serializes")
        };
        assert_eq!(
            text(false),
            format!(
                r#"{{"apiVersion":"g/v2","kind":"K","metadata":{{"name":"a","uid":"u",{managed}}},"spec":{{"x":1}}}}"#
            )
        );
        assert_eq!(
            text(true),
            format!(r#"{{"metadata":{{"name":"a","uid":"u",{managed}}},"spec":{{"x":1}}}}"#)
        );
    }
}
