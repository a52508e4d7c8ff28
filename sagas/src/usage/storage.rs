//! Each tenant's storage in use, from one round of samples and the backups view, exported as
//! `berth_storage_bytes{tenant,kind}` and recorded once a day as a `storage_gb` reading.
//!
//! Storage is billed on the peak of a period's readings, so the reading must hold everything
//! the tenant keeps at once: the files and databases of all its sites and its stored backups
//! (taken and not pruned). A tenant with a site on a node that did not answer this round is not
//! recorded from what the other nodes said; the next round tries again, and the day's key
//! (`storage:<date>`) makes the first complete reading of a day the only one.

use std::collections::{HashMap, HashSet};

use berth_domain::billing::Quantity;
use berth_domain::ids::{SiteId, SubscriptionId, TenantId};
use berth_domain::plan::Metric;
use berth_domain::sftp::{SftpAccounts, SftpCommand};
use berth_domain::subscription::Subscription;
use berth_domain::usage::{usage_command_id, Usage, UsageCommand, UsageKey};
use berth_eventstore::execute::ExecuteError;
use berth_eventstore::metadata::CommandMetadata;
use sqlx::PgPool;
use time::Date;
use uuid::Uuid;

use super::Samples;
use crate::node::NodeWork;

/// One tenant's storage, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantStorage {
    /// The files of its sites.
    pub site: u64,
    /// Their databases.
    pub database: u64,
    /// Its stored backups.
    pub backup: u64,
    /// Whether every node holding one of its sites answered.
    pub complete: bool,
}

impl TenantStorage {
    /// Everything together.
    pub fn total(&self) -> u64 {
        self.site.saturating_add(self.database).saturating_add(self.backup)
    }

    /// The total in GB (10^9 bytes) as a reading, in thousandths rounded up: a byte over is
    /// a thousandth more, never less than what is kept. Nothing kept is no reading.
    pub fn gigabytes(&self) -> Result<Quantity, berth_domain::billing::QuantityError> {
        let thousandths = self.total().div_ceil(1_000_000);
        Quantity::from_thousandths(i64::try_from(thousandths).unwrap_or(i64::MAX))
    }
}

/// Every tenant with a site or a stored backup, and what it keeps.
pub async fn totals(
    pool: &PgPool,
    samples: &Samples,
) -> Result<HashMap<TenantId, TenantStorage>, sqlx::Error> {
    let sites: Vec<(Uuid, Uuid, Option<Uuid>)> =
        sqlx::query_as("SELECT id, tenant_id, node_id FROM proj_sites.sites WHERE status <> 'deleted'")
            .fetch_all(pool)
            .await?;
    let backups: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT tenant_id, COALESCE(sum(size_bytes), 0)::bigint FROM proj_backups.backups
          WHERE status IN ('verifying', 'verified') AND size_bytes IS NOT NULL GROUP BY tenant_id",
    )
    .fetch_all(pool)
    .await?;
    let missing: HashSet<Uuid> = samples.missing.iter().map(|n| n.as_uuid()).collect();
    let mut totals: HashMap<TenantId, TenantStorage> = HashMap::new();
    for (site, tenant, node) in sites {
        let entry = totals
            .entry(TenantId::from_uuid(tenant))
            .or_insert(TenantStorage { complete: true, ..Default::default() });
        if node.is_some_and(|n| missing.contains(&n)) {
            entry.complete = false;
        }
        if let Some(usage) = samples.sites.get(&SiteId::from_uuid(site)) {
            entry.site = entry.site.saturating_add(usage.disk_bytes);
            entry.database = entry.database.saturating_add(usage.database_bytes);
        }
    }
    for (tenant, bytes) in backups {
        let entry = totals
            .entry(TenantId::from_uuid(tenant))
            .or_insert(TenantStorage { complete: true, ..Default::default() });
        entry.backup = u64::try_from(bytes).unwrap_or(0);
    }
    Ok(totals)
}

/// Sets `berth_storage_bytes{tenant,kind}` for every tenant.
#[expect(clippy::cast_precision_loss, reason = "byte counts below 2^53 are exact in an f64")]
pub fn export(totals: &HashMap<TenantId, TenantStorage>) {
    for (tenant, storage) in totals {
        let tenant = tenant.to_string();
        for (kind, bytes) in
            [("site", storage.site), ("database", storage.database), ("backup", storage.backup)]
        {
            metrics::gauge!("berth_storage_bytes", "tenant" => tenant.clone(), "kind" => kind)
                .set(bytes as f64);
        }
    }
}

/// Records `today`'s storage reading of every complete tenant with a running subscription.
pub async fn record(work: &NodeWork, totals: &HashMap<TenantId, TenantStorage>, today: Date) {
    for (tenant, storage) in totals.iter().filter(|(_, s)| s.complete && s.total() > 0) {
        if let Err(error) = record_one(work, *tenant, storage, today).await {
            tracing::warn!(%error, tenant = %tenant, "cannot record the day's storage reading");
        }
    }
}

