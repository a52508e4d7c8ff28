//! Durable timers in the database: written with the events that declare them, leased by any
//! sagas process, fired once.
//!
//! A due timer is leased in a short transaction (`FOR UPDATE SKIP LOCKED`, then a lease time
//! written back), so no transaction stays open while its command runs and the feed's xmin
//! bound is never held back. Its command then runs with an id derived from the key and the
//! timer's generation, and the same transaction marks it fired: if the process dies before
//! that commits, nothing happened and the lease lapses; if it dies after, the timer is no
//! longer scheduled. Either way the timer fires once.

use berth_domain::aggregate::Consequences;
use berth_domain::error::Refusal;
use berth_domain::event::{visit, AggregateVisitor};
use berth_domain::timer::{TimerEvent, TimerKey, TimerOutcome};
use cqrs_es::DomainEvent;
use futures::future::BoxFuture;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::append::{event_metadata, AppendError, SideWrite};
use crate::chain::{self, Hash};
use crate::error::StoreError;
use crate::execute::{ExecuteError, RetryPolicy};
use crate::metadata::CommandMetadata;
use crate::store::{EventStore, FEED_CHANNEL};

/// A timer change on its way into the database.
#[derive(Debug, Clone)]
pub enum StagedTimer {
    /// Schedule (or move) `key`.
    Schedule {
        /// The timer.
        key: TimerKey,
        /// When.
        due_at: OffsetDateTime,
        /// The aggregate type the command is for.
        aggregate_type: &'static str,
        /// The aggregate.
        aggregate_id: String,
        /// The command, serialized.
        command: Value,
    },
    /// Cancel `key` if it is scheduled.
    Cancel {
        /// The timer.
        key: TimerKey,
    },
}

/// A timer event to append, with its sequence in the timer's own stream.
pub(crate) struct TimerEventRow {
    pub key: String,
    pub sequence: i64,
    pub serialized: (String, String, Value),
    /// The hash of the timer's event before this one.
    pub prev_hash: Hash,
}

/// What a statement on `timers` answers: the new generation (the timer event's sequence) and
/// the hash of the timer's event before it.
type Generation = (i64, Option<Vec<u8>>);

/// The same subquery in each statement: the hash of the timer's previous event.
const PREVIOUS_HASH: &str =
    "(SELECT hash FROM events WHERE aggregate_type = 'timer' AND aggregate_id = key AND sequence = generation - 1)";

async fn row(
    tx: &mut PgConnection,
    key: &TimerKey,
    (sequence, found): Generation,
    event: &TimerEvent,
) -> Result<TimerEventRow, StoreError> {
    let prev_hash = chain::before(tx, "timer", key.as_str(), sequence, found).await?;
    Ok(TimerEventRow {
        key: key.to_string(),
        sequence,
        prev_hash,
        serialized: (
            event.event_type(),
            event.event_version(),
            serde_json::to_value(event).unwrap_or_default(),
        ),
    })
}

/// The NOTIFY channel the timer workers wake on: a timer was scheduled.
pub const TIMERS_CHANNEL: &str = "berth_timers";

/// Writes one staged change to `timers` and returns the event that records it (none for a
/// cancel of a timer that is not scheduled).
pub(crate) async fn stage(
    tx: &mut PgConnection,
    timer: &StagedTimer,
    metadata: &CommandMetadata,
) -> Result<Option<TimerEventRow>, StoreError> {
    match timer {
        StagedTimer::Schedule { key, due_at, aggregate_type, aggregate_id, command } => {
            // A timer newly scheduled may fall due before the one the workers sleep for: they
            // are woken on a channel of their own, not by every event.
            let generation: Generation = sqlx::query_as(&format!(
                "WITH staged AS (INSERT INTO timers (key, aggregate_type, aggregate_id, tenant_id, correlation_id, command, due_at,
                                     status, generation)
                 VALUES ($1, $2, $3, $4, $7, $5, $6, 'scheduled', 1)
                 ON CONFLICT (key) DO UPDATE SET aggregate_type = EXCLUDED.aggregate_type,
                     aggregate_id = EXCLUDED.aggregate_id, tenant_id = EXCLUDED.tenant_id,
                     correlation_id = EXCLUDED.correlation_id,
                     command = EXCLUDED.command, due_at = EXCLUDED.due_at, status = 'scheduled',
                     generation = timers.generation + 1, attempts = 0, lease_until = NULL,
                     last_error = NULL, scheduled_at = now(), fired_at = NULL
                 RETURNING key, generation)
                 SELECT s.generation, {PREVIOUS_HASH} FROM staged s CROSS JOIN (SELECT pg_notify($8, '')) woken"
            ))
            .bind(key.as_str())
            .bind(aggregate_type)
            .bind(aggregate_id)
            .bind(metadata.tenant_id)
            .bind(command)
            .bind(due_at)
            .bind(metadata.correlation_id)
            .bind(TIMERS_CHANNEL)
            .fetch_one(&mut *tx)
            .await?;
            let event = TimerEvent::Scheduled {
                key: key.clone(),
                due_at: *due_at,
                target_type: (*aggregate_type).to_owned(),
                target_id: aggregate_id.clone(),
                command: command.clone(),
            };
            Ok(Some(row(tx, key, generation, &event).await?))
        }
        StagedTimer::Cancel { key } => {
            let generation: Option<Generation> = sqlx::query_as(&format!(
                "UPDATE timers SET status = 'cancelled', generation = generation + 1, lease_until = NULL
                  WHERE key = $1 AND status = 'scheduled' RETURNING generation, {PREVIOUS_HASH}"
            ))
            .bind(key.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            match generation {
                Some(g) => Ok(Some(row(tx, key, g, &TimerEvent::Cancelled { key: key.clone() }).await?)),
                None => Ok(None),
            }
        }
    }
}

