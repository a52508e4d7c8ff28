//! The backup taken before a site is deleted, kept for `backups.keep_after_delete_days`.
//!
//! The deletion step asks for it and waits (its event is delivered again, with backoff) while
//! it is being taken; once it verified, or failed, the deletion goes on. A backup that keeps
//! failing must not keep the site alive: its failure is recorded, and is what the alert sees.

use berth_domain::backup::{Backup, BackupCommand, BackupKind, BackupTrigger, Status};
use berth_domain::ids::{BackupId, SiteId};
use berth_domain::site::Site;
use berth_eventstore::clock::Clock;
use berth_eventstore::recorded::Recorded;

use super::Backups;
use crate::node::{saga_metadata, NodeWork};
use crate::outcome::{step, Step};
use crate::saga::Outcome;

/// The id of the backup taken before `site` is deleted.
pub fn backup_id(site: SiteId) -> BackupId {
    let name = format!("before-delete:{site}");
    BackupId::from_uuid(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()))
}

/// Asks for the site's before-delete backup, and says to come back while it is under way.
pub async fn ensure(
    work: &NodeWork,
    backups: &Backups,
    clock: &dyn Clock,
    event: &Recorded,
    site_id: SiteId,
    site: &Site,
) -> Step<()> {
    let (Some(_), Some(tenant_id), Some(_)) = (&backups.storage, site.tenant_id(), site.node()) else {
        return Ok(());
    };
    let id = backup_id(site_id);
    let backup = work.store.load::<Backup>(&id.to_string()).await.map_err(Outcome::later)?.aggregate;
    match backup.status() {
        None => {
            let now = clock.now();
            let keep = time::Duration::days(i64::from(backups.policy.keep_after_delete_days));
            let command = BackupCommand::Request {
                site_id,
                tenant_id,
                kind: BackupKind::Full,
                trigger: BackupTrigger::BeforeDelete,
                note: Some("taken before the site was deleted".to_owned()),
                now,
                keep_until: Some(now + keep),
                restore_id: None,
            };
            let meta = saga_metadata(event, "provisioning", "before-delete-backup");
            step(work.record::<Backup>(&id.to_string(), command, &meta).await)?;
            Err(Outcome::later("waiting for the backup taken before deletion"))
        }
        Some(Status::Taking | Status::Verifying) => {
            Err(Outcome::later("waiting for the backup taken before deletion"))
        }
        Some(_) => Ok(()),
    }
}
