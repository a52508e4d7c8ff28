//! Loading aggregates and appending their events.
//!
//! Reads go through postgres-es (`PostgresEventRepository`), which knows the `events` layout
//! and turns rows back into cqrs-es envelopes. Writes are our own: one transaction holds the
//! command record, the events, an optional snapshot and the feed wake-up, which postgres-es's
//! `persist` cannot do. We also never use cqrs-es's snapshot store (it applies new events to
//! the aggregate a second time); our snapshot is the aggregate exactly as `handle` left it.

use berth_domain::aggregate::Consequences;
use berth_domain::event::{decode_as, upcast};
use berth_domain::unique::UniqueScope;
use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use cqrs_es::EventEnvelope;
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::StoreError;

/// The NOTIFY channel that wakes feed readers after an append commits.
pub const FEED_CHANNEL: &str = "berth_events";

/// An aggregate as loaded from the log.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    /// The state.
    pub aggregate: A,
    /// The sequence of its last event (0 for a fresh aggregate).
    pub version: i64,
    /// How many events were applied on top of the snapshot to get here.
    pub replayed: usize,
    /// The hash of its last event (`None` for a fresh aggregate, or one written before the
    /// chain and not yet chained).
    pub hash: Option<crate::chain::Hash>,
}

/// The event store: PostgreSQL pool, postgres-es reader and snapshot policy.
#[derive(Clone)]
pub struct EventStore {
    pool: PgPool,
    reader: std::sync::Arc<PostgresEventRepository>,
    snapshot_every: i64,
    chain: bool,
    turns: std::sync::Arc<crate::turns::Turns>,
    keys: Option<crate::personal::Keys>,
}

impl EventStore {
    /// A store over `pool`, snapshotting every `snapshot_every` events (0 turns snapshots off).
    pub fn new(pool: PgPool, snapshot_every: u32) -> Self {
        let reader = std::sync::Arc::new(PostgresEventRepository::new(pool.clone()));
        let turns = std::sync::Arc::default();
        Self { pool, reader, snapshot_every: i64::from(snapshot_every), chain: true, turns, keys: None }
    }

    /// Waits for this process's turn to write the hot aggregate `key` names (see
    /// [`crate::turns`]); clones of this store share the queues.
    pub async fn turn(&self, key: &str) -> crate::turns::Turn {
        self.turns.take(key).await
    }

