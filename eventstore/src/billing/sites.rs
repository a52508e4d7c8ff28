//! Creating a site within its plan's limit: the site's `Created` and the tenant's site quota's
//! `SiteAdmitted` in one commit. The quota is decided as loaded, so two creations racing for
//! the plan's last place race on its version: the loser is decided again on the new count and
//! refused (`plan-limit`), and no creation can slip past the limit.

use berth_domain::ids::{SiteId, TenantId};
use berth_domain::site::{Site, SiteCommand};
use berth_domain::site_quota::{SiteQuota, SiteQuotaCommand};
use berth_domain::subscription::SiteAllowance;
use cqrs_es::Aggregate;
use tracing::instrument;

use super::{already_done, running_subscription, Attempt, BillingError};
use crate::execute::{backoff, CommandOutcome, RetryPolicy};
use crate::metadata::CommandMetadata;
use crate::store::EventStore;
use crate::unit_of_work::UnitOfWork;

/// Runs `command` (a `SiteCommand::Create` for `site_id` of `tenant`) if the tenant's running
/// subscription leaves room for one more site; the outcome is the site's.
#[instrument(skip_all, fields(site_id = %site_id, command_id = %metadata.command_id))]
pub async fn create_site(
    store: &EventStore,
    tenant: TenantId,
    site_id: SiteId,
    command: SiteCommand,
    metadata: &CommandMetadata,
    retry: RetryPolicy,
) -> Result<CommandOutcome, BillingError> {
    let id = site_id.to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_create(store, tenant, site_id, command.clone(), metadata).await {
            Ok(outcome) => return Ok(outcome),
            Err(Attempt::Lost) if attempt < retry.max_attempts => {
                tokio::time::sleep(backoff(retry.base_delay, attempt)).await;
            }
            Err(Attempt::Lost) => return Err(BillingError::Conflict { attempts: attempt }),
            Err(Attempt::Failed(BillingError::Rejected(refused))) => {
                // A repeat of a creation that succeeded is refused by the site that exists.
                return match already_done(store, metadata, Site::TYPE, &id).await? {
                    Some(version) => Ok(CommandOutcome { version, events: 0, duplicate: true }),
                    None => Err(BillingError::Rejected(refused)),
                };
            }
            Err(Attempt::Failed(error)) => return Err(error),
        }
    }
}

async fn try_create(
    store: &EventStore,
    tenant: TenantId,
    site_id: SiteId,
    command: SiteCommand,
    metadata: &CommandMetadata,
) -> Result<CommandOutcome, Attempt> {
    let subscription = running_subscription(store, tenant).await?;
    let allowance = SiteAllowance::of(subscription.as_ref().map(|(_, s)| s));
    let quota = store.load::<SiteQuota>(&tenant.to_string()).await?;
    let mut unit = UnitOfWork::new(store);
    // The site first: the outcome (and the answer's version) is the site's.
    unit.decide::<Site>(&site_id.to_string(), command).await?;
    let admit = SiteQuotaCommand::Admit { tenant_id: tenant, site_id, allowance };
    unit.decide_loaded::<SiteQuota>(&tenant.to_string(), quota, admit).await?;
    Ok(unit.commit(metadata).await?)
}
