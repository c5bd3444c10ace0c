//! Command-line parsing the way Juju's hook tools do it (`github.com/juju/gnuflag`, called with
//! interspersed arguments allowed): `--long`, `--long=value`, `--long value`, `-s`, `-s value`,
//! `-s=value`, `-svalue`, grouped short bools, `--` ends flags, and Go's `strconv.ParseBool`
//! spellings for boolean values.
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy)]
pub struct FlagDef {
    /// Canonical name used to look the value up.
    pub name: &'static str,
    /// Every spelling without dashes (one-letter names are short flags).
    pub aliases: &'static [&'static str],
    pub boolean: bool,
}

pub const fn flag(name: &'static str, aliases: &'static [&'static str], boolean: bool) -> FlagDef {
    FlagDef {
        name,
        aliases,
        boolean,
    }
}

/// A parsed command line: flag values keyed by canonical name (with the spelling used, for
/// error messages), and the positional arguments.
#[derive(Debug, Default)]
pub struct Parsed {
    pub values: BTreeMap<&'static str, (String, String)>,
    pub args: Vec<String>,
}

impl Parsed {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|(_, v)| v.as_str())
    }

    /// The spelling the caller used for a flag, e.g. `-r` or `--relation`.
    pub fn spelling(&self, name: &str) -> String {
        self.values
            .get(name)
            .map(|(s, _)| s.clone())
            .unwrap_or_else(|| format!("--{name}"))
    }

    pub fn bool(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn find<'a>(defs: &'a [FlagDef], name: &str) -> Option<&'a FlagDef> {
    defs.iter().find(|d| d.aliases.contains(&name))
}

/// Parses `args` (without argv[0]); errors are the text after `ERROR `.
pub fn parse(defs: &[FlagDef], args: &[String]) -> Result<Parsed, String> {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            p.args.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let spelled = format!("--{name}");
            let def = find(defs, name)
                .ok_or_else(|| format!("flag provided but not defined: {spelled}"))?;
            let value = take_value(def, &spelled, inline, args, &mut i)?;
            p.values.insert(def.name, (spelled, value));
        } else if a.len() > 1 && a.starts_with('-') {
            // Short flags, possibly grouped (`-ab`) or with an attached value (`-r7`, `-r=7`).
            let body = &a[1..];
            for (pos, c) in body.char_indices() {
                let name = c.to_string();
                let spelled = format!("-{name}");
                let def = find(defs, &name)
                    .ok_or_else(|| format!("flag provided but not defined: {spelled}"))?;
                let rest = &body[pos + c.len_utf8()..];
                if def.boolean {
                    if let Some(v) = rest.strip_prefix('=') {
                        let value = take_value(def, &spelled, Some(v.to_string()), args, &mut i)?;
                        p.values.insert(def.name, (spelled, value));
                        break;
                    }
                    p.values.insert(def.name, (spelled, "true".to_string()));
                    continue;
                }
                let inline = if rest.is_empty() {
                    None
                } else {
                    Some(rest.strip_prefix('=').unwrap_or(rest).to_string())
                };
                let value = take_value(def, &spelled, inline, args, &mut i)?;
                p.values.insert(def.name, (spelled, value));
                break;
            }
        } else {
            p.args.push(a.clone());
        }
    }
    Ok(p)
}

fn take_value(
    def: &FlagDef,
    spelled: &str,
    inline: Option<String>,
    args: &[String],
    i: &mut usize,
) -> Result<String, String> {
    if def.boolean {
        return match inline {
            None => Ok("true".to_string()),
            Some(v) => match parse_bool(&v) {
                Some(b) => Ok(b.to_string()),
                None => Err(format!(
                    "invalid value {v:?} for option {spelled}: strconv.ParseBool: parsing {v:?}: invalid syntax"
                )),
            },
        };
    }
    match inline {
        Some(v) => Ok(v),
        None => {
            let v = args
                .get(*i)
                .cloned()
                .ok_or_else(|| format!("flag needs an argument: {spelled}"))?;
            *i += 1;
            Ok(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFS: &[FlagDef] = &[
        flag("relation", &["r", "relation"], false),
        flag("app", &["app"], true),
        flag("format", &["format"], false),
        flag("all", &["a", "all"], true),
    ];

    fn p(args: &[&str]) -> Result<Parsed, String> {
        parse(
            DEFS,
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn value_forms() {
        for form in [
            vec!["-r", "7"],
            vec!["-r=7"],
            vec!["-r7"],
            vec!["--relation", "7"],
            vec!["--relation=7"],
        ] {
            let parsed = p(&form).unwrap();
            assert_eq!(parsed.get("relation"), Some("7"), "{form:?}");
        }
    }

    #[test]
    fn bools_interspersed_and_terminator() {
        let parsed = p(&["x", "--app=False", "-a", "y", "--", "--format", "-r"]).unwrap();
        assert!(!parsed.bool("app"));
        assert!(parsed.bool("all"));
        assert_eq!(parsed.args, ["x", "y", "--format", "-r"]);
        assert!(p(&["--app=True"]).unwrap().bool("app"));
        assert!(p(&["--app=1"]).unwrap().bool("app"));
        assert!(p(&["--app=maybe"]).is_err());
    }

    #[test]
    fn unknown_and_missing() {
        assert_eq!(p(&["-x"]).unwrap_err(), "flag provided but not defined: -x");
        assert_eq!(
            p(&["--bogus=1"]).unwrap_err(),
            "flag provided but not defined: --bogus"
        );
        assert_eq!(p(&["-r"]).unwrap_err(), "flag needs an argument: -r");
        // A lone dash is an argument (relation-get's "all keys").
        assert_eq!(p(&["-"]).unwrap().args, ["-"]);
    }
}