/// Locks the SFTP uploads of every site with accounts whose tenant's storage in use is at or
/// past its plan's limit, and unlocks them once it is back under (the accounts' aggregate
/// decides, so an unchanged state appends nothing). A tenant not completely sampled this round
/// is left as it was.
pub async fn enforce(work: &NodeWork, totals: &HashMap<TenantId, TenantStorage>) {
    let sites: Vec<(Uuid, Uuid)> =
        match sqlx::query_as("SELECT DISTINCT site_id, tenant_id FROM proj_sftp_accounts.accounts")
            .fetch_all(&work.pool)
            .await
        {
            Ok(sites) => sites,
            Err(error) => {
                tracing::warn!(%error, "cannot list the sites with SFTP accounts");
                return;
            }
        };
    let mut limits: HashMap<TenantId, Option<u64>> = HashMap::new();
    for (site, tenant) in sites {
        let tenant = TenantId::from_uuid(tenant);
        let Some(storage) = totals.get(&tenant).filter(|s| s.complete) else { continue };
        let limit_bytes = match limits.get(&tenant) {
            Some(limit) => *limit,
            None => match storage_limit(work, tenant).await {
                Ok(limit) => *limits.entry(tenant).or_insert(limit),
                Err(error) => {
                    tracing::warn!(%error, tenant = %tenant, "cannot read the plan's storage limit");
                    continue;
                }
            },
        };
        // Every command leaves a command record, even one that changes nothing: only a site
        // whose lock is to change is asked (the aggregate still decides).
        let over = limit_bytes.is_some_and(|limit| storage.total() >= limit);
        match work.store.load::<SftpAccounts>(&site.to_string()).await {
            Ok(loaded) if loaded.aggregate.writes_locked() == over => continue,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, site_id = %site, "cannot read the site's SFTP accounts");
                continue;
            }
        }
        let command = SftpCommand::CheckStorage { used_bytes: storage.total(), limit_bytes };
        let meta = CommandMetadata::new(Some(tenant.as_uuid()), "saga:usage");
        match work.store.execute::<SftpAccounts>(&site.to_string(), command, &meta, work.retry).await {
            Ok(_) | Err(ExecuteError::Rejected(_)) => {}
            Err(error) => tracing::warn!(%error, site_id = %site, "cannot check the SFTP storage limit"),
        }
    }
}

/// The storage limit of the tenant's running plan, in bytes (`None`: unlimited, or no plan).
async fn storage_limit(work: &NodeWork, tenant: TenantId) -> Result<Option<u64>, RecordError> {
    let subscription: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM proj_subscriptions.subscriptions
          WHERE tenant_id = $1 AND status IN ('trialing', 'active') ORDER BY created_at DESC LIMIT 1",
    )
    .bind(tenant.as_uuid())
    .fetch_optional(&work.pool)
    .await?;
    let Some((id,)) = subscription else { return Ok(None) };
    let loaded = work.store.load::<Subscription>(&id.to_string()).await?.aggregate;
    Ok(loaded
        .plan()
        .filter(|_| loaded.is_running())
        .and_then(|plan| plan.limits.storage_gb.bound())
        .map(|gb| u64::from(gb) * 1_000_000_000))
}

#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error(transparent)]
    Store(#[from] berth_eventstore::error::StoreError),
    #[error(transparent)]
    View(#[from] sqlx::Error),
    #[error("the reading is refused: {0}")]
    Refused(String),
}

async fn record_one(
    work: &NodeWork,
    tenant: TenantId,
    storage: &TenantStorage,
    today: Date,
) -> Result<(), RecordError> {
    let subscription: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM proj_subscriptions.subscriptions
          WHERE tenant_id = $1 AND status IN ('trialing', 'active') ORDER BY created_at DESC LIMIT 1",
    )
    .bind(tenant.as_uuid())
    .fetch_optional(&work.pool)
    .await?;
    let Some((id,)) = subscription else { return Ok(()) };
    let id = SubscriptionId::from_uuid(id);
    let loaded = work.store.load::<Subscription>(&id.to_string()).await?.aggregate;
    let Some(period) = loaded.current_period().filter(|p| loaded.is_running() && p.contains(today)) else {
        // Between a period's end and the renewal that opens the next: the next round records.
        return Ok(());
    };
    let key =
        UsageKey::parse(&format!("storage:{today}")).map_err(|e| RecordError::Refused(e.to_string()))?;
    let quantity = storage.gigabytes().map_err(|e| RecordError::Refused(e.to_string()))?;
    let mut meta = CommandMetadata::new(Some(tenant.as_uuid()), "saga:usage");
    meta.command_id = usage_command_id(id, &key);
    meta.correlation_id = meta.command_id;
    let command = UsageCommand::Record {
        tenant_id: tenant,
        subscription_id: id,
        metric: Metric::StorageGb,
        quantity,
        period,
        key,
    };
    match work.store.execute::<Usage>(&id.to_string(), command, &meta, work.retry).await {
        Ok(_) => Ok(()),
        Err(ExecuteError::Rejected(refusal)) => Err(RecordError::Refused(refusal.to_string())),
        Err(error) => Err(RecordError::Refused(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_holds_files_databases_and_backups_rounded_up_to_a_thousandth_of_a_gb() {
        let storage = TenantStorage { site: 1_500_000_000, database: 250_000_000, backup: 1, complete: true };

        assert_eq!(storage.total(), 1_750_000_001);
        assert_eq!(storage.gigabytes().unwrap().thousandths(), 1_751);
        assert!(TenantStorage::default().gigabytes().is_err(), "nothing kept is no reading");
    }
}
