//! The commit-ordered, gap-safe feed of the whole log.
//!
//! `global_position` alone is not safe to follow: a transaction can take position 5, commit
//! after another took 6 and committed, and a reader that already moved past 6 would never see
//! 5. The feed orders by `(transaction_id, global_position)` and only returns rows whose
//! transaction id is below the oldest transaction still running
//! (`pg_snapshot_xmin(pg_current_snapshot())`): every such transaction has finished, so
//! nothing can appear behind the checkpoint later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::{PgExecutor, PgPool};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::FEED_CHANNEL;

/// A place in the feed: the writing transaction's id and the event's global position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FeedPosition {
    /// The id (xid8) of the transaction that wrote the event.
    pub transaction_id: i64,
    /// The event's global position.
    pub global_position: i64,
}

impl FeedPosition {
    /// The position before every event.
    pub const START: Self = Self { transaction_id: 0, global_position: 0 };
}

/// One event as the feed delivers it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, Serialize, Deserialize)]
pub struct FeedEvent {
    /// The writing transaction's id.
    pub transaction_id: i64,
    /// The global position.
    pub global_position: i64,
    /// The event's id (UUIDv7).
    pub event_id: Uuid,
    /// The tenant it belongs to (`None` for platform-level aggregates).
    pub tenant_id: Option<Uuid>,
    /// The aggregate type, such as `site`.
    pub aggregate_type: String,
    /// The aggregate id.
    pub aggregate_id: String,
    /// The event's sequence within its aggregate, from 1.
    pub sequence: i64,
    /// The event type, such as `SiteCreated`.
    pub event_type: String,
    /// The payload's version.
    pub event_version: String,
    /// The event itself.
    pub payload: serde_json::Value,
    /// Metadata: actor, command, correlation, causation and request ids.
    pub metadata: serde_json::Value,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

impl FeedEvent {
    /// This event's place in the feed.
    pub fn position(&self) -> FeedPosition {
        FeedPosition { transaction_id: self.transaction_id, global_position: self.global_position }
    }

    /// A metadata field, if present.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(serde_json::Value::as_str)
    }
}

/// Reads up to `limit` events after `after`, in feed order.
pub async fn read_after<'e>(
    executor: impl PgExecutor<'e>,
    after: FeedPosition,
    limit: i64,
) -> Result<Vec<FeedEvent>, sqlx::Error> {
    sqlx::query_as(
        "SELECT transaction_id::text::bigint AS transaction_id, global_position, event_id, tenant_id,
                aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at
           FROM events
          WHERE (transaction_id, global_position) > ($1::bigint::text::xid8, $2)
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ORDER BY events.transaction_id, events.global_position -- the columns, not the bigint aliases: index order
          LIMIT $3",
    )
    .bind(after.transaction_id)
    .bind(after.global_position)
    .bind(limit)
    .fetch_all(executor)
    .await
}

/// The feed after the checkpoint named `$1`: the next `$2` events and the rest of the last
/// one's transaction, so that a batch never ends inside a commit (a view applied from it shows
/// a command's events all or none). The select [`read_after_checkpoint`] runs, for statements
/// that embed it. A missing checkpoint is the start of the feed.
pub const AFTER_CHECKPOINT: &str = "SELECT * FROM events
          WHERE (transaction_id, global_position) >
                (COALESCE((SELECT transaction_id FROM checkpoints WHERE name = $1), '0'::xid8),
                 COALESCE((SELECT global_position FROM checkpoints WHERE name = $1), 0))
            AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            AND transaction_id <= (SELECT max(head.transaction_id) FROM (
                  SELECT h.transaction_id FROM events h
                   WHERE (h.transaction_id, h.global_position) >
                         (COALESCE((SELECT transaction_id FROM checkpoints WHERE name = $1), '0'::xid8),
                          COALESCE((SELECT global_position FROM checkpoints WHERE name = $1), 0))
                     AND h.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                   ORDER BY h.transaction_id, h.global_position
                   LIMIT $2) head)
          ORDER BY events.transaction_id, events.global_position";

/// Reads up to `limit` events after the checkpoint `checkpoint`, in feed order: the checkpoint
/// and the events in one round trip.
pub async fn read_after_checkpoint<'e>(
    executor: impl PgExecutor<'e>,
    checkpoint: &str,
    limit: i64,
) -> Result<Vec<FeedEvent>, sqlx::Error> {
    static STATEMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let statement = STATEMENT.get_or_init(|| {
        format!(
            "SELECT transaction_id::text::bigint AS transaction_id, global_position, event_id, tenant_id,
                    aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at
               FROM ({AFTER_CHECKPOINT}) e ORDER BY e.transaction_id, e.global_position"
        )
    });
    sqlx::query_as(statement).bind(checkpoint).bind(limit).fetch_all(executor).await
}

