//! The restore aggregate: one restore of a backup into a site, step by step.
//!
//! The restore saga runs the steps in [`Step::plan`]'s order and records each as it finishes;
//! the aggregate refuses a step out of order, so the log says exactly how far a restore got
//! and how long each step took. A failure at any step is recorded once the target is back as
//! it was; the last step completes the restore.

mod error;
mod event;
#[cfg(test)]
mod tests;
mod values;

pub use error::RestoreError;
pub use event::RestoreEvent;
pub use values::{RestoreFailure, Step};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::backup::BackupKind;
use crate::ids::{BackupId, SiteId, TenantId};

/// What can be asked of a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestoreCommand {
    /// Restore `backup_id` (of kind `backup_kind`, taken of `source_site_id`) into
    /// `target_site_id`.
    Request {
        /// The backup.
        backup_id: BackupId,
        /// What it holds.
        backup_kind: BackupKind,
        /// The site it was taken of.
        source_site_id: SiteId,
        /// The site to restore into.
        target_site_id: SiteId,
        /// Their owner.
        tenant_id: TenantId,
        /// What to restore.
        what: BackupKind,
        /// The id the safety backup is to have.
        safety_backup_id: BackupId,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Record that `step` finished.
    RecordStep {
        /// The step.
        step: Step,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
        /// How long it took, in milliseconds.
        took_ms: u64,
    },
    /// Record that `step` failed and the target is as it was.
    RecordFailure {
        /// The step.
        step: Step,
        /// Why.
        reason: RestoreFailure,
        /// Why, for people.
        detail: String,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
}

/// A restore's state, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restore {
    request: Option<Requested>,
    done: Vec<Step>,
    over: bool,
    failed: bool,
}

/// What a restore was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {
    /// The backup.
    pub backup_id: BackupId,
    /// The site it was taken of.
    pub source_site_id: SiteId,
    /// The site restored into.
    pub target_site_id: SiteId,
    /// Their owner.
    pub tenant_id: TenantId,
    /// What is restored.
    pub what: BackupKind,
    /// The safety backup's id.
    pub safety_backup_id: BackupId,
}

impl Restore {
    /// What it was asked to do (`None`: never asked).
    pub fn request(&self) -> Option<&Requested> {
        self.request.as_ref()
    }

    /// The next step to run (`None` once over).
    pub fn next_step(&self) -> Option<Step> {
        let request = self.request.as_ref()?;
        if self.over {
            return None;
        }
        Step::plan(request.what).into_iter().find(|s| !self.done.contains(s))
    }

    /// The step that finished last.
    pub fn last_done(&self) -> Option<Step> {
        self.done.last().copied()
    }

    /// Whether it completed or failed.
    pub fn is_over(&self) -> bool {
        self.over
    }

    /// Whether it failed.
    pub fn failed(&self) -> bool {
        self.failed
    }
}

impl crate::aggregate::Consequences for Restore {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.request.as_ref().map(|r| r.tenant_id.as_uuid())
    }
}

fn decide(restore: &Restore, command: RestoreCommand) -> Result<Vec<RestoreEvent>, RestoreError> {
    match command {
        RestoreCommand::Request {
            backup_id,
            backup_kind,
            source_site_id,
            target_site_id,
            tenant_id,
            what,
            safety_backup_id,
            now,
        } => {
            if restore.request.is_some() {
                return Err(RestoreError::AlreadyExists);
            }
            if !backup_kind.covers(what) {
                return Err(RestoreError::not_in_backup(backup_kind, what));
            }
            Ok(vec![RestoreEvent::Requested {
                backup_id,
                source_site_id,
                target_site_id,
                tenant_id,
                what,
                safety_backup_id,
                requested_at: now,
            }])
        }
        RestoreCommand::RecordStep { step, now, took_ms } => {
            let Some(request) = &restore.request else { return Err(RestoreError::NotFound) };
            if restore.done.contains(&step) {
                return Ok(Vec::new());
            }
            if restore.over {
                return Err(RestoreError::Over);
            }
            let next = restore.next_step();
            if next != Some(step) {
                return Err(RestoreError::out_of_order(next, step));
            }
            let mut events = vec![RestoreEvent::StepCompleted { step, completed_at: now, took_ms }];
            if Step::plan(request.what).last() == Some(&step) {
                events.push(RestoreEvent::Completed { completed_at: now });
            }
            Ok(events)
        }
        RestoreCommand::RecordFailure { step, reason, detail, now } => {
            let Some(request) = &restore.request else { return Err(RestoreError::NotFound) };
            if restore.failed {
                return Ok(Vec::new());
            }
            if restore.over {
                return Err(RestoreError::Over);
            }
            Ok(vec![RestoreEvent::Failed {
                target_site_id: request.target_site_id,
                step,
                reason,
                detail,
                failed_at: now,
            }])
        }
    }
}

impl Aggregate for Restore {
    const TYPE: &'static str = "restore";
    type Command = RestoreCommand;
    type Event = RestoreEvent;
    type Error = RestoreError;
    type Services = ();

    async fn handle(
        &mut self,
        command: RestoreCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), RestoreError> {
        for event in decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: RestoreEvent) {
        match event {
            RestoreEvent::Requested {
                backup_id,
                source_site_id,
                target_site_id,
                tenant_id,
                what,
                safety_backup_id,
                ..
            } => {
                self.request = Some(Requested {
                    backup_id,
                    source_site_id,
                    target_site_id,
                    tenant_id,
                    what,
                    safety_backup_id,
                });
            }
            RestoreEvent::StepCompleted { step, .. } => self.done.push(step),
            RestoreEvent::Completed { .. } => self.over = true,
            RestoreEvent::Failed { .. } => {
                self.over = true;
                self.failed = true;
            }
        }
    }
}
