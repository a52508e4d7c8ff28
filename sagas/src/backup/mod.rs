//! Backups off the node: the chunked encryption of archives ([`crypt`]), the bucket they are
//! kept in ([`store`]), and taking, reading back and checking them ([`pipeline`]).
//!
//! Nodes hold no storage credentials: a node streams its archive over the SSH session it is
//! managed through, and the control plane seals and uploads it.

pub mod before_delete;
pub mod crypt;
pub mod gauges;
pub mod pipeline;
pub mod saga;
pub mod schedule;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;

/// How failed backups are tried again, and how long some are kept (`[backups]`).
#[derive(Debug, Clone, Copy)]
pub struct BackupPolicy {
    /// Attempts before a backup has failed for good.
    pub max_attempts: u32,
    /// The wait before the first retry; doubled for each failure after.
    pub retry_base: Duration,
    /// The longest wait between two attempts.
    pub retry_max: Duration,
    /// Days a backup taken before a site is deleted is kept.
    pub keep_after_delete_days: u32,
}

impl Default for BackupPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_base: Duration::from_secs(300),
            retry_max: Duration::from_secs(6 * 3600),
            keep_after_delete_days: 30,
        }
    }
}

impl BackupPolicy {
    /// The wait after failed attempt `attempt` (from 1), or `None` after the last one.
    pub fn retry_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let doubled = self.retry_base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        Some(doubled.min(self.retry_max.max(self.retry_base)))
    }
}

/// The bucket backups go to, as the sagas use it.
#[derive(Clone)]
pub struct BackupStorage {
    /// The store (S3, or a stand-in in tests).
    pub store: Arc<dyn ObjectStore>,
    /// The key prefix.
    pub prefix: String,
    /// Bytes per uploaded part.
    pub part_size: usize,
}

/// Backups as the sagas role runs them: the storage (none configured: every attempt fails as
/// `upload_failed`) and the retry policy.
#[derive(Clone, Default)]
pub struct Backups {
    /// Where they go.
    pub storage: Option<BackupStorage>,
    /// How they are retried.
    pub policy: BackupPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_the_cap_and_stop_after_the_last_attempt() {
        let policy = BackupPolicy {
            max_attempts: 4,
            retry_base: Duration::from_secs(60),
            retry_max: Duration::from_secs(150),
            keep_after_delete_days: 30,
        };
        assert_eq!(policy.retry_after(1), Some(Duration::from_secs(60)));
        assert_eq!(policy.retry_after(2), Some(Duration::from_secs(120)));
        assert_eq!(policy.retry_after(3), Some(Duration::from_secs(150)));
        assert_eq!(policy.retry_after(4), None);
    }
}
