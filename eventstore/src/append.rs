//! Appending: events of one or more aggregates, the command record, snapshots, uniqueness
//! claims and other side writes, and the feed wake-up, all in one transaction.

use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{unique_violation, StoreError};
use crate::metadata::CommandMetadata;
use crate::store::{to_i64, EventStore, FEED_CHANNEL};

/// What a successful append did to one aggregate.
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
    /// A uniqueness claim is held by someone else.
    #[error("{scope} `{value}` is already taken")]
    Taken {
        /// What kind of value (`domain`, `email`).
        scope: String,
        /// The value.
        value: String,
    },
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Events decided for one aggregate, serialized and ready to append.
#[derive(Debug, Clone)]
pub struct Staged {
    aggregate_type: &'static str,
    aggregate_id: String,
    expected_version: i64,
    events: Vec<(String, String, Value)>,
    snapshot: Option<Value>,
}

impl Staged {
    /// Stages `events` for `aggregate_id` after `expected_version`; `state` is the aggregate
    /// after them, kept as a snapshot when the append crosses a multiple of `snapshot_every`.
    pub fn new<A: Aggregate>(
        aggregate_id: &str,
        expected_version: i64,
        events: &[A::Event],
        state: &A,
        snapshot_every: i64,
    ) -> Result<Self, StoreError> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        let events = events
            .iter()
            .map(|e| Ok((e.event_type(), e.event_version(), serde_json::to_value(e).map_err(corrupt)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let new_version = expected_version + to_i64(events.len());
        let due = snapshot_every > 0 && new_version / snapshot_every > expected_version / snapshot_every;
        let snapshot = if due { Some(serde_json::to_value(state).map_err(corrupt)?) } else { None };
        Ok(Self {
            aggregate_type: A::TYPE,
            aggregate_id: aggregate_id.to_owned(),
            expected_version,
            events,
            snapshot,
        })
    }

    /// The version after the append.
    pub fn new_version(&self) -> i64 {
        self.expected_version + to_i64(self.events.len())
    }
}

/// A value bound into a side write's SQL.
#[derive(Debug, Clone)]
pub enum SqlArg {
    /// `text`
    Text(Option<String>),
    /// `uuid`
    Uuid(Option<Uuid>),
    /// `timestamptz`
    Time(Option<OffsetDateTime>),
    /// `bytea`
    Bytes(Vec<u8>),
}

/// A write that must commit together with the events, or not at all.
#[derive(Debug, Clone)]
pub enum SideWrite {
    /// Takes a platform-wide unique value (a domain, an email) for `owner`.
    Claim {
        /// What kind of value.
        scope: String,
        /// The value.
        value: String,
        /// Who takes it (`site:<id>`).
        owner: String,
    },
    /// Gives a unique value back, if `owner` holds it.
    Release {
        /// What kind of value.
        scope: String,
        /// The value.
        value: String,
        /// Who held it.
        owner: String,
    },
    /// Any other statement (credentials, for instance).
    Statement {
        /// The SQL, with `$1..$n` placeholders.
        sql: &'static str,
        /// The values for the placeholders.
        args: Vec<SqlArg>,
    },
}

impl EventStore {
    /// Appends every staged aggregate, records the command, applies the side writes and wakes
    /// feed readers, in one transaction. Without side writes or a snapshot due, that is a
    /// single statement (atomic on its own): one round trip per command.
    pub async fn commit(
        &self,
        staged: &[Staged],
        side_writes: &[SideWrite],
        metadata: &CommandMetadata,
    ) -> Result<Vec<Appended>, AppendError> {
        let Some(primary) = staged.first() else {
            return Err(AppendError::Store(StoreError::Corrupt("nothing staged".to_owned())));
        };
        let total: usize = staged.iter().map(|s| s.events.len()).sum();
        let recorded_at = OffsetDateTime::now_utc();
        let mut columns = EventColumns::default();
        for one in staged {
            for (offset, (event_type, event_version, payload)) in one.events.iter().enumerate() {
                columns.aggregate_type.push(one.aggregate_type.to_owned());
                columns.aggregate_id.push(one.aggregate_id.clone());
                columns.sequence.push(one.expected_version + to_i64(offset) + 1);
                columns.event_type.push(event_type.clone());
                columns.event_version.push(event_version.clone());
                columns.payload.push(payload.clone());
                let event_metadata = metadata.for_event(Uuid::now_v7(), recorded_at);
                columns.metadata.push(serde_json::to_value(event_metadata).unwrap_or_default());
            }
        }
        // Claims and releases of unique values ride in the append statement; only other side
        // writes and snapshots need a transaction around it.
        let mut claims = ClaimColumns::default();
        let mut releases = ClaimColumns::default();
        let mut statements = Vec::new();
        for write in side_writes {
            match write {
                SideWrite::Claim { scope, value, owner } => claims.push(scope, value, owner),
                SideWrite::Release { scope, value, owner } => releases.push(scope, value, owner),
                SideWrite::Statement { .. } => statements.push(write),
            }
        }
        let needs_transaction = !statements.is_empty() || staged.iter().any(|s| s.snapshot.is_some());
        let mut tx =
            if needs_transaction { Some(self.pool().begin().await.map_err(StoreError::from)?) } else { None };
        // The command record and the events in one statement. The command row is written first,
        // after the aggregates were read, so feed order keeps per-aggregate order.
        let append = sqlx::query(
            "WITH command AS (
                 INSERT INTO commands (command_id, aggregate_type, aggregate_id, tenant_id, version, event_count)
                 VALUES ($1, $2, $3, $4, $5, $6)),
             appended AS (
                 INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at)
                 SELECT t, i, s, et, ev, p, m, $14
                   FROM UNNEST($7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::jsonb[], $13::jsonb[])
                        AS e(t, i, s, et, ev, p, m)),
             claimed AS (
                 INSERT INTO unique_claims (scope, value, owner)
                 SELECT * FROM UNNEST($16::text[], $17::text[], $18::text[])),
             released AS (
                 DELETE FROM unique_claims u USING UNNEST($19::text[], $20::text[], $21::text[]) AS r(s, v, o)
                  WHERE u.scope = r.s AND u.value = r.v AND u.owner = r.o)
             SELECT CASE WHEN $6 > 0 THEN pg_notify($15, '') END",
        )
        .bind(metadata.command_id)
        .bind(primary.aggregate_type)
        .bind(&primary.aggregate_id)
        .bind(metadata.tenant_id)
        .bind(primary.new_version())
        .bind(i32::try_from(total).unwrap_or(i32::MAX))
        .bind(&columns.aggregate_type)
        .bind(&columns.aggregate_id)
        .bind(&columns.sequence)
        .bind(&columns.event_type)
        .bind(&columns.event_version)
        .bind(&columns.payload)
        .bind(&columns.metadata)
        .bind(recorded_at)
        .bind(FEED_CHANNEL)
        .bind(&claims.scope)
        .bind(&claims.value)
        .bind(&claims.owner)
        .bind(&releases.scope)
        .bind(&releases.value)
        .bind(&releases.owner);
        let appended = match tx.as_mut() {
            Some(tx) => append.execute(&mut **tx).await,
            None => append.execute(self.pool()).await,
        };
        if let Err(error) = appended {
            return Err(match unique_violation(&error).as_deref() {
                Some("commands_pkey") => AppendError::DuplicateCommand,
                Some("events_pkey") => AppendError::Conflict,
                Some("unique_claims_pkey") => self.which_taken(&claims).await,
                _ => AppendError::Store(error.into()),
            });
        }
        if let Some(tx) = tx.as_mut() {
            for one in staged {
                if let Some(state) = &one.snapshot {
                    sqlx::query(
                        "INSERT INTO aggregate_snapshots (aggregate_type, aggregate_id, sequence, state)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE
                           SET sequence = EXCLUDED.sequence, state = EXCLUDED.state, taken_at = now()
                           WHERE aggregate_snapshots.sequence < EXCLUDED.sequence",
                    )
                    .bind(one.aggregate_type)
                    .bind(&one.aggregate_id)
                    .bind(one.new_version())
                    .bind(state)
                    .execute(&mut **tx)
                    .await
                    .map_err(StoreError::from)?;
                }
            }
            for write in statements {
                apply_side_write(tx, write).await?;
            }
        }
        if let Some(tx) = tx {
            tx.commit().await.map_err(StoreError::from)?;
        }
        metrics::counter!("berth_events_appended_total").increment(total as u64);
        Ok(staged.iter().map(|s| Appended { version: s.new_version(), events: s.events.len() }).collect())
    }
}

