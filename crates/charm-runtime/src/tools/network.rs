//! `network-get`.

use serde::Deserialize;

use super::{HookTools, ToolError, s};

/// One address of a network interface (`network-get`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NetworkAddress {
    /// The hostname, often empty.
    #[serde(default)]
    pub hostname: String,
    /// The IP address.
    #[serde(default)]
    pub value: String,
    /// The CIDR of its subnet.
    #[serde(default)]
    pub cidr: String,
}

/// One bound interface (`network-get`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BindAddress {
    /// MAC address (may be empty).
    #[serde(default, rename = "mac-address")]
    pub mac_address: String,
    /// Interface name.
    #[serde(default, rename = "interface-name")]
    pub interface_name: String,
    /// Its addresses.
    #[serde(default)]
    pub addresses: Vec<NetworkAddress>,
}

/// `network-get` for one binding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Network {
    /// Bound interfaces.
    #[serde(default, rename = "bind-addresses")]
    pub bind_addresses: Vec<BindAddress>,
    /// Egress subnets (CIDRs).
    #[serde(default, rename = "egress-subnets")]
    pub egress_subnets: Vec<String>,
    /// Ingress addresses.
    #[serde(default, rename = "ingress-addresses")]
    pub ingress_addresses: Vec<String>,
}

impl HookTools {
    /// `network-get --format=json [-r <id>] <binding>` (ops passes the bare id here).
    pub fn network_get(
        &self,
        binding: &str,
        relation_id: Option<u64>,
    ) -> Result<Network, ToolError> {
        let mut args = vec![s("--format=json")];
        if let Some(id) = relation_id {
            args.extend([s("-r"), id.to_string()]);
        }
        args.push(s(binding));
        self.run_json("network-get", args)
    }
}
