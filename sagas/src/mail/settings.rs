//! `[mail]`: the SMTP server mail goes out through, who it comes from, where the operator's
//! templates are, and how hard a delivery is tried.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain SMTP (a local relay or a test sink only).
    None,
    /// STARTTLS, required (port 587).
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

/// Mail settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// The SMTP server's host name; empty: no server, mail waits in the outbox until one is set.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: TlsMode,
    /// The SMTP login; empty: none.
    pub username: String,
    /// Its password.
    pub password: SecretString,
    /// The address mail comes from.
    pub from_address: String,
    /// The name shown with it (and `sender_name` in every template).
    pub from_name: String,
    /// A directory whose files replace built-in templates of the same name; empty: none.
    pub templates_dir: String,
    /// Seconds one SMTP exchange may take.
    pub timeout_secs: u64,
    /// Attempts at one message before it is marked failed.
    pub max_attempts: u32,
    /// Seconds before the first retry; doubled for each failure after.
    pub backoff_base_secs: u64,
    /// The longest wait between two attempts, in seconds.
    pub backoff_max_secs: u64,
}

impl MailSettings {
    /// The operator's template directory, if one is set.
    pub fn templates_dir(&self) -> Option<PathBuf> {
        Some(self.templates_dir.trim()).filter(|d| !d.is_empty()).map(PathBuf::from)
    }

    /// How failed deliveries are retried.
    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            base: Duration::from_secs(self.backoff_base_secs.max(1)),
            max: Duration::from_secs(self.backoff_max_secs.max(self.backoff_base_secs).max(1)),
        }
    }
}

/// How failed deliveries are retried: exponential backoff up to a number of attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    /// The wait after the first failure.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl RetryPolicy {
    /// The wait after the `attempts`-th failed attempt (from 1).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << doublings).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_ceiling() {
        let policy =
            RetryPolicy { max_attempts: 8, base: Duration::from_secs(60), max: Duration::from_secs(600) };
        let waits: Vec<u64> = (1..=6).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [60, 120, 240, 480, 600, 600]);
    }
}