impl EventStore {
    /// Which of `claims` someone else holds (asked only after a claim failed).
    async fn which_taken(&self, claims: &ClaimColumns) -> AppendError {
        let taken: Result<Option<(String, String)>, sqlx::Error> = sqlx::query_as(
            "SELECT u.scope, u.value FROM unique_claims u JOIN UNNEST($1::text[], $2::text[]) AS c(s, v)
               ON u.scope = c.s AND u.value = c.v LIMIT 1",
        )
        .bind(&claims.scope)
        .bind(&claims.value)
        .fetch_optional(self.pool())
        .await;
        match taken {
            Ok(Some((scope, value))) => AppendError::Taken { scope, value },
            // Released again in between: report the first claim.
            Ok(None) => AppendError::Taken {
                scope: claims.scope.first().cloned().unwrap_or_default(),
                value: claims.value.first().cloned().unwrap_or_default(),
            },
            Err(error) => AppendError::Store(error.into()),
        }
    }
}

/// Unique values to claim or release, column by column.
#[derive(Default)]
struct ClaimColumns {
    scope: Vec<String>,
    value: Vec<String>,
    owner: Vec<String>,
}

impl ClaimColumns {
    fn push(&mut self, scope: &str, value: &str, owner: &str) {
        self.scope.push(scope.to_owned());
        self.value.push(value.to_owned());
        self.owner.push(owner.to_owned());
    }
}

/// The events of one append, column by column, for a single `UNNEST` insert.
#[derive(Default)]
struct EventColumns {
    aggregate_type: Vec<String>,
    aggregate_id: Vec<String>,
    sequence: Vec<i64>,
    event_type: Vec<String>,
    event_version: Vec<String>,
    payload: Vec<Value>,
    metadata: Vec<Value>,
}

async fn apply_side_write(tx: &mut sqlx::PgConnection, write: &SideWrite) -> Result<(), AppendError> {
    run_statement(tx, write).await.map_err(AppendError::from)
}

/// Runs a [`SideWrite::Statement`] on its own (claims and releases belong in an append and are
/// ignored here), for writes that need no event, such as a login session.
pub async fn run_statement<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    write: &SideWrite,
) -> Result<(), StoreError> {
    let SideWrite::Statement { sql, args } = write else {
        return Ok(());
    };
    let mut query = sqlx::query(sql);
    for arg in args {
        query = match arg {
            SqlArg::Text(v) => query.bind(v.clone()),
            SqlArg::Uuid(v) => query.bind(*v),
            SqlArg::Time(v) => query.bind(*v),
            SqlArg::Bytes(v) => query.bind(v.clone()),
        };
    }
    query.execute(executor).await?;
    Ok(())
}
