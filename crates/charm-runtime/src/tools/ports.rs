//! Ports: `open-port`, `close-port`, `opened-ports`.

use std::fmt;

use super::{HookTools, ToolError, s};

/// A port protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `tcp`
    Tcp,
    /// `udp`
    Udp,
    /// `icmp` (no port number)
    Icmp,
}

/// A port or port range as `open-port`/`opened-ports` write it: `8080/tcp`,
/// `1000-2000/udp`, `icmp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    /// The protocol.
    pub protocol: Protocol,
    /// The (first) port; `None` for ICMP.
    pub port: Option<u16>,
    /// The last port of a range.
    pub to_port: Option<u16>,
}

impl Port {
    /// One TCP port.
    pub fn tcp(port: u16) -> Port {
        Port {
            protocol: Protocol::Tcp,
            port: Some(port),
            to_port: None,
        }
    }

    /// One UDP port.
    pub fn udp(port: u16) -> Port {
        Port {
            protocol: Protocol::Udp,
            port: Some(port),
            to_port: None,
        }
    }

    /// ICMP.
    pub fn icmp() -> Port {
        Port {
            protocol: Protocol::Icmp,
            port: None,
            to_port: None,
        }
    }

    /// Parse one entry of `opened-ports` (`icmp`, `80/tcp`, `8000-8999/udp`; a bare `80`
    /// is TCP).
    pub fn parse(text: &str) -> Option<Port> {
        if text == "icmp" {
            return Some(Port::icmp());
        }
        let (range, protocol) = match text.split_once('/') {
            Some((range, "tcp")) => (range, Protocol::Tcp),
            Some((range, "udp")) => (range, Protocol::Udp),
            Some(_) => return None,
            None => (text, Protocol::Tcp),
        };
        let (port, to_port) = match range.split_once('-') {
            Some((a, b)) => (a.parse().ok()?, Some(b.parse().ok()?)),
            None => (range.parse().ok()?, None),
        };
        Some(Port {
            protocol,
            port: Some(port),
            to_port,
        })
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Icmp => "icmp",
        };
        match (self.port, self.to_port) {
            (Some(p), Some(to)) => write!(f, "{p}-{to}/{protocol}"),
            (Some(p), None) => write!(f, "{p}/{protocol}"),
            (None, _) => f.write_str(protocol),
        }
    }
}

impl HookTools {
    /// `opened-ports --format=json` → the ports this unit has opened (committed state only).
    pub fn opened_ports(&self) -> Result<Vec<Port>, ToolError> {
        let tool = "opened-ports";
        let output = self.run(tool, vec![s("--format=json")], None)?;
        let decode = |source| ToolError::Decode {
            tool,
            output: output.clone(),
            source,
        };
        let entries: Option<Vec<String>> = serde_json::from_str(&output).map_err(decode)?;
        entries
            .unwrap_or_default()
            .iter()
            .map(|e| {
                Port::parse(e)
                    .ok_or_else(|| decode(serde::de::Error::custom(format!("bad port {e:?}"))))
            })
            .collect()
    }

    /// `open-port <port>` (e.g. `open-port 8080/tcp`, `open-port icmp`).
    pub fn open_port(&self, port: &Port) -> Result<(), ToolError> {
        self.run("open-port", vec![port.to_string()], None)
            .map(drop)
    }

    /// `close-port <port>`
    pub fn close_port(&self, port: &Port) -> Result<(), ToolError> {
        self.run("close-port", vec![port.to_string()], None)
            .map(drop)
    }
}
