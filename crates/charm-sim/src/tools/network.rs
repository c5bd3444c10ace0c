//! network-get.
use serde_json::{Value, json};

use super::args::{go_quote_list, parse};
use super::format::sorted;
use super::{FORMAT, OUTPUT, R, RELATION, Tool, runtime, usage};
use crate::flags::flag;
use crate::world::ADDRESS;

impl Tool<'_> {
    pub(super) fn network_get(&self, args: &[String]) -> R<String> {
        let p = parse(
            &[
                FORMAT,
                OUTPUT,
                RELATION,
                flag("bind-address", &["bind-address"], true),
                flag("ingress-address", &["ingress-address"], true),
                flag("egress-subnets", &["egress-subnets"], true),
                flag("primary-address", &["primary-address"], true),
            ],
            args,
        )?;
        if p.get("relation").is_some() {
            self.relation_id(&p)?;
        }
        let binding = match p.args.as_slice() {
            [] => return Err(usage("no arguments specified")),
            [b] => b.clone(),
            [_, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        let known = self.w.meta.endpoints.contains_key(&binding)
            || self.w.meta.extra_bindings.contains(&binding);
        if !known {
            return Err(runtime(format!(
                "no network config found for binding {binding:?}"
            )));
        }
        let cidr = "192.0.2.0/24";
        let selected: Vec<(&str, Value)> = [
            ("bind-address", json!(ADDRESS)),
            ("ingress-address", json!(ADDRESS)),
            ("egress-subnets", json!([cidr])),
            ("primary-address", json!(ADDRESS)),
        ]
        .into_iter()
        .filter(|(k, _)| p.bool(k))
        .collect();
        let v = match selected.as_slice() {
            [] => json!({
                "bind-addresses": [{
                    "mac-address": "",
                    "interface-name": "eth0",
                    "addresses": [{"hostname": "", "value": ADDRESS, "cidr": cidr}],
                }],
                "egress-subnets": [cidr],
                "ingress-addresses": [ADDRESS],
            }),
            [(_, one)] => one.clone(),
            // Several single-value flags: a Go map keyed by flag name.
            many => sorted(&Value::Object(
                many.iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            )),
        };
        // The full answer is Juju's NetworkInfoResult struct: keys in field order.
        self.emit_struct(&p, "smart", v)
    }
}
