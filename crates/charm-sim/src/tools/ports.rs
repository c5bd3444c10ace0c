//! open-port, close-port and opened-ports.
use serde_json::json;

use super::args::{check_empty, go_quote_list, parse};
use super::{FORMAT, OUTPUT, R, Tool, usage};
use crate::flags::flag;
use crate::world::Port;

impl Tool<'_> {
    pub(super) fn opened_ports(&self, args: &[String]) -> R<String> {
        let p = parse(
            &[FORMAT, OUTPUT, flag("endpoints", &["endpoints"], true)],
            args,
        )?;
        check_empty(&p.args)?;
        let suffix = if p.bool("endpoints") { " (*)" } else { "" };
        let ports: Vec<String> = self
            .w
            .ports
            .iter()
            .map(|port| format!("{port}{suffix}"))
            .collect();
        self.emit(&p, "smart", json!(ports))
    }

    pub(super) fn port(&mut self, args: &[String], open: bool) -> R<String> {
        let p = parse(&[flag("endpoints", &["endpoints"], false), FORMAT], args)?;
        let spec = match p.args.as_slice() {
            [s] => s.clone(),
            [] => return Err(usage("no port or range specified")),
            [_, rest @ ..] => {
                return Err(usage(format!("unrecognized args: {}", go_quote_list(rest))));
            }
        };
        let port = parse_port(&spec).map_err(usage)?;
        self.ctx_mut()?.pending.ports.push((open, port));
        Ok(String::new())
    }
}

fn parse_port(spec: &str) -> Result<Port, String> {
    if spec == "icmp" {
        return Ok(Port::Icmp);
    }
    let (range, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
    if !["tcp", "udp"].contains(&protocol) {
        return Err(format!(
            "invalid protocol {protocol:?}, expected \"tcp\", \"udp\", or \"icmp\""
        ));
    }
    let num = |s: &str| -> Result<u16, String> {
        s.parse::<u16>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("invalid port {spec:?}"))
    };
    let (from, to) = match range.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(range)?;
            (n, n)
        }
    };
    if from > to {
        return Err(format!("invalid port range {spec:?}"));
    }
    Ok(Port::Range {
        protocol: protocol.to_string(),
        from,
        to,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("8080/tcp").unwrap().to_string(), "8080/tcp");
        assert_eq!(parse_port("8080").unwrap().to_string(), "8080/tcp");
        assert_eq!(
            parse_port("1000-2000/udp").unwrap().to_string(),
            "1000-2000/udp"
        );
        assert_eq!(parse_port("icmp").unwrap(), Port::Icmp);
        assert!(parse_port("80/sctp").is_err());
        assert!(parse_port("0").is_err());
    }
}
