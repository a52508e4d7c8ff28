//! `[dns]`: the DNS server zones are put on, and the resolver names are looked up with.

use secrecy::SecretString;
use serde::Deserialize;

/// DNS settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSettings {
    /// PowerDNS's HTTP API (`http://127.0.0.1:8081`); empty: Berth serves no zones.
    pub api_url: String,
    /// Its `X-API-Key`.
    pub api_key: SecretString,
    /// The server id in the API's paths.
    pub server_id: String,
    /// The name servers new zones are delegated to, comma-separated.
    pub nameservers: String,
    /// The DNS server names are looked up with (`host:port`); empty: the first `nameserver`
    /// of `/etc/resolv.conf`.
    pub resolver: String,
}
