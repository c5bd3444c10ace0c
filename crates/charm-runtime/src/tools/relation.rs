//! The relation tools: `relation-ids`, `relation-list`, `relation-get`, `relation-set`,
//! `relation-model-get` (jujuc's `relation-*.go`).

use std::fmt;

use serde::Deserialize;

use super::{Databag, HookTools, ToolError, s};

/// A relation as the tools address it: `-r <endpoint>:<id>`, as ops sends it (Juju uses the
/// id after the last `:`; ops includes the endpoint so that Juju can check it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationRef {
    /// The local endpoint name.
    pub endpoint: String,
    /// The relation id.
    pub id: u64,
}

impl RelationRef {
    /// A reference to relation `id` on `endpoint`.
    pub fn new(endpoint: impl Into<String>, id: u64) -> RelationRef {
        RelationRef {
            endpoint: endpoint.into(),
            id,
        }
    }
}

impl fmt::Display for RelationRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.endpoint, self.id)
    }
}

impl HookTools {
    /// `relation-ids <endpoint> --format=json` → the relation ids, in Juju's order.
    pub fn relation_ids(&self, endpoint: &str) -> Result<Vec<u64>, ToolError> {
        let tool = "relation-ids";
        let output = self.run(tool, vec![s(endpoint), s("--format=json")], None)?;
        let decode = |source| ToolError::Decode {
            tool,
            output: output.clone(),
            source,
        };
        let ids: Option<Vec<String>> = serde_json::from_str(&output).map_err(decode)?;
        ids.unwrap_or_default()
            .iter()
            .map(|r| {
                let id = r.rsplit(':').next().unwrap_or(r);
                id.parse::<u64>().map_err(|_| ToolError::Decode {
                    tool,
                    output: output.clone(),
                    source: serde::de::Error::custom(format!("bad relation id {r:?}")),
                })
            })
            .collect()
    }

    /// `relation-list --format=json -r <rel>` → the remote units in scope.
    pub fn relation_list(&self, rel: &RelationRef) -> Result<Vec<String>, ToolError> {
        let units: Option<Vec<String>> = self.run_json(
            "relation-list",
            vec![s("--format=json"), s("-r"), rel.to_string()],
        )?;
        Ok(units.unwrap_or_default())
    }

    /// `relation-list --format=json --app -r <rel>` → the remote application (`None` if Juju
    /// reports none).
    pub fn relation_list_app(&self, rel: &RelationRef) -> Result<Option<String>, ToolError> {
        let app: Option<String> = self.run_json(
            "relation-list",
            vec![s("--format=json"), s("--app"), s("-r"), rel.to_string()],
        )?;
        Ok(app.filter(|a| !a.is_empty()))
    }

    /// `relation-get --format=json -r <rel> [--app] - <member>` → the whole bag of a unit, or
    /// of an application with `app = true` (`member` is then the app name).
    pub fn relation_get(
        &self,
        rel: &RelationRef,
        member: &str,
        app: bool,
    ) -> Result<Databag, ToolError> {
        let mut args = vec![s("--format=json"), s("-r"), rel.to_string()];
        if app {
            args.push(s("--app"));
        }
        args.extend([s("-"), s(member)]);
        let bag: Option<Databag> = self.run_json("relation-get", args)?;
        Ok(bag.unwrap_or_default())
    }

    /// `relation-get --format=json -r <rel> [--app] <key> <member>` → one value (`None` if
    /// absent).
    pub fn relation_get_key(
        &self,
        rel: &RelationRef,
        key: &str,
        member: &str,
        app: bool,
    ) -> Result<Option<String>, ToolError> {
        if key == "-" || key.is_empty() {
            return Err(ToolError::InvalidInput {
                tool: "relation-get",
                reason: format!("invalid key {key:?}; use relation_get for the whole bag"),
            });
        }
        let mut args = vec![s("--format=json"), s("-r"), rel.to_string()];
        if app {
            args.push(s("--app"));
        }
        args.extend([s(key), s(member)]);
        self.run_json("relation-get", args)
    }

    /// `relation-set -r <rel> [--app] --file -` with `data` as a JSON object on stdin. Keys
    /// are updated, not replaced; an empty value deletes the key. Nothing is run for an
    /// empty map.
    pub fn relation_set(
        &self,
        rel: &RelationRef,
        data: &Databag,
        app: bool,
    ) -> Result<(), ToolError> {
        if data.is_empty() {
            return Ok(());
        }
        let mut args = vec![s("-r"), rel.to_string()];
        if app {
            args.push(s("--app"));
        }
        args.extend([s("--file"), s("-")]);
        let body = serde_json::to_string(data).map_err(|e| ToolError::InvalidInput {
            tool: "relation-set",
            reason: e.to_string(),
        })?;
        self.run("relation-set", args, Some(&body)).map(drop)
    }

    /// `relation-model-get --format=json -r <rel>` → the remote model's UUID (Juju ≥ 3.6.2).
    pub fn relation_model_get(&self, rel: &RelationRef) -> Result<String, ToolError> {
        #[derive(Deserialize)]
        struct RelationModel {
            uuid: String,
        }
        let m: RelationModel = self.run_json(
            "relation-model-get",
            vec![s("--format=json"), s("-r"), rel.to_string()],
        )?;
        Ok(m.uuid)
    }
}
