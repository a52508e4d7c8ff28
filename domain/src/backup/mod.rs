//! The backup aggregate: one backup of one site, from the request to a verified object in
//! storage (or a failure with its reason), and on to its pruning.
//!
//! A backup counts only once it is verified: the object is read back, its size and SHA-256
//! match the manifest, and its dump restores. Each failed attempt is an event with a typed
//! reason; the next attempt waits on a durable timer. [`retention`] decides, as a pure
//! function, which verified backups the plan keeps.

mod command;
mod error;
mod event;
pub mod retention;
#[cfg(test)]
mod tests;
mod values;

pub use command::{BackupCommand, MAX_NOTE};
pub use error::BackupError;
pub use event::BackupEvent;
pub use values::{BackupKind, BackupTrigger, FailureReason, Manifest, Sha256Hex, Sha256HexError};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{RestoreId, SiteId, TenantId};
use crate::timer::{TimerChange, TimerKey};

/// Where a backup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// An attempt is archiving and uploading.
    Taking,
    /// Stored; being read back and checked.
    Verifying,
    /// Checked: it counts.
    Verified,
    /// The last attempt failed; another is due.
    Failed,
    /// Every attempt failed.
    Abandoned,
    /// Its object is deleted.
    Pruned,
}

impl Status {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Taking => "taking",
            Self::Verifying => "verifying",
            Self::Verified => "verified",
            Self::Failed => "failed",
            Self::Abandoned => "abandoned",
            Self::Pruned => "pruned",
        }
    }
}

/// A backup's state, rebuilt from its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backup {
    site_id: SiteId,
    tenant_id: Option<TenantId>,
    kind: BackupKind,
    trigger: BackupTrigger,
    status: Option<Status>,
    attempt: u32,
    manifest: Option<Manifest>,
    #[serde(with = "time::serde::rfc3339::option")]
    verified_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    keep_until: Option<OffsetDateTime>,
    restore_id: Option<RestoreId>,
}

impl Default for Backup {
    fn default() -> Self {
        Self {
            site_id: SiteId::from_uuid(uuid::Uuid::nil()),
            tenant_id: None,
            kind: BackupKind::Full,
            trigger: BackupTrigger::OnDemand,
            status: None,
            attempt: 0,
            manifest: None,
            verified_at: None,
            keep_until: None,
            restore_id: None,
        }
    }
}

impl Backup {
    /// Where it is (`None`: never requested).
    pub fn status(&self) -> Option<Status> {
        self.status
    }

    /// The site it is of.
    pub fn site_id(&self) -> SiteId {
        self.site_id
    }

    /// The tenant it belongs to.
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.tenant_id
    }

    /// What it holds.
    pub fn kind(&self) -> BackupKind {
        self.kind
    }

    /// Why it was taken.
    pub fn trigger(&self) -> BackupTrigger {
        self.trigger
    }

    /// The attempt under way or last made.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// What was last stored.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.manifest.as_ref()
    }

    /// When it was verified.
    pub fn verified_at(&self) -> Option<OffsetDateTime> {
        self.verified_at
    }

    /// Until when it is kept whatever retention says.
    pub fn keep_until(&self) -> Option<OffsetDateTime> {
        self.keep_until
    }

    /// The restore it is the safety backup of.
    pub fn restore_id(&self) -> Option<RestoreId> {
        self.restore_id
    }
}

const RETRY: &str = "backup-retry";
const HOLD: &str = "backup-hold";

/// The retry timer of backup `id`.
pub fn retry_timer(id: &str) -> TimerKey {
    key(RETRY, id)
}

/// The timer that ends backup `id`'s hold (`keep_until`).
pub fn hold_timer(id: &str) -> TimerKey {
    key(HOLD, id)
}

fn key(purpose: &'static str, id: &str) -> TimerKey {
    TimerKey::parse(&format!("{purpose}:{id}")).unwrap_or_else(|_| {
        TimerKey::for_id(purpose, uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, id.as_bytes()))
    })
}

impl crate::aggregate::Consequences for Backup {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }

    fn timers(id: &str, event: &BackupEvent) -> Vec<TimerChange<BackupCommand>> {
        match event {
            BackupEvent::Failed { attempt, retry_at: Some(at), .. } => vec![TimerChange::Schedule {
                key: retry_timer(id),
                due_at: *at,
                command: BackupCommand::Retry { attempt: *attempt },
            }],
            BackupEvent::Requested { keep_until: Some(until), .. } => vec![TimerChange::Schedule {
                key: hold_timer(id),
                due_at: *until,
                command: BackupCommand::EndHold { at: *until },
            }],
            BackupEvent::Pruned { .. } => vec![TimerChange::Cancel { key: retry_timer(id) }],
            _ => Vec::new(),
        }
    }
}

impl Aggregate for Backup {
    const TYPE: &'static str = "backup";
    type Command = BackupCommand;
    type Event = BackupEvent;
    type Error = BackupError;
    type Services = ();

    async fn handle(
        &mut self,
        command: BackupCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), BackupError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: BackupEvent) {
        match event {
            BackupEvent::Requested { site_id, tenant_id, kind, trigger, keep_until, restore_id, .. } => {
                self.restore_id = restore_id;
                self.site_id = site_id;
                self.tenant_id = Some(tenant_id);
                self.kind = kind;
                self.trigger = trigger;
                self.keep_until = keep_until;
                self.attempt = 1;
                self.status = Some(Status::Taking);
            }
            BackupEvent::Taken { manifest, .. } => {
                self.manifest = Some(manifest);
                self.status = Some(Status::Verifying);
            }
            BackupEvent::Verified { verified_at, .. } => {
                self.verified_at = Some(verified_at);
                self.status = Some(Status::Verified);
            }
            BackupEvent::Failed { retry_at, .. } => {
                self.status = Some(if retry_at.is_some() { Status::Failed } else { Status::Abandoned });
            }
            BackupEvent::Retried { attempt } => {
                self.attempt = attempt;
                self.status = Some(Status::Taking);
            }
            BackupEvent::HoldEnded { .. } => self.keep_until = None,
            BackupEvent::Pruned { .. } => self.status = Some(Status::Pruned),
        }
    }
}
