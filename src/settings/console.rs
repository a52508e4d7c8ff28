//! `[console]`: the web console, served by a process that runs both APIs.

use serde::Deserialize;

/// Web console settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSettings {
    /// Where the console listens (`127.0.0.1:8090`); empty: no console. It serves the app at
    /// `/` and both APIs beside it, under `/api/command` and `/api/query`.
    pub addr: String,
    /// Whether browsers reach the console over HTTPS (TLS ending at a proxy in front): its
    /// cookies are then `Secure` and it sends `Strict-Transport-Security`.
    pub https: bool,
}
