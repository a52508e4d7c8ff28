//! The backup failure notice: when a backup's last attempt fails (its failure names no next
//! attempt), the tenant's owners are mailed once for that backup, with the reason in words and
//! when the next scheduled backup is due. Attempts that are retried mail nobody.

use berth_domain::backup::{Backup, BackupEvent, BackupTrigger, FailureReason};
use berth_domain::backup_schedule::BackupSchedule;
use berth_domain::event::Event;
use berth_domain::ids::TenantId;
use berth_domain::site::Site;
use berth_eventstore::recorded::Recorded;
use serde_json::json;
use time::OffsetDateTime;

use crate::context::SagaContext;
use crate::mail::catalog::BACKUP_FAILED;
use crate::mail::{recipients, when, NoticeSettings, Notifier, OutgoingMail};
use crate::saga::{Outcome, Saga, Tuning};

/// The backup failure notice saga (consumes backup events).
pub struct BackupMail {
    notices: Notifier,
}

impl Saga for BackupMail {
    const NAME: &'static str = "backup_mail";
    const AGGREGATES: &'static [&'static str] = &["backup"];
    type Settings = NoticeSettings;

    fn build(context: &SagaContext, settings: &NoticeSettings) -> Self {
        Self { notices: Notifier::new(context, settings) }
    }

    fn tuning(settings: &NoticeSettings) -> Tuning {
        settings.tuning()
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(event.event, Event::Backup(BackupEvent::Failed { retry_at: None, .. }))
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Event::Backup(BackupEvent::Failed { attempt, reason, failed_at, retry_at: None, .. }) =
            &event.event
        else {
            return Outcome::Done;
        };
        if !self.notices.recent(event.recorded_at) {
            tracing::info!(backup_id = %event.aggregate_id, "failed too long ago to mail (sagas.backup_mail.max_age_hours)");
            return Outcome::Done;
        }
        match self.notice(event, *attempt, *reason, *failed_at).await {
            Ok(()) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }
}

impl BackupMail {
    #[tracing::instrument(skip_all, fields(backup_id = %event.aggregate_id))]
    async fn notice(
        &self,
        event: &Recorded,
        attempts: u32,
        reason: FailureReason,
        failed_at: OffsetDateTime,
    ) -> Result<(), Outcome> {
        let backup =
            self.notices.store.load::<Backup>(&event.aggregate_id).await.map_err(Outcome::later)?.aggregate;
        let Some(tenant) = backup.tenant_id().or(event.tenant_id.map(TenantId::from_uuid)) else {
            return Err(Outcome::Failed("the backup has no tenant".into()));
        };
        let site_id = backup.site_id().to_string();
        let site = self.notices.store.load::<Site>(&site_id).await.map_err(Outcome::later)?.aggregate;
        let site_name = site.domain().map_or_else(|| site_id.clone(), |d| d.as_str().to_owned());
        let schedule =
            self.notices.store.load::<BackupSchedule>(&site_id).await.map_err(Outcome::later)?.aggregate;
        let to = recipients::owner_emails(&self.notices.pool, tenant).await.map_err(Outcome::later)?;
        if to.is_empty() {
            return Err(Outcome::RetryLater(format!("no owner known for tenant {tenant}")));
        }
        let mail = OutgoingMail {
            key: format!("backup-failed:{}", event.aggregate_id),
            tenant_id: Some(tenant),
            to,
            template: BACKUP_FAILED,
            context: json!({
                "site": site_name,
                "trigger": trigger_words(backup.trigger()),
                "failed_at": when(failed_at),
                "attempts": attempts,
                "reason": reason_words(reason),
                "next_attempt": schedule.next_at().map(when),
            }),
            attachments: Vec::new(),
        };
        self.notices.queue(mail).await
    }
}

fn trigger_words(trigger: BackupTrigger) -> &'static str {
    match trigger {
        BackupTrigger::OnDemand => "requested",
        BackupTrigger::Scheduled => "scheduled",
        BackupTrigger::BeforeRestore => "pre-restore",
        BackupTrigger::BeforeDelete => "pre-deletion",
    }
}

fn reason_words(reason: FailureReason) -> &'static str {
    match reason {
        FailureReason::DiskFull => "the node ran out of disk space",
        FailureReason::DumpFailed => "the database dump failed or was incomplete",
        FailureReason::UploadFailed => "the upload to backup storage failed",
        FailureReason::ChecksumMismatch => "what was read back from storage did not match what was written",
        FailureReason::NodeUnreachable => "the node could not be reached",
    }
}
