//! The backup schedule aggregate: when a site's next scheduled backup is due, keyed by the
//! site's id.
//!
//! It starts when the site goes live, with its plan's frequency and retention; each firing of
//! its durable timer records the backup as due and schedules the next one. The backups saga
//! takes the backup and prunes what the plan no longer keeps. It stops when the site goes.

#[cfg(test)]
mod tests;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Refusal, RefusalKind};
use crate::ids::{SiteId, TenantId};
use crate::plan::{BackupFrequency, GfsKeep};
use crate::timer::{TimerChange, TimerKey};

/// What can be asked of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduleCommand {
    /// Back up `site_id` every `frequency`, keeping `keep` (a repeat with the same terms
    /// changes nothing; other terms replace the old ones from the next firing on).
    Start {
        /// The site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// How often.
        frequency: BackupFrequency,
        /// What retention keeps.
        keep: GfsKeep,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// The timer's command: the backup due at `due` is due.
    Fire {
        /// When it was due.
        #[serde(with = "time::serde::rfc3339")]
        due: OffsetDateTime,
    },
    /// The site is gone: no more scheduled backups.
    Stop,
}

/// Something that happened to a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduleEvent {
    /// Scheduled backups start (or their terms changed); the next is due at `next_at`.
    Started {
        /// The site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// How often.
        frequency: BackupFrequency,
        /// What retention keeps.
        keep: GfsKeep,
        /// When the next backup is due.
        #[serde(with = "time::serde::rfc3339")]
        next_at: OffsetDateTime,
    },
    /// The backup due at `due` is due; the one after at `next_at`.
    Due {
        /// When it was due.
        #[serde(with = "time::serde::rfc3339")]
        due: OffsetDateTime,
        /// When the next is due.
        #[serde(with = "time::serde::rfc3339")]
        next_at: OffsetDateTime,
    },
    /// No more scheduled backups.
    Stopped {
        /// The due time whose timer is cancelled.
        #[serde(with = "time::serde::rfc3339::option")]
        next_at: Option<OffsetDateTime>,
    },
}

impl DomainEvent for ScheduleEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Started { .. } => "BackupScheduleStarted",
            Self::Due { .. } => "BackupScheduleDue",
            Self::Stopped { .. } => "BackupScheduleStopped",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for ScheduleEvent {}

/// A schedule command that does not fit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The schedule was never started.
    #[error("the site has no backup schedule")]
    NotFound,
}

impl Refusal for ScheduleError {
    fn code(&self) -> &'static str {
        "backup-schedule-not-found"
    }

    fn kind(&self) -> RefusalKind {
        RefusalKind::NotFound
    }
}

/// A schedule's state, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSchedule {
    site_id: Option<SiteId>,
    tenant_id: Option<TenantId>,
    frequency: Option<BackupFrequency>,
    keep: GfsKeep,
    #[serde(with = "time::serde::rfc3339::option")]
    next_at: Option<OffsetDateTime>,
    stopped: bool,
}

impl BackupSchedule {
    /// What retention keeps for the site.
    pub fn keep(&self) -> GfsKeep {
        self.keep
    }

    /// How often the site is backed up (`None` once stopped or before it started).
    pub fn frequency(&self) -> Option<BackupFrequency> {
        self.frequency.filter(|_| !self.stopped)
    }

    /// When the next backup is due (`None` once stopped or before it started).
    pub fn next_at(&self) -> Option<OffsetDateTime> {
        self.next_at.filter(|_| !self.stopped)
    }
}

/// How long after `at` the next backup of `frequency` is due.
pub fn after(at: OffsetDateTime, frequency: BackupFrequency) -> OffsetDateTime {
    match frequency {
        BackupFrequency::Hourly => at + time::Duration::HOUR,
        BackupFrequency::Daily => at + time::Duration::DAY,
    }
}

/// The schedule timer of site `id` for the backup due at `due`. One key per due time: the
/// firing of one records the next, and a timer cannot be moved by its own firing.
pub fn timer(id: &str, due: OffsetDateTime) -> TimerKey {
    let key = format!("backup-schedule:{id}:{}", due.unix_timestamp());
    TimerKey::parse(&key).unwrap_or_else(|_| {
        TimerKey::for_id("backup-schedule", uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, key.as_bytes()))
    })
}

fn decide(schedule: &BackupSchedule, command: ScheduleCommand) -> Result<Vec<ScheduleEvent>, ScheduleError> {
    match command {
        ScheduleCommand::Start { site_id, tenant_id, frequency, keep, now } => {
            let same = !schedule.stopped && schedule.frequency == Some(frequency) && schedule.keep == keep;
            if same || schedule.stopped {
                return Ok(Vec::new());
            }
            let next_at = schedule
                .next_at
                .filter(|_| schedule.frequency == Some(frequency))
                .unwrap_or(after(now, frequency));
            Ok(vec![ScheduleEvent::Started { site_id, tenant_id, frequency, keep, next_at }])
        }
        ScheduleCommand::Fire { due } => {
            let Some(frequency) = schedule.frequency else { return Err(ScheduleError::NotFound) };
            if schedule.stopped || schedule.next_at != Some(due) {
                return Ok(Vec::new());
            }
            Ok(vec![ScheduleEvent::Due { due, next_at: after(due, frequency) }])
        }
        ScheduleCommand::Stop => Ok(if schedule.stopped || schedule.frequency.is_none() {
            Vec::new()
        } else {
            vec![ScheduleEvent::Stopped { next_at: schedule.next_at }]
        }),
    }
}

impl crate::aggregate::Consequences for BackupSchedule {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }

    fn timers(id: &str, event: &ScheduleEvent) -> Vec<TimerChange<ScheduleCommand>> {
        match event {
            ScheduleEvent::Started { next_at, .. } | ScheduleEvent::Due { next_at, .. } => {
                vec![TimerChange::Schedule {
                    key: timer(id, *next_at),
                    due_at: *next_at,
                    command: ScheduleCommand::Fire { due: *next_at },
                }]
            }
            ScheduleEvent::Stopped { next_at } => {
                next_at.iter().map(|at| TimerChange::Cancel { key: timer(id, *at) }).collect()
            }
        }
    }
}

impl Aggregate for BackupSchedule {
    const TYPE: &'static str = "backup_schedule";
    type Command = ScheduleCommand;
    type Event = ScheduleEvent;
    type Error = ScheduleError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ScheduleCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ScheduleError> {
        for event in decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ScheduleEvent) {
        match event {
            ScheduleEvent::Started { site_id, tenant_id, frequency, keep, next_at } => {
                self.site_id = Some(site_id);
                self.tenant_id = Some(tenant_id);
                self.frequency = Some(frequency);
                self.keep = keep;
                self.next_at = Some(next_at);
            }
            ScheduleEvent::Due { next_at, .. } => self.next_at = Some(next_at),
            ScheduleEvent::Stopped { .. } => self.stopped = true,
        }
    }
}
