//! What the sagas that mail notices share: their settings, queueing a mail as a saga step, and
//! times written for people.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use time::OffsetDateTime;

use berth_eventstore::store::EventStore;

use super::{recent, MailError, Outbox, OutgoingMail};
use crate::context::SagaContext;
use crate::saga::{Outcome, Tuning};

/// `[sagas.<name>]` of a saga that mails notices (`certificate_mail`, `backup_mail`,
/// `site_move_mail`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoticeSettings {
    /// Notices worked on at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
    /// Events recorded longer ago than this many hours are not mailed about (0: any age).
    pub max_age_hours: u64,
}

impl Default for NoticeSettings {
    fn default() -> Self {
        Self { concurrency: 4, takeover_secs: 60, max_age_hours: 168 }
    }
}

impl NoticeSettings {
    /// The saga's tuning.
    pub fn tuning(&self) -> Tuning {
        Tuning {
            concurrency: self.concurrency.max(1),
            takeover: Duration::from_secs(self.takeover_secs.max(1)),
        }
    }
}

/// What a notice saga works with: the pool and store it reads from, the outbox it queues into,
/// and how old an event may be to be mailed about.
pub struct Notifier {
    /// The pool (the read models it looks recipients up in).
    pub pool: PgPool,
    /// The event store (the aggregates the notice is about).
    pub store: EventStore,
    outbox: Outbox,
    max_age_hours: u64,
}

impl Notifier {
    /// The notifier of a saga built from `context` with `settings`.
    pub fn new(context: &SagaContext, settings: &NoticeSettings) -> Self {
        Self {
            pool: context.pool.clone(),
            store: context.store.clone(),
            outbox: context.mail.outbox.clone(),
            max_age_hours: settings.max_age_hours,
        }
    }

    /// Whether an event recorded at `recorded_at` is recent enough to mail about.
    pub fn recent(&self, recorded_at: OffsetDateTime) -> bool {
        recent(recorded_at, self.max_age_hours)
    }

    /// Queues `mail` as a saga step (see [`queue`]).
    pub async fn queue(&self, mail: OutgoingMail) -> Result<(), Outcome> {
        queue(&self.outbox, &self.pool, mail).await
    }
}

/// Queues `mail` as a saga step: storage trouble is tried again later, anything else (a
/// template that does not render, no recipient) fails the step.
pub async fn queue(outbox: &Outbox, pool: &PgPool, mail: OutgoingMail) -> Result<(), Outcome> {
    match outbox.enqueue(pool, mail).await {
        Ok(_) => Ok(()),
        Err(MailError::Storage(error)) => Err(Outcome::later(error)),
        Err(other) => Err(Outcome::Failed(other.to_string())),
    }
}

/// A time for people: `2026-12-01 03:20 UTC`.
pub fn when(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute())
}
