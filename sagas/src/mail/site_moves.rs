//! The mails about a site's node: moved to another node, lost with its node, restored after
//! it was lost. One mail per event to the tenant's owners, keyed by the event, so a redelivered
//! event or a retried step never sends a second one.

use berth_domain::backup::Backup;
use berth_domain::event::Event;
use berth_domain::ids::{BackupId, TenantId};
use berth_domain::site::{Site, SiteEvent};
use berth_eventstore::recorded::Recorded;
use serde_json::json;

use crate::context::SagaContext;
use crate::mail::catalog::{SITE_EVACUATED, SITE_LOST, SITE_RESTORED};
use crate::mail::{recipients, when, NoticeSettings, Notifier, OutgoingMail};
use crate::saga::{Outcome, Saga, Tuning};

/// The site move notice saga (consumes site events).
pub struct SiteMoveMail {
    notices: Notifier,
}

impl Saga for SiteMoveMail {
    const NAME: &'static str = "site_move_mail";
    const AGGREGATES: &'static [&'static str] = &["site"];
    type Settings = NoticeSettings;

    fn build(context: &SagaContext, settings: &NoticeSettings) -> Self {
        Self { notices: Notifier::new(context, settings) }
    }

    fn tuning(settings: &NoticeSettings) -> Tuning {
        settings.tuning()
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(event.event, Event::Site(SiteEvent::Evacuated { .. } | SiteEvent::Lost { .. }))
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        if !self.notices.recent(event.recorded_at) {
            return Outcome::Done;
        }
        match self.notice(event).await {
            Ok(()) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }
}

impl SiteMoveMail {
    async fn backup_at(&self, backup_id: Option<BackupId>) -> Result<Option<String>, Outcome> {
        let Some(id) = backup_id else { return Ok(None) };
        let backup =
            self.notices.store.load::<Backup>(&id.to_string()).await.map_err(Outcome::later)?.aggregate;
        Ok(backup.verified_at().map(when))
    }

    #[tracing::instrument(skip_all, fields(site_id = %event.aggregate_id))]
    async fn notice(&self, event: &Recorded) -> Result<(), Outcome> {
        let site =
            self.notices.store.load::<Site>(&event.aggregate_id).await.map_err(Outcome::later)?.aggregate;
        let (Some(domain), Some(tenant)) = (site.domain(), site.tenant_id()) else { return Ok(()) };
        let (template, context) = match &event.event {
            Event::Site(SiteEvent::Evacuated { was_lost, mode, backup_id, .. }) => {
                let backup_at = self.backup_at(*backup_id).await?;
                let from_backup = *mode == berth_domain::evacuation::EvacuationMode::FromBackup;
                let template = if *was_lost { SITE_RESTORED } else { SITE_EVACUATED };
                // Only a move from an earlier backup tells from when its content is.
                let backup_at = backup_at.filter(|_| from_backup || *was_lost);
                let context = json!({
                    "site": domain.as_str(),
                    "moved_at": when(event.recorded_at),
                    "backup_at": backup_at,
                });
                (template, context)
            }
            Event::Site(SiteEvent::Lost { latest_backup_at, .. }) => {
                let context = json!({
                    "site": domain.as_str(),
                    "lost_at": when(event.recorded_at),
                    "backup_at": latest_backup_at.map(when),
                });
                (SITE_LOST, context)
            }
            _ => return Ok(()),
        };
        self.send(event, tenant, template, context).await
    }

    async fn send(
        &self,
        event: &Recorded,
        tenant: TenantId,
        template: &'static str,
        context: serde_json::Value,
    ) -> Result<(), Outcome> {
        let to = recipients::owner_emails(&self.notices.pool, tenant).await.map_err(Outcome::later)?;
        if to.is_empty() {
            return Err(Outcome::RetryLater(format!("no owner known for tenant {tenant}")));
        }
        let mail = OutgoingMail {
            key: format!("{template}:{}", event.event_id),
            tenant_id: Some(tenant),
            to,
            template,
            context,
            attachments: Vec::new(),
        };
        self.notices.queue(mail).await
    }
}
