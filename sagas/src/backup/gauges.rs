//! The missing-backup alert's gauges, from the log rather than from what one process saw.
//!
//! `berth_site_last_verified_backup_timestamp_seconds{site}` is set by the process that
//! verifies a backup and `berth_site_backup_interval_seconds{site}` by the one that starts a
//! site's schedule; a restarted process, or one that has verified nothing yet, exports neither,
//! and an alert on an absent series never fires — a site whose backups stopped would go unseen.
//! This worker exports both for every scheduled site every `interval_secs`, from the backups
//! view and the schedules: a site scheduled but never backed up counts from its schedule's
//! first due time minus one interval, so it is reported missing too.

use std::time::Duration;

use berth_domain::backup_schedule::BackupSchedule;
use berth_domain::plan::BackupFrequency;
use berth_eventstore::shutdown::pause;
use berth_eventstore::store::EventStore;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::context::SagaContext;
use crate::saga::Worker;

/// The gauge exporter (one per sagas process; the alert takes the largest value per site).
pub struct BackupGauges {
    store: EventStore,
    pool: PgPool,
    interval: Duration,
}

/// `[sagas.backup_gauges]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupGaugeSettings {
    /// Seconds between two exports.
    pub interval_secs: u64,
}

impl Default for BackupGaugeSettings {
    fn default() -> Self {
        Self { interval_secs: 60 }
    }
}

impl Worker for BackupGauges {
    const NAME: &'static str = "backup_gauges";
    type Settings = BackupGaugeSettings;

    fn build(context: &SagaContext, settings: &BackupGaugeSettings) -> Self {
        Self {
            store: context.store.clone(),
            pool: context.pool.clone(),
            interval: Duration::from_secs(settings.interval_secs.max(1)),
        }
    }

    async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            if let Err(error) = self.export().await {
                tracing::warn!(%error, "cannot export the backup gauges");
            }
            pause(&shutdown, self.interval).await;
        }
    }
}

impl BackupGauges {
    async fn export(&self) -> Result<(), berth_eventstore::error::StoreError> {
        // Every site not deleted, with its latest verified backup (pruned ones were verified
        // too); the schedule says whether and how often it is backed up.
        let rows: Vec<(Uuid, Option<OffsetDateTime>)> = sqlx::query_as(
            "SELECT s.id, (SELECT max(b.verified_at) FROM proj_backups.backups b WHERE b.site_id = s.id)
               FROM proj_sites.sites s WHERE s.status <> 'deleted'",
        )
        .fetch_all(&self.pool)
        .await?;
        for (site, verified_at) in rows {
            let schedule = self.store.load::<BackupSchedule>(&site.to_string()).await?.aggregate;
            let (Some(frequency), Some(next_at)) = (schedule.frequency(), schedule.next_at()) else {
                continue;
            };
            let every = match frequency {
                BackupFrequency::Hourly => 3600,
                BackupFrequency::Daily => 86_400,
            };
            let since = verified_at.unwrap_or(next_at - time::Duration::seconds(every));
            let label = site.to_string();
            #[allow(clippy::cast_precision_loss)] // seconds since 1970 fit an f64 exactly
            let (since, every) = (since.unix_timestamp() as f64, every as f64);
            metrics::gauge!("berth_site_last_verified_backup_timestamp_seconds", "site" => label.clone())
                .set(since);
            metrics::gauge!("berth_site_backup_interval_seconds", "site" => label).set(every);
        }
        Ok(())
    }
}
