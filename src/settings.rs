//! Typed, layered configuration: defaults, then an optional TOML file, then `BERTH_*`
//! environment variables (`BERTH_DATABASE__URL` sets `database.url`). It fails fast on a value
//! of the wrong type and warns about `BERTH_` variables it does not know.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;

mod backups;
mod console;
mod deploys;
mod dns;
mod telemetry;

pub use backups::BackupSettings;
pub use console::ConsoleSettings;
pub use deploys::DeploySettings;
pub use dns::DnsSettings;
pub use telemetry::TelemetrySettings;

/// Everything Berth can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// PostgreSQL.
    pub database: DatabaseSettings,
    /// NATS JetStream.
    pub nats: NatsSettings,
    /// The HTTP write side.
    pub command_api: CommandApiSettings,
    /// The HTTP read side.
    pub query_api: ApiSettings,
    /// Command execution.
    pub eventstore: EventStoreSettings,
    /// Logging.
    pub log: LogSettings,
    /// Rate limits.
    pub limits: LimitSettings,
    /// Sessions.
    pub auth: AuthSettings,
    /// Secrets Berth keeps for itself.
    pub secrets: SecretSettings,
    /// Managed nodes: SSH and verification, shared by every node saga.
    pub nodes: NodeSettings,
    /// Where "now" comes from.
    pub clock: ClockSettings,
    /// The projectors.
    pub projections: ProjectionSettings,
    /// The operational listener of a process without an API.
    pub telemetry: TelemetrySettings,
    /// Billing: the trial, payment terms, default plans, the seller and its series.
    pub billing: crate::billing::BillingSettings,
    /// The DNS server zones are put on, and the resolver names are looked up with.
    pub dns: DnsSettings,
    /// The payment provider (Stripe) cards are charged through, and its webhooks.
    pub payments: PaymentSettings,
    /// Outgoing mail: the SMTP server, the sender, the operator's templates, retries.
    pub mail: berth_sagas::mail::MailSettings,
    /// Where backups are stored, and how failed ones are tried again.
    pub backups: BackupSettings,
    /// How deployments fetch code from sites' repositories and limit builds.
    pub deploys: DeploySettings,
    /// The web console.
    pub console: ConsoleSettings,
    /// Each saga's and worker's own settings, `[sagas.<name>]`, checked against the saga
    /// registry at start (see `berth_sagas::registry`).
    #[serde(default)]
    pub sagas: BTreeMap<String, serde_json::Value>,
}

/// Projector settings, per projection and process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionSettings {
    /// Events read per batch transaction.
    pub batch_size: i64,
    /// Milliseconds a batch may spend applying events before it commits what it has: keeps
    /// each transaction (and so the feed's horizon) short even when a view is slow.
    pub batch_max_ms: u64,
    /// Milliseconds a caught-up projector waits after a commit wakes it, so that the commits
    /// of a burst are read together (a view's lag grows by at most this much).
    pub settle_ms: u64,
}

/// Clock settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    /// Seconds added to the system clock: for drills and test processes that must live at
    /// another time. Keep 0 in production.
    pub offset_secs: i64,
}

/// Payment settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    /// Stripe's API base URL (`https://api.stripe.com/`); empty: no card payments (invoices
    /// are paid by transfer, recorded by operators).
    pub stripe_url: String,
    /// The secret key (`sk_live_...`). Never logged.
    pub stripe_secret_key: SecretString,
    /// The webhook endpoint's signing secrets (`whsec_...`), comma-separated: during a
    /// rotation, the old and the new.
    pub webhook_secrets: SecretString,
    /// Seconds a webhook's signature timestamp may be from now.
    pub webhook_tolerance_secs: i64,
    /// Seconds one call to Stripe may take.
    pub timeout_secs: u64,
}

/// Secrets settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSettings {
    /// Base64 of 32 bytes: seals node SSH keys at rest. `berth secrets new-key` makes one.
    /// Required by the command API and the sagas; empty by default so nothing runs with a
    /// key from a file everyone can read.
    pub master_key: SecretString,
}

