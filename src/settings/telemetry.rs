//! `[telemetry]`: where a process without an API serves `/metrics`, and the operators' own
//! `/metrics` listener with the cost and capacity series.

use std::net::SocketAddr;

use secrecy::SecretString;
use serde::Deserialize;

/// Telemetry settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// Where a process without an API (`berth relay`, `projections`, `sagas`) serves
    /// `/metrics`, `/healthz` and `/readyz`; an API process serves them on its API.
    pub addr: SocketAddr,
    /// Where the operators' `/metrics` listener binds (`127.0.0.1:9465`); empty: none, and
    /// the cost and capacity series are on every `/metrics`. With one, they are only there:
    /// revenue and margin per tenant are for operators, not for whoever may scrape an API.
    pub operator_addr: String,
    /// The bearer token the operators' listener asks for; empty: it asks for none.
    pub operator_token: SecretString,
    /// Seconds the cost and capacity series are kept before they are computed again from
    /// the views (0: at every scrape).
    pub cost_cache_secs: u64,
}