/// Wakes feed readers when events are appended: one LISTEN connection per process, fanned
/// out through a watch channel. Readers also poll, so a lost notification (or a listener that
/// is reconnecting) only delays them by the poll interval.
///
/// Each commit's notification names the aggregate types it wrote, so a reader of some types
/// ([`FeedNotifier::wait_for`]) sleeps through commits of the others: under a burst of billing
/// commits, the views of sites and nodes are not woken to scan the feed for nothing. A
/// notification without types (a timer's, or one from an older writer) and a reconnect wake
/// every reader.
#[derive(Clone)]
pub struct FeedNotifier {
    receiver: watch::Receiver<u64>,
    counts: Arc<Mutex<WakeCounts>>,
    poll_interval: Duration,
    /// What [`FeedNotifier::wait_for`] saw when it last returned.
    seen: u64,
}

/// How often each aggregate type was named in a notification, and how often all were woken.
#[derive(Debug, Default)]
struct WakeCounts {
    all: u64,
    by_type: HashMap<String, u64>,
}

impl WakeCounts {
    /// Records one notification's payload: the comma-separated aggregate types, or nothing.
    fn record(&mut self, payload: &str) {
        if payload.is_empty() {
            self.all = self.all.wrapping_add(1);
            return;
        }
        for kind in payload.split(',').filter(|k| !k.is_empty()) {
            match self.by_type.get_mut(kind) {
                Some(count) => *count = count.wrapping_add(1),
                None => {
                    self.by_type.insert(kind.to_owned(), 1);
                }
            }
        }
    }

    /// A number that grows whenever a notification concerns one of `types`.
    fn of(&self, types: &[&str]) -> u64 {
        types
            .iter()
            .fold(self.all, |sum, kind| sum.wrapping_add(self.by_type.get(*kind).copied().unwrap_or(0)))
    }
}

impl FeedNotifier {
    /// Starts listening for appended events on `pool`'s database until `shutdown`.
    pub fn start(pool: PgPool, poll_interval: Duration, shutdown: CancellationToken) -> Self {
        Self::start_on(pool, FEED_CHANNEL, poll_interval, shutdown)
    }

    /// Starts listening on `channel` on `pool`'s database until `shutdown`.
    pub fn start_on(
        pool: PgPool,
        channel: &'static str,
        poll_interval: Duration,
        shutdown: CancellationToken,
    ) -> Self {
        let (sender, receiver) = watch::channel(0u64);
        let counts = Arc::new(Mutex::new(WakeCounts::default()));
        let recorded = Arc::clone(&counts);
        tokio::spawn(async move {
            while !shutdown.is_cancelled() {
                match listen(&pool, channel, &sender, &recorded, &shutdown).await {
                    Ok(()) => return,
                    Err(error) => {
                        tracing::warn!(%error, "feed listener lost its connection; retrying");
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            }
        });
        Self { receiver, counts, poll_interval, seen: 0 }
    }

    /// Waits for the next notification, the poll interval, or `shutdown`, whichever is first.
    pub async fn wait(&mut self, shutdown: &CancellationToken) {
        tokio::select! {
            _ = self.receiver.changed() => {}
            () = tokio::time::sleep(self.poll_interval) => {}
            () = shutdown.cancelled() => {}
        }
    }

    /// Like [`FeedNotifier::wait`] for a reader of `types` only (`None`: of every type): returns
    /// at once if a commit of one of them was notified since it last returned, otherwise at the
    /// next such notification, the poll interval, or `shutdown`.
    pub async fn wait_for(&mut self, types: Option<&[&str]>, shutdown: &CancellationToken) {
        let Some(types) = types else { return self.wait(shutdown).await };
        let deadline = tokio::time::Instant::now() + self.poll_interval;
        loop {
            let now = lock(&self.counts).of(types);
            if now != self.seen {
                self.seen = now;
                return;
            }
            tokio::select! {
                changed = self.receiver.changed() => {
                    // The listener is gone (shutting down): nothing will wake this reader.
                    if changed.is_err() {
                        return;
                    }
                }
                () = tokio::time::sleep_until(deadline) => return,
                () = shutdown.cancelled() => return,
            }
        }
    }
}

fn lock(counts: &Mutex<WakeCounts>) -> std::sync::MutexGuard<'_, WakeCounts> {
    counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn listen(
    pool: &PgPool,
    channel: &str,
    sender: &watch::Sender<u64>,
    counts: &Mutex<WakeCounts>,
    shutdown: &CancellationToken,
) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    // Whatever was committed while this listener was not listening concerns everyone.
    lock(counts).record("");
    sender.send_modify(|n| *n = n.wrapping_add(1));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            // `None` means the connection dropped and PgListener reconnects on the next call;
            // notifications may have been missed meanwhile, so that wakes everyone too.
            notification = listener.try_recv() => {
                let payload = notification?.map(|n| n.payload().to_owned()).unwrap_or_default();
                lock(counts).record(&payload);
                sender.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WakeCounts;

    #[test]
    fn a_reader_is_woken_by_its_own_types_and_by_notifications_without_types() {
        let mut counts = WakeCounts::default();
        let sites = counts.of(&["site", "node"]);
        counts.record("invoice,dunning");
        assert_eq!(counts.of(&["site", "node"]), sites, "a billing commit does not concern the sites' view");
        counts.record("dunning,node");
        let after_node = counts.of(&["site", "node"]);
        assert_ne!(after_node, sites);
        counts.record("");
        assert_ne!(counts.of(&["site", "node"]), after_node, "a notification without types wakes everyone");
        assert_ne!(counts.of(&["invoice"]), 0);
    }
}