/// Node settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// Seconds to wait for an SSH connection.
    pub ssh_connect_timeout_secs: u64,
    /// Seconds a node script may run.
    pub ssh_command_timeout_secs: u64,
    /// Attempts per SSH command on transient failures.
    pub ssh_attempts: u32,
    /// First pause between attempts, in milliseconds; doubled each time.
    pub ssh_backoff_ms: u64,
    /// Seconds the verification step waits for the node to answer for a new site.
    pub verify_timeout_secs: u64,
}

/// Rate limits, per process.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Requests per minute per bearer token, on each API.
    pub api_per_minute: u32,
    /// Login, registration and invitation attempts per minute, per client address and per account.
    pub auth_per_minute: u32,
}

/// Session settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Hours a login session lasts.
    pub session_ttl_hours: u64,
    /// The issuer authenticator apps show next to a two-factor entry.
    pub totp_issuer: String,
    /// Failed logins for one account within `login_failure_window_secs` that make a burst
    /// (`berth_login_failure_bursts_total`, alert `BerthLoginFailuresHigh`).
    pub login_failure_burst: u32,
    /// The window for `login_failure_burst`.
    pub login_failure_window_secs: u64,
}

/// PostgreSQL settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:port/database`: the primary, which every write goes to.
    pub url: SecretString,
    /// A streaming replica the query API reads from; empty: it reads from `url`.
    pub read_url: SecretString,
    /// Pool size per process.
    pub max_connections: u32,
    /// Seconds to wait for a connection before answering "unavailable".
    pub acquire_timeout_secs: u64,
    /// PostgreSQL's `statement_timeout` on every connection, in milliseconds (0: none).
    pub statement_timeout_ms: u64,
    /// PostgreSQL's `idle_in_transaction_session_timeout` on every connection, in
    /// milliseconds (0: none): a process that stops inside a transaction (hung, stopped,
    /// partitioned) loses its session after this, so it cannot hold the feed's horizon.
    pub idle_in_transaction_timeout_ms: u64,
}

/// NATS settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSettings {
    /// `nats://host:port`, or a comma-separated list of a cluster's servers
    /// (`nats://a:4222,nats://b:4222`); `tls://` requires TLS, `user:password@` may be embedded.
    pub url: String,
    /// A `.creds` file (JWT and NKey seed) to authenticate with; empty: none.
    pub credentials_file: String,
    /// PEM file of the CA that signed the servers' certificates; empty: the system roots.
    pub tls_ca_file: String,
    /// PEM client certificate for mutual TLS; empty: none (needs `tls_key_file`).
    pub tls_cert_file: String,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: String,
    /// Require TLS with every server, whatever the URL's scheme.
    pub tls_required: bool,
    /// Seconds a process waits at start for any listed server to answer before giving up.
    pub connect_wait_secs: u64,
    /// Milliseconds the relay waits for a publish acknowledgement before publishing again
    /// (a stream whose leader died answers nothing until a new one is elected).
    pub ack_timeout_ms: u64,
    /// The JetStream stream events are published to.
    pub stream: String,
    /// The subject prefix: events go to `<prefix>.<tenant>.<aggregate_type>.<aggregate_id>`.
    pub subject_prefix: String,
    /// Stream replicas (3 on a cluster).
    pub replicas: usize,
    /// Seconds JetStream remembers a message id for deduplication.
    pub duplicate_window_secs: u64,
}

/// The command API's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandApiSettings {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Seconds an Idempotency-Key claim lasts without an answer before a retry may take it
    /// over (its request died with its process).
    pub idempotency_lapse_secs: u64,
    /// Whether changes of existing resources must carry `If-Match` (428 without it).
    pub require_if_match: bool,
    /// The URL clients reach this API at (`servers` in its OpenAPI document); empty: `http://`
    /// and the address it listens on.
    pub public_url: String,
}

/// The query API's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiSettings {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// The URL clients reach this API at (`servers` in its OpenAPI document, and the
    /// `Location` of every command's answer); empty: `http://` and the address it listens on.
    pub public_url: String,
}