    /// The waiting list of `key`'s turn for writes of type `T` (see [`crate::turns`]).
    pub fn waiting<T: Send + 'static>(&self, key: &str) -> crate::turns::WaitingList<T> {
        self.turns.waiting(key)
    }

    /// The same store sealing personal data with `keys` on append and opening it on load.
    pub fn with_keys(mut self, keys: crate::personal::Keys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The subject keys, when personal data is sealed.
    pub fn keys(&self) -> Option<&crate::personal::Keys> {
        self.keys.as_ref()
    }

    /// Opens the envelopes in `payloads` (a no-op without keys).
    async fn open_all(&self, payloads: &mut [serde_json::Value]) -> Result<(), StoreError> {
        match &self.keys {
            Some(keys) => keys.open_many(payloads).await,
            None => Ok(()),
        }
    }

    /// The same store appending events without their hashes: only for measuring what the
    /// chain costs (`berth bench`); `berth audit verify` reports such events as unhashed, and
    /// the next append to their aggregate or the sealer chains them.
    pub fn without_chain(mut self) -> Self {
        self.chain = false;
        self
    }

    pub(crate) fn chains(&self) -> bool {
        self.chain
    }

    /// The pool underneath.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Loads an aggregate from its latest snapshot and the events after it. A snapshot that no
    /// longer reads (the state's shape changed) is ignored: the aggregate is replayed instead.
    pub async fn load<A: Consequences>(&self, aggregate_id: &str) -> Result<Loaded<A>, StoreError> {
        // The snapshot and the events after it in one round trip: the snapshot's row (without
        // an event type) sorts first, being at a lower sequence than every event it precedes.
        type Row = (Option<String>, Option<String>, serde_json::Value, i64, Option<Vec<u8>>);
        let rows: Vec<Row> = sqlx::query_as(
            "WITH snap AS (SELECT sequence, state FROM aggregate_snapshots
                            WHERE aggregate_type = $1 AND aggregate_id = $2)
             SELECT NULL::text, NULL::text, state, sequence,
                    (SELECT hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = snap.sequence)
               FROM snap
             UNION ALL
             SELECT e.event_type, e.event_version, e.payload, e.sequence, e.hash FROM events e
              WHERE e.aggregate_type = $1 AND e.aggregate_id = $2
                AND e.sequence > COALESCE((SELECT sequence FROM snap), 0)
             ORDER BY 4",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_all(&self.pool)
        .await?;
        let mut rows = rows;
        if self.keys.is_some() {
            let mut payloads: Vec<serde_json::Value> =
                rows.iter_mut().map(|r| std::mem::take(&mut r.2)).collect();
            self.open_all(&mut payloads).await?;
            for (row, payload) in rows.iter_mut().zip(payloads) {
                row.2 = payload;
            }
        }
        let mut rows = rows.into_iter().peekable();
        let (mut aggregate, mut version, mut hash) = (A::default(), 0, None);
        if let Some((None, _, state, sequence, at)) = rows.peek() {
            match serde_json::from_value::<A>(state.clone()) {
                Ok(restored) => {
                    (aggregate, version, hash) =
                        (restored, *sequence, crate::chain::from_bytes(at.as_deref()))
                }
                Err(error) => {
                    tracing::warn!(%error, aggregate = A::TYPE, aggregate_id, "snapshot does not read; replaying");
                    return self.load_full::<A>(aggregate_id).await;
                }
            }
            rows.next();
        }
        let mut replayed = 0;
        for (event_type, event_version, payload, sequence, at) in rows {
            let (event_type, event_version) =
                (event_type.unwrap_or_default(), event_version.unwrap_or_default());
            let event = decode_as::<A::Event>(&event_type, &event_version, payload)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            aggregate.apply(event);
            version = sequence;
            hash = crate::chain::from_bytes(at.as_deref());
            replayed += 1;
        }
        Ok(Loaded { aggregate, version, replayed, hash })
    }

    /// Loads an aggregate by replaying every one of its events, ignoring snapshots.
    pub async fn load_full<A: Consequences>(&self, aggregate_id: &str) -> Result<Loaded<A>, StoreError> {
        let mut events = self.reader.get_events::<A>(aggregate_id).await.map_err(persistence_error)?;
        if self.keys.is_some() {
            let mut payloads: Vec<serde_json::Value> =
                events.iter_mut().map(|e| std::mem::take(&mut e.payload)).collect();
            self.open_all(&mut payloads).await?;
            for (event, payload) in events.iter_mut().zip(payloads) {
                event.payload = payload;
            }
        }
        replay_onto(A::default(), 0, events)
    }

    /// Every event of an aggregate with its sequence, decoded (and upcast) through the event
    /// registry: for a reader that must see the aggregate as it was at one of its events.
    pub async fn history<A: Consequences>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<(i64, A::Event)>, StoreError> {
        let rows: Vec<(String, String, serde_json::Value, i64)> = sqlx::query_as(
            "SELECT event_type, event_version, payload, sequence FROM events
              WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_all(&self.pool)
        .await?;
        let mut rows = rows;
        if self.keys.is_some() {
            let mut payloads: Vec<serde_json::Value> =
                rows.iter_mut().map(|r| std::mem::take(&mut r.2)).collect();
            self.open_all(&mut payloads).await?;
            for (row, payload) in rows.iter_mut().zip(payloads) {
                row.2 = payload;
            }
        }
        rows.into_iter()
            .map(|(event_type, event_version, payload, sequence)| {
                decode_as::<A::Event>(&event_type, &event_version, payload)
                    .map(|event| (sequence, event))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// The outcome recorded for `command_id`, if that command already succeeded.
    pub async fn recorded_outcome(&self, command_id: Uuid) -> Result<Option<RecordedCommand>, StoreError> {
        let row: Option<(String, String, i64, i32)> = sqlx::query_as(
            "SELECT aggregate_type, aggregate_id, version, event_count FROM commands WHERE command_id = $1",
        )
        .bind(command_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(aggregate_type, aggregate_id, version, events)| RecordedCommand {
            aggregate_type,
            aggregate_id,
            version,
            events: usize::try_from(events).unwrap_or_default(),
        }))
    }

    /// Who holds the unique value `value` of `scope` (`plan:<id>`, `coupon:<id>`), if anyone:
    /// finds a plan or coupon by its code on the write side, where a view could lag.
    pub async fn unique_owner(&self, scope: UniqueScope, value: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT owner FROM unique_claims WHERE scope = $1 AND value = $2")
            .bind(scope.as_str())
            .bind(value)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub(crate) fn snapshot_every(&self) -> i64 {
        self.snapshot_every
    }
}

/// A command already recorded in the `commands` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCommand {
    /// The aggregate type it ran on.
    pub aggregate_type: String,
    /// The aggregate it ran on.
    pub aggregate_id: String,
    /// The aggregate's version right after it.
    pub version: i64,
    /// How many events it appended.
    pub events: usize,
}

/// Applies stored events to `aggregate` (at `version`), in order, upcasting older versions
/// through the event registry.
fn replay_onto<A: Consequences>(
    mut aggregate: A,
    mut version: i64,
    events: Vec<SerializedEvent>,
) -> Result<Loaded<A>, StoreError> {
    let replayed = events.len();
    for mut event in events {
        let (current, payload) = upcast::<A::Event>(&event.event_type, &event.event_version, event.payload)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        (event.event_version, event.payload) = (current, payload);
        let envelope = EventEnvelope::<A>::try_from(event).map_err(persistence_error)?;
        version = to_i64(envelope.sequence);
        aggregate.apply(envelope.payload);
    }
    // The hash is looked up when the aggregate is next appended to (`chain::heal`).
    Ok(Loaded { aggregate, version, replayed, hash: None })
}

fn persistence_error(error: PersistenceError) -> StoreError {
    match error {
        PersistenceError::ConnectionError(e) | PersistenceError::UnknownError(e) => {
            match e.downcast::<sqlx::Error>() {
                Ok(sql) => StoreError::from(*sql),
                Err(other) => StoreError::Corrupt(other.to_string()),
            }
        }
        other => StoreError::Corrupt(other.to_string()),
    }
}

pub(crate) fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
