//! status-set, status-get and application-version-set.
use serde_json::{Value, json};

use super::args::{check_empty, go_quote_list, parse};
use super::{FORMAT, OUTPUT, R, Tool, runtime, usage};
use crate::flags::flag;
use crate::world::Status;

impl Tool<'_> {
    pub(super) fn status_set(&mut self, args: &[String]) -> R<String> {
        let p = parse(&[flag("application", &["application"], true)], args)?;
        let (status, message) = match p.args.as_slice() {
            [] => return Err(usage("invalid args, require <status> [message]")),
            [s] => (s.clone(), String::new()),
            [s, m] => (s.clone(), m.clone()),
            [_, _, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        if !["maintenance", "blocked", "waiting", "active"].contains(&status.as_str()) {
            return Err(usage(format!(
                "invalid status {status:?}, expected one of [maintenance blocked waiting active]"
            )));
        }
        let st = Some(Status { status, message });
        if p.bool("application") {
            if !self.w.leader {
                return Err(runtime("this unit is not the leader"));
            }
            self.w.app_status = st;
        } else {
            self.w.unit_status = st;
        }
        Ok(String::new())
    }

    pub(super) fn status_get(&self, args: &[String]) -> R<String> {
        let p = parse(
            &[
                FORMAT,
                OUTPUT,
                flag("application", &["application"], true),
                flag("include-data", &["include-data"], true),
            ],
            args,
        )?;
        check_empty(&p.args)?;
        let data = p.bool("include-data");
        let details = |s: &Option<Status>| -> Value {
            let (status, message) = s
                .as_ref()
                .map_or(("unknown", ""), |s| (s.status.as_str(), s.message.as_str()));
            if data {
                json!({"message": message, "status": status, "status-data": {}})
            } else {
                json!({"status": status})
            }
        };
        // Juju (jujuc status-get.go): without --include-data the smart format prints only
        // the status word; json/yaml print the map.
        let bare = !data && p.get("format").unwrap_or("smart") == "smart";
        if p.bool("application") {
            if !self.w.leader {
                return Err(runtime(
                    "finding application status: this unit is not the leader",
                ));
            }
            let mut app = details(&self.w.app_status);
            if bare {
                return self.emit(&p, "smart", app["status"].clone());
            }
            if let Value::Object(m) = &mut app {
                m.insert(
                    "units".into(),
                    json!({ self.w.unit.clone(): details(&self.w.unit_status) }),
                );
            }
            return self.emit(&p, "smart", json!({"application-status": app}));
        }
        let v = details(&self.w.unit_status);
        if bare {
            self.emit(&p, "smart", v["status"].clone())
        } else {
            self.emit(&p, "smart", v)
        }
    }

    pub(super) fn application_version_set(&mut self, args: &[String]) -> R<String> {
        let p = parse(&[], args)?;
        match p.args.as_slice() {
            [v] => {
                self.w.workload_version = Some(v.clone());
                Ok(String::new())
            }
            [] => Err(usage("no version specified")),
            [_, rest @ ..] => Err(usage(format!("unrecognized args: {}", go_quote_list(rest)))),
        }
    }
}