/// The firing of one leased timer, written with its command's events.
#[derive(Debug, Clone)]
pub struct TimerFire {
    /// The timer.
    pub key: TimerKey,
    /// Its generation when leased: a moved or cancelled timer has another.
    pub generation: i64,
    /// How its command ended.
    pub outcome: TimerOutcome,
}

/// Marks the timer fired and appends its `TimerFired` event; refuses if it changed since the
/// lease.
pub(crate) async fn mark_fired(
    tx: &mut PgConnection,
    fire: &TimerFire,
    metadata: &Value,
    recorded_at: OffsetDateTime,
) -> Result<(), AppendError> {
    let generation: Option<Generation> = sqlx::query_as(&format!(
        "UPDATE timers SET status = 'fired', fired_at = now(), generation = generation + 1, lease_until = NULL,
                last_error = NULL
          WHERE key = $1 AND generation = $2 AND status = 'scheduled' RETURNING generation, {PREVIOUS_HASH}"
    ))
    .bind(fire.key.as_str())
    .bind(fire.generation)
    .fetch_optional(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    let Some(generation) = generation else { return Err(AppendError::StaleTimer) };
    let fired = TimerEvent::Fired { key: fire.key.clone(), outcome: fire.outcome.clone() };
    let event = row(tx, &fire.key, generation, &fired).await?;
    let (event_type, version, payload) = &event.serialized;
    let link = chain::Link {
        aggregate_type: "timer",
        aggregate_id: &event.key,
        sequence: event.sequence,
        event_type,
        event_version: version,
        payload,
        metadata,
        recorded_at,
    };
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
         VALUES ('timer', $1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&event.key)
    .bind(event.sequence)
    .bind(event_type)
    .bind(version)
    .bind(payload)
    .bind(metadata)
    .bind(recorded_at)
    .bind(link.hash(&event.prev_hash).to_vec())
    .execute(&mut *tx)
    .await
    .map_err(StoreError::from)?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(FEED_CHANNEL)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

/// A timer leased for firing.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueTimer {
    /// The timer's key.
    pub key: String,
    /// Its generation when leased.
    pub generation: i64,
    /// The aggregate type its command is for.
    pub aggregate_type: String,
    /// The aggregate.
    pub aggregate_id: String,
    /// The tenant it acts for.
    pub tenant_id: Option<Uuid>,
    /// The correlation id of the command that scheduled it.
    pub correlation_id: Option<Uuid>,
    /// The command.
    pub command: Value,
    /// When it was due.
    pub due_at: OffsetDateTime,
    /// How many times it was leased.
    pub attempts: i32,
}

/// Leases up to `limit` timers due at `now` for `lease`, skipping rows another process holds.
pub async fn lease_due(
    pool: &PgPool,
    now: OffsetDateTime,
    limit: i64,
    lease: std::time::Duration,
) -> Result<Vec<DueTimer>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE timers t SET lease_until = now() + make_interval(secs => $3), attempts = t.attempts + 1
           FROM (SELECT key FROM timers
                  WHERE status = 'scheduled' AND due_at <= $1 AND (lease_until IS NULL OR lease_until < now())
                  ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
          WHERE t.key = due.key
         RETURNING t.key, t.generation, t.aggregate_type, t.aggregate_id, t.tenant_id, t.correlation_id,
                   t.command, t.due_at, t.attempts",
    )
    .bind(now)
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// Gives a lease back after a failure that may pass (storage, a lost race): the timer is tried
/// again after `retry_in`.
pub async fn retry_later(
    pool: &PgPool,
    timer: &DueTimer,
    error: &str,
    retry_in: std::time::Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE timers SET lease_until = now() + make_interval(secs => $3), last_error = $4
          WHERE key = $1 AND generation = $2",
    )
    .bind(&timer.key)
    .bind(timer.generation)
    .bind(retry_in.as_secs_f64())
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}

/// How one firing ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// The command ran and the timer is marked fired.
    Applied,
    /// The aggregate refused; the timer is marked fired with the refusal.
    Refused(String),
    /// The timer was moved, cancelled or fired by someone else since it was leased.
    Stale,
    /// Storage failed or the aggregate was contended: try again later.
    Later(String),
}

/// The command id a timer's firing runs as: the same for every attempt at one generation.
pub fn command_id(key: &str, generation: i64) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("timer:{key}:{generation}").as_bytes())
}

