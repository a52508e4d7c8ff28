//! Loading aggregates and appending their events.
//!
//! Reads go through postgres-es (`PostgresEventRepository`), which knows the `events` layout
//! and turns rows back into cqrs-es envelopes. Writes are our own: one transaction holds the
//! command record, the events, an optional snapshot and the feed wake-up, which postgres-es's
//! `persist` cannot do. We also never use cqrs-es's snapshot store (it applies new events to
//! the aggregate a second time); our snapshot is the aggregate exactly as `handle` left it.

use cqrs_es::persist::{PersistedEventRepository, PersistenceError, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent, EventEnvelope};
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{unique_violation, StoreError};
use crate::metadata::CommandMetadata;

/// The NOTIFY channel that wakes feed readers after an append commits.
pub const FEED_CHANNEL: &str = "berth_events";

/// An aggregate as loaded from the log.
#[derive(Debug)]
pub struct Loaded<A> {
    /// The state.
    pub aggregate: A,
    /// The sequence of its last event (0 for a fresh aggregate).
    pub version: i64,
    /// How many events were applied on top of the snapshot to get here.
    pub replayed: usize,
}

/// What a successful append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The aggregate's version after the append.
    pub version: i64,
    /// How many events were appended.
    pub events: usize,
}

/// Why an append did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended to the aggregate since it was loaded.
    #[error("the aggregate changed since it was loaded")]
    Conflict,
    /// The command id is already recorded (a concurrent repeat of the same command).
    #[error("the command was already executed")]
    DuplicateCommand,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The event store: PostgreSQL pool, postgres-es reader and snapshot policy.
#[derive(Clone)]
pub struct EventStore {
    pool: PgPool,
    reader: std::sync::Arc<PostgresEventRepository>,
    snapshot_every: i64,
}

impl EventStore {
    /// A store over `pool`, snapshotting every `snapshot_every` events (0 turns snapshots off).
    pub fn new(pool: PgPool, snapshot_every: u32) -> Self {
        let reader = std::sync::Arc::new(PostgresEventRepository::new(pool.clone()));
        Self { pool, reader, snapshot_every: i64::from(snapshot_every) }
    }

    /// The pool underneath.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Loads an aggregate from its latest snapshot and the events after it.
    pub async fn load<A: Aggregate>(&self, aggregate_id: &str) -> Result<Loaded<A>, StoreError> {
        let snapshot: Option<(i64, serde_json::Value)> = sqlx::query_as(
            "SELECT sequence, state FROM aggregate_snapshots WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_optional(&self.pool)
        .await?;
        let (mut aggregate, mut version) = match snapshot {
            Some((sequence, state)) => {
                let aggregate: A =
                    serde_json::from_value(state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                (aggregate, sequence)
            }
            None => (A::default(), 0),
        };
        let events = self
            .reader
            .get_last_events::<A>(aggregate_id, to_usize(version))
            .await
            .map_err(persistence_error)?;
        let replayed = events.len();
        for event in events {
            let envelope = EventEnvelope::<A>::try_from(event).map_err(persistence_error)?;
            version = to_i64(envelope.sequence);
            aggregate.apply(envelope.payload);
        }
        Ok(Loaded { aggregate, version, replayed })
    }

    /// Loads an aggregate by replaying every one of its events, ignoring snapshots.
    pub async fn load_full<A: Aggregate>(&self, aggregate_id: &str) -> Result<Loaded<A>, StoreError> {
        let events = self.reader.get_events::<A>(aggregate_id).await.map_err(persistence_error)?;
        let mut aggregate = A::default();
        let mut version = 0;
        let replayed = events.len();
        for event in events {
            let envelope = EventEnvelope::<A>::try_from(event).map_err(persistence_error)?;
            version = to_i64(envelope.sequence);
            aggregate.apply(envelope.payload);
        }
        Ok(Loaded { aggregate, version, replayed })
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

    /// Appends `events` after `expected_version`, records the command, snapshots `state` when
    /// the append crosses a snapshot boundary, and wakes feed readers: all in one transaction.
    pub async fn append<A: Aggregate>(
        &self,
        aggregate_id: &str,
        expected_version: i64,
        events: &[A::Event],
        state: &A,
        metadata: &CommandMetadata,
    ) -> Result<Appended, AppendError> {
        let new_version = expected_version + to_i64(events.len());
        let mut tx = self.pool.begin().await.map_err(StoreError::from)?;
        // The command row is the transaction's first write, so the transaction id is taken
        // only after the aggregate was read (see ARCHITECTURE.md, per-aggregate order).
        let inserted = sqlx::query(
            "INSERT INTO commands (command_id, aggregate_type, aggregate_id, tenant_id, version, event_count)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(metadata.command_id)
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(metadata.tenant_id)
        .bind(new_version)
        .bind(i32::try_from(events.len()).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await;
        if let Err(error) = inserted {
            return Err(match unique_violation(&error) {
                Some(_) => AppendError::DuplicateCommand,
                None => AppendError::Store(error.into()),
            });
        }
        let recorded_at = OffsetDateTime::now_utc();
        for (offset, event) in events.iter().enumerate() {
            let payload = serde_json::to_value(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let event_metadata = metadata.for_event(Uuid::now_v7(), recorded_at);
            let result = sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(A::TYPE)
            .bind(aggregate_id)
            .bind(expected_version + to_i64(offset) + 1)
            .bind(event.event_type())
            .bind(event.event_version())
            .bind(payload)
            .bind(sqlx::types::Json(&event_metadata))
            .bind(recorded_at)
            .execute(&mut *tx)
            .await;
            if let Err(error) = result {
                return Err(match unique_violation(&error).as_deref() {
                    Some("events_pkey") => AppendError::Conflict,
                    _ => AppendError::Store(error.into()),
                });
            }
        }
        if self.crosses_snapshot_boundary(expected_version, new_version) {
            let state = serde_json::to_value(state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            sqlx::query(
                "INSERT INTO aggregate_snapshots (aggregate_type, aggregate_id, sequence, state)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
                   SET sequence = EXCLUDED.sequence, state = EXCLUDED.state, taken_at = now()
                   WHERE aggregate_snapshots.sequence < EXCLUDED.sequence",
            )
            .bind(A::TYPE)
            .bind(aggregate_id)
            .bind(new_version)
            .bind(state)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from)?;
        }
        if !events.is_empty() {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(FEED_CHANNEL)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::from)?;
        }
        tx.commit().await.map_err(StoreError::from)?;
        metrics::counter!("berth_events_appended_total").increment(events.len() as u64);
        Ok(Appended { version: new_version, events: events.len() })
    }

    fn crosses_snapshot_boundary(&self, from: i64, to: i64) -> bool {
        self.snapshot_every > 0 && to / self.snapshot_every > from / self.snapshot_every
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

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_usize(n: i64) -> usize {
    usize::try_from(n).unwrap_or_default()
}

/// Re-exported so callers can name the serialized form without depending on cqrs-es paths.
pub type StoredEvent = SerializedEvent;