/// Command execution settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventStoreSettings {
    /// Take a snapshot every this many events of an aggregate (0: never).
    pub snapshot_every: u32,
    /// Attempts at a command before answering with a conflict.
    pub max_attempts: u32,
    /// Milliseconds between feed polls when no notification arrives.
    pub poll_interval_ms: u64,
}

/// Logging settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `auto` (pretty on a terminal, JSON otherwise), `json` or `pretty`.
    pub format: String,
    /// An `EnvFilter` directive such as `info,berth=debug` (`RUST_LOG` wins if set).
    pub filter: String,
}

/// Every setting's default: `settings/defaults.toml`, also the list of known settings.
const DEFAULTS: &str = include_str!("settings/defaults.toml");

/// Every key that can be set, as `section.key`: the defaults' keys, and every saga's and
/// worker's from the saga registry (so no list has to be kept in step by hand).
fn known_keys() -> Vec<String> {
    let mut keys = Vec::new();
    let defaults = Config::builder()
        .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
        .build()
        .and_then(|c| c.try_deserialize::<BTreeMap<String, BTreeMap<String, config::Value>>>());
    if let Ok(sections) = defaults {
        for (section, table) in sections {
            keys.extend(table.keys().map(|key| format!("{section}.{key}")));
        }
    }
    keys.extend(berth_sagas::registry::known_keys());
    keys.extend(crate::billing::NESTED_KEYS.iter().map(|k| (*k).to_owned()));
    keys
}

/// Environment variables with the `BERTH_` prefix that are not settings.
const OTHER_VARIABLES: &[&str] = &["BERTH_CONFIG"];

impl Settings {
    /// Loads the settings: defaults, then `file` (if given), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, config::ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_from(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, config::ConfigError> {
        let vars: std::collections::HashMap<String, String> =
            vars.into_iter().filter(|(k, _)| k.starts_with("BERTH_")).collect();
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = file {
            builder = builder.add_source(File::from(path).required(true));
        }
        let environment = Environment::with_prefix("BERTH")
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .source(Some(
                vars.clone()
                    .into_iter()
                    // `BERTH_CONFIG` names the file; it is no setting of its own.
                    .filter(|(k, _)| !k.starts_with("BERTH_DEV_") && !OTHER_VARIABLES.contains(&k.as_str()))
                    .collect(),
            ));
        builder.add_source(environment).build()?.try_deserialize()
    }

    /// `BERTH_` variables that match no setting (likely misspelt).
    pub fn unknown_variables(vars: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        let known = known_keys();
        vars.into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with("BERTH_") && !k.starts_with("BERTH_DEV_"))
            .filter(|k| !OTHER_VARIABLES.contains(&k.as_str()))
            .filter(|k| {
                let key = k["BERTH_".len()..].to_lowercase().replace("__", ".");
                !known.contains(&key)
            })
            .collect()
    }

    /// Checks `[mail]`: the sender's address, TLS for the host, and every template in
    /// `templates_dir` (a broken one stops the start, naming its file); the templates to use.
    pub fn check_mail(&self) -> Result<berth_sagas::mail::templates::Templates, String> {
        berth_sagas::mail::smtp::check(&self.mail).map_err(|e| e.to_string())?;
        let dir = self.mail.templates_dir();
        berth_sagas::mail::templates::Templates::load(dir.as_deref(), self.mail.from_name.trim())
            .map_err(|e| format!("mail.templates_dir: {e}"))
    }

    /// Checks every `[sagas.<name>]` section against the saga registry: an unknown saga or a
    /// bad value stops the start, naming it.
    pub fn check_sagas(&self) -> Result<(), String> {
        let entries = berth_sagas::registry::all();
        for (name, section) in &self.sagas {
            let entry = entries.iter().find(|e| e.name == name).ok_or_else(|| {
                let known: Vec<&str> = entries.iter().map(|e| e.name).collect();
                format!("sagas.{name}: no such saga or worker; known: {}", known.join(", "))
            })?;
            entry.validate(Some(section))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