impl EventStore {
    /// Fires a leased timer: runs its command on its aggregate and marks it fired, together.
    pub async fn fire(&self, timer: &DueTimer, retry: RetryPolicy) -> Fired {
        let Ok(key) = TimerKey::parse(&timer.key) else {
            return Fired::Refused(format!("`{}` is not a timer key", timer.key));
        };
        let metadata = CommandMetadata {
            tenant_id: timer.tenant_id,
            actor: format!("timer:{}", timer.key),
            command_id: command_id(&timer.key, timer.generation),
            correlation_id: timer.correlation_id.unwrap_or_else(Uuid::now_v7),
            causation_id: None,
            request_id: None,
            credential: None,
            within_tenant: false,
        };
        let visitor = FireVisitor { store: self, timer, key: key.clone(), metadata: &metadata, retry };
        let Some(run) = visit(&timer.aggregate_type, visitor) else {
            let reason = format!("no aggregate type `{}` is registered", timer.aggregate_type);
            return self.fire_refused(timer, key, "unknown-aggregate", &reason, &metadata).await;
        };
        match run.await {
            Ok(()) => Fired::Applied,
            Err(ExecuteError::Rejected(refusal)) => {
                let (code, reason) = (refusal.code(), refusal.to_string());
                self.fire_refused(timer, key, code, &reason, &metadata).await
            }
            Err(ExecuteError::TimerChanged) => Fired::Stale,
            Err(other) => Fired::Later(other.to_string()),
        }
    }

    async fn fire_refused(
        &self,
        timer: &DueTimer,
        key: TimerKey,
        code: &str,
        reason: &str,
        metadata: &CommandMetadata,
    ) -> Fired {
        let fire = TimerFire {
            key,
            generation: timer.generation,
            outcome: TimerOutcome::Refused { code: code.to_owned(), reason: reason.to_owned() },
        };
        let result = async {
            let mut tx = self.pool().begin().await.map_err(StoreError::from)?;
            let at = OffsetDateTime::now_utc();
            mark_fired(&mut tx, &fire, &event_metadata(metadata, at), at).await?;
            tx.commit().await.map_err(StoreError::from)?;
            Ok::<(), AppendError>(())
        }
        .await;
        match result {
            Ok(()) => Fired::Refused(reason.to_owned()),
            Err(AppendError::StaleTimer) => Fired::Stale,
            Err(other) => Fired::Later(other.to_string()),
        }
    }
}

/// Runs a timer's command on the aggregate type the registry finds by name.
struct FireVisitor<'a> {
    store: &'a EventStore,
    timer: &'a DueTimer,
    key: TimerKey,
    metadata: &'a CommandMetadata,
    retry: RetryPolicy,
}

/// A refusal boxed with its aggregate's type kept.
type FireResult = Result<(), ExecuteError<berth_domain::error::Refused>>;

impl<'a> AggregateVisitor for FireVisitor<'a> {
    type Output = BoxFuture<'a, FireResult>;

    fn visit<A: Consequences + Send + Sync + 'static>(self) -> Self::Output
    where
        A::Command: Send + Sync,
        A::Event: Send + Sync,
    {
        Box::pin(async move {
            let command: A::Command = serde_json::from_value(self.timer.command.clone()).map_err(|e| {
                ExecuteError::Store(StoreError::Corrupt(format!("timer {} command: {e}", self.timer.key)))
            })?;
            let fire = SideWrite::FireTimer(TimerFire {
                key: self.key,
                generation: self.timer.generation,
                outcome: TimerOutcome::Applied,
            });
            self.store
                .execute_with::<A>(&self.timer.aggregate_id, command, self.metadata, self.retry, &[fire])
                .await
                .map(drop)
                .map_err(|e| e.map_refusal(|r| berth_domain::error::Refused::new(A::TYPE, r)))
        })
    }
}

/// Timers due now and how late the oldest is, for `/metrics`.
pub async fn due_summary(pool: &PgPool, now: OffsetDateTime) -> Result<(i64, f64), sqlx::Error> {
    sqlx::query_as(
        "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM $1 - min(due_at))::float8, 0)
           FROM timers WHERE status = 'scheduled' AND due_at <= $1",
    )
    .bind(now)
    .fetch_one(pool)
    .await
}

impl<E: Refusal> ExecuteError<E> {
    /// The same error with its refusal turned into another type.
    pub fn map_refusal<F: std::error::Error>(self, f: impl FnOnce(E) -> F) -> ExecuteError<F> {
        match self {
            Self::Rejected(e) => ExecuteError::Rejected(f(e)),
            Self::Conflict { attempts } => ExecuteError::Conflict { attempts },
            Self::Taken { scope, value } => ExecuteError::Taken { scope, value },
            Self::CommandIdReused(id) => ExecuteError::CommandIdReused(id),
            Self::TimerChanged => ExecuteError::TimerChanged,
            Self::CredentialChanged => ExecuteError::CredentialChanged,
            Self::NotFound => ExecuteError::NotFound,
            Self::PreconditionFailed { expected, current } => {
                ExecuteError::PreconditionFailed { expected, current }
            }
            Self::Store(e) => ExecuteError::Store(e),
        }
    }
}
