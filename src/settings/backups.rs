//! `[backups]`: where backups are stored and how failed ones are tried again.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Backup settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// The S3-compatible endpoint (`https://s3.eu-central-1.amazonaws.com`, or a local
    /// `http://127.0.0.1:59000`); empty: no backups are taken (each attempt fails as
    /// `upload_failed`, so the alert says so).
    pub endpoint: String,
    /// The region.
    pub region: String,
    /// The bucket.
    pub bucket: String,
    /// The access key id.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: SecretString,
    /// The key prefix every object goes under; each tenant's objects go below it in a prefix
    /// of their own.
    pub prefix: String,
    /// Days a backup taken before a site is deleted is kept.
    pub keep_after_delete_days: u32,
    /// Attempts at one backup before it has failed for good.
    pub max_attempts: u32,
    /// Seconds before the first retry; doubled for each failure after.
    pub retry_base_secs: u64,
    /// The longest wait between two attempts, in seconds.
    pub retry_max_secs: u64,
    /// Retries of one storage request before it counts as failed.
    pub request_retries: usize,
    /// Seconds one storage request may keep retrying.
    pub request_timeout_secs: u64,
    /// MiB per part of a multipart upload (at least 5).
    pub part_size_mb: usize,
}

impl BackupSettings {
    /// The storage the sagas upload to, unless none is configured.
    pub fn storage(&self) -> Option<berth_sagas::backup::store::StorageConfig> {
        if self.endpoint.trim().is_empty() {
            return None;
        }
        Some(berth_sagas::backup::store::StorageConfig {
            endpoint: self.endpoint.trim().to_owned(),
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            access_key: self.access_key.clone(),
            secret_key: zeroize::Zeroizing::new(self.secret_key.expose_secret().to_owned()),
            prefix: self.prefix.clone(),
            retries: self.request_retries,
            retry_timeout: std::time::Duration::from_secs(self.request_timeout_secs.max(1)),
            part_size: self.part_size_mb.max(5) * 1024 * 1024,
        })
    }

    /// How the backups saga retries.
    pub fn policy(&self) -> berth_sagas::backup::BackupPolicy {
        berth_sagas::backup::BackupPolicy {
            max_attempts: self.max_attempts.max(1),
            retry_base: std::time::Duration::from_secs(self.retry_base_secs.max(1)),
            retry_max: std::time::Duration::from_secs(self.retry_max_secs.max(1)),
            keep_after_delete_days: self.keep_after_delete_days,
        }
    }
}
