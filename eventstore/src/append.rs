//! Appending: events of one or more aggregates, the command record, snapshots, the unique
//! values and timers the events declare, typed side writes, and the feed wake-up, all in one
//! transaction.

use berth_domain::aggregate::Consequences;
use berth_domain::timer::TimerChange;
use berth_domain::unique::UniqueChange;
use cqrs_es::DomainEvent;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::chain::{self, Hash};
use crate::credentials::CredentialWrite;
use crate::error::{unique_violation, StoreError};
use crate::metadata::CommandMetadata;
use crate::store::{to_i64, EventStore, FEED_CHANNEL};
use crate::timers::{self, StagedTimer, TimerFire};
use crate::vault::SealedSecret;

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
    /// The timer being fired was moved, cancelled or fired since it was leased.
    #[error("the timer changed since it was leased")]
    StaleTimer,
    /// The caller's credential was revoked, expired or changed role since it was authenticated.
    #[error("the caller's credential changed")]
    CredentialChanged,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Events decided for one aggregate, serialized and ready to append, with the unique values
/// and timers they declare.
#[derive(Debug, Clone)]
pub struct Staged {
    pub(crate) aggregate_type: &'static str,
    pub(crate) aggregate_id: String,
    pub(crate) expected_version: i64,
    pub(crate) events: Vec<(String, String, Value)>,
    pub(crate) snapshot: Option<Value>,
    pub(crate) uniques: Vec<UniqueChange>,
    pub(crate) timers: Vec<StagedTimer>,
    /// The hash of the aggregate's event at `expected_version`, when the load had it.
    pub(crate) prev_hash: Option<Hash>,
}

impl Staged {
    /// Stages `events` for `aggregate_id` after `expected_version`, whose event has the hash
    /// `prev_hash` (as the load found it); `state` is the aggregate after them, kept as a
    /// snapshot when the append crosses a multiple of `snapshot_every`.
    pub fn new<A: Consequences>(
        aggregate_id: &str,
        expected_version: i64,
        prev_hash: Option<Hash>,
        events: &[A::Event],
        state: &A,
        snapshot_every: i64,
    ) -> Result<Self, StoreError> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        let mut uniques = Vec::new();
        let mut timers = Vec::new();
        let mut serialized = Vec::with_capacity(events.len());
        for event in events {
            serialized.push((
                event.event_type(),
                event.event_version(),
                serde_json::to_value(event).map_err(corrupt)?,
            ));
            uniques.extend(state.uniques(event));
            for change in A::timers(aggregate_id, event) {
                timers.push(match change {
                    TimerChange::Schedule { key, due_at, command } => StagedTimer::Schedule {
                        key,
                        due_at,
                        aggregate_type: A::TYPE,
                        aggregate_id: aggregate_id.to_owned(),
                        command: serde_json::to_value(&command).map_err(corrupt)?,
                    },
                    TimerChange::Cancel { key } => StagedTimer::Cancel { key },
                });
            }
        }
        let new_version = expected_version + to_i64(serialized.len());
        let due = snapshot_every > 0 && new_version / snapshot_every > expected_version / snapshot_every;
        let snapshot = if due { Some(serde_json::to_value(state).map_err(corrupt)?) } else { None };
        Ok(Self {
            aggregate_type: A::TYPE,
            aggregate_id: aggregate_id.to_owned(),
            expected_version,
            events: serialized,
            snapshot,
            uniques,
            timers,
            prev_hash,
        })
    }

    /// The version after the append.
    pub fn new_version(&self) -> i64 {
        self.expected_version + to_i64(self.events.len())
    }
}

/// A write that must commit together with the events, or not at all. Unique values and timers
/// are not here: the aggregates declare them next to their events.
#[derive(Debug, Clone)]
pub enum SideWrite {
    /// A credential created, changed or revoked.
    Credential(CredentialWrite),
    /// A secret sealed under the master key.
    Secret(SealedSecret),
    /// The timer whose firing this command is: marked fired with the command's events.
    FireTimer(TimerFire),
}

impl From<CredentialWrite> for SideWrite {
    fn from(write: CredentialWrite) -> Self {
        Self::Credential(write)
    }
}

impl EventStore {
    /// Appends every staged aggregate, records the command, takes and gives back the declared
    /// unique values, writes timers and side writes and wakes feed readers, in one transaction.
    /// Without side writes, timers or a snapshot due, that is a single statement (atomic on its
    /// own): one round trip per command.
    pub async fn commit(
        &self,
        staged: &[Staged],
        side_writes: &[SideWrite],
        metadata: &CommandMetadata,
    ) -> Result<Vec<Appended>, AppendError> {
        if staged.is_empty() {
            return Err(AppendError::Store(StoreError::Corrupt("nothing staged".to_owned())));
        }
        let recorded_at = chain::to_micros(OffsetDateTime::now_utc());
        // Personal data is sealed before anything is hashed: the log and its hashes hold only
        // ciphertext. One key lookup for the whole command (cached keys cost none).
        let sealed;
        let staged = match self.keys() {
            Some(keys) => {
                sealed = crate::personal::staged::seal_staged(keys, staged, recorded_at).await?;
                &sealed[..]
            }
            None => staged,
        };
        let primary = &staged[0];
        // Events that shred subjects: their keys are destroyed in this transaction; what they
        // sealed is looked up first, to scrub from the views once it commits.
        let (shredded, reason) = crate::personal::staged::shredded_subjects(staged);
        let scrub_values = match (self.keys(), shredded.is_empty()) {
            (Some(keys), false) => keys.plaintexts(&shredded).await?,
            _ => Vec::new(),
        };
        let mut columns = EventColumns::default();
        for one in staged {
            let mut prev = match (one.prev_hash, one.expected_version) {
                _ if !self.chains() => chain::GENESIS,
                (Some(hash), _) => hash,
                (None, 0) => chain::GENESIS,
                // Written before the chain, or loaded without it: chain it first.
                (None, _) => {
                    let mut conn = self.pool().acquire().await.map_err(StoreError::from)?;
                    chain::heal(&mut conn, one.aggregate_type, &one.aggregate_id).await?
                }
            };
            for (offset, (event_type, event_version, payload)) in one.events.iter().enumerate() {
                let sequence = one.expected_version + to_i64(offset) + 1;
                let meta = event_metadata(metadata, recorded_at);
                let link = chain::Link {
                    aggregate_type: one.aggregate_type,
                    aggregate_id: &one.aggregate_id,
                    sequence,
                    event_type,
                    event_version,
                    payload,
                    metadata: &meta,
                    recorded_at,
                };
                let hash = self.chains().then(|| link.hash(&prev));
                prev = hash.unwrap_or(prev);
                columns.push(
                    one.aggregate_type,
                    &one.aggregate_id,
                    sequence,
                    event_type,
                    event_version,
                    payload,
                );
                columns.metadata.push(meta);
                columns.hash.push(hash.map(|h| h.to_vec()));
            }
        }
        let mut claims = ClaimColumns::default();
        let mut releases = ClaimColumns::default();
        for change in staged.iter().flat_map(|s| &s.uniques) {
            match change {
                UniqueChange::Claim(u) => claims.push(u.scope.as_str(), &u.value, &u.owner),
                UniqueChange::Release(u) => releases.push(u.scope.as_str(), &u.value, &u.owner),
            }
        }
        let staged_timers: Vec<&StagedTimer> = staged.iter().flat_map(|s| &s.timers).collect();
        let needs_transaction = !side_writes.is_empty()
            || !shredded.is_empty()
            || !staged_timers.is_empty()
            || staged.iter().any(|s| s.snapshot.is_some());
        let mut tx =
            if needs_transaction { Some(self.pool().begin().await.map_err(StoreError::from)?) } else { None };
        // Timers first: their rows give the sequence numbers of the timer events, which ride in
        // the same append statement as everything else.
        if let Some(tx) = tx.as_mut() {
            for timer in &staged_timers {
                if let Some(event) = timers::stage(tx, timer, metadata).await? {
                    columns.push_timer(event, event_metadata(metadata, recorded_at), recorded_at);
                }
            }
        }
        let total = columns.len();
        // The command record and the events in one statement, written after the aggregates
        // were read, so feed order keeps per-aggregate order.
        // The caller's credential is checked in the same statement (no round trip of its own):
        // when it no longer works as it did, nothing is written.
        let append = sqlx::query_scalar::<_, bool>(
            "WITH guard AS (
                 SELECT 1 WHERE $22::uuid IS NULL OR EXISTS (
                     SELECT 1 FROM credentials c
                      WHERE c.id = $22 AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now())
                        AND c.role IS NOT DISTINCT FROM $23)),
             command AS (
                 INSERT INTO commands (command_id, aggregate_type, aggregate_id, tenant_id, version, event_count)
                 SELECT $1, $2, $3, $4, $5, $6 FROM guard),
             appended AS (
                 INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, hash)
                 SELECT t, i, s, et, ev, p, m, $14, h
                   FROM UNNEST($7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::jsonb[], $13::jsonb[], $24::bytea[])
                        AS e(t, i, s, et, ev, p, m, h), guard),
             claimed AS (
                 INSERT INTO unique_claims (scope, value, owner)
                 SELECT c.s, c.v, c.o FROM UNNEST($16::text[], $17::text[], $18::text[]) AS c(s, v, o), guard),
             released AS (
                 DELETE FROM unique_claims u USING UNNEST($19::text[], $20::text[], $21::text[]) AS r(s, v, o), guard
                  WHERE u.scope = r.s AND u.value = r.v AND u.owner = r.o),
             notified AS (SELECT pg_notify($15, '') FROM guard WHERE $6 > 0)
             -- Counting `notified` makes it run (a plain SELECT in WITH runs only when read).
             SELECT EXISTS (SELECT 1 FROM guard) FROM (SELECT count(*) FROM notified) n",
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
        .bind(&releases.owner)
        .bind(metadata.credential.as_ref().map(|c| c.id))
        .bind(metadata.credential.as_ref().and_then(|c| c.role.clone()))
        .bind(&columns.hash);
        let appended = match tx.as_mut() {
            Some(tx) => append.fetch_one(&mut **tx).await,
            None => append.fetch_one(self.pool()).await,
        };
        match appended {
            Ok(true) => {}
            Ok(false) => return Err(AppendError::CredentialChanged),
            Err(error) => {
                return Err(match unique_violation(&error).as_deref() {
                    Some("commands_pkey") => AppendError::DuplicateCommand,
                    Some("events_pkey") => AppendError::Conflict,
                    Some("unique_claims_pkey") => self.which_taken(&claims).await,
                    _ => AppendError::Store(error.into()),
                })
            }
        }
        if let Some(tx) = tx.as_mut() {
            for one in staged {
                if let Some(state) = &one.snapshot {
                    store_snapshot(tx, one, state).await?;
                }
            }
            for write in side_writes {
                match write {
                    SideWrite::Credential(write) => write.apply(tx).await?,
                    SideWrite::Secret(secret) => secret.store(&mut **tx).await?,
                    SideWrite::FireTimer(fire) => {
                        timers::mark_fired(tx, fire, &event_metadata(metadata, recorded_at), recorded_at)
                            .await?
                    }
                }
            }
            crate::personal::destroy(tx, &shredded, &reason).await.map_err(StoreError::from)?;
        }
        if let Some(tx) = tx {
            tx.commit().await.map_err(StoreError::from)?;
        }
        if let (Some(keys), false) = (self.keys(), shredded.is_empty()) {
            keys.clear();
            // The keys are gone whatever happens next; a scrub that fails is logged and can be
            // run again (`berth gdpr scrub`), it does not undo the erasure.
            match crate::personal::scrub_all(self.pool(), &scrub_values).await {
                Ok(report) => {
                    tracing::info!(subjects = shredded.len(), tables = ?report.tables, "personal data shredded")
                }
                Err(error) => {
                    tracing::error!(%error, "personal data shredded, but the views could not be scrubbed")
                }
            }
        }
        metrics::counter!("berth_events_appended_total").increment(total as u64);
        Ok(staged.iter().map(|s| Appended { version: s.new_version(), events: s.events.len() }).collect())
    }

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

/// The metadata stored with one event of a command: its own fresh id and the command's.
pub(crate) fn event_metadata(metadata: &CommandMetadata, recorded_at: OffsetDateTime) -> Value {
    serde_json::to_value(metadata.for_event(Uuid::now_v7(), recorded_at)).unwrap_or_default()
}

async fn store_snapshot(tx: &mut sqlx::PgConnection, one: &Staged, state: &Value) -> Result<(), StoreError> {
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
    .execute(tx)
    .await?;
    Ok(())
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
    hash: Vec<Option<Vec<u8>>>,
}

impl EventColumns {
    fn push(
        &mut self,
        kind: &str,
        id: &str,
        sequence: i64,
        event_type: &str,
        version: &str,
        payload: &Value,
    ) {
        self.aggregate_type.push(kind.to_owned());
        self.aggregate_id.push(id.to_owned());
        self.sequence.push(sequence);
        self.event_type.push(event_type.to_owned());
        self.event_version.push(version.to_owned());
        self.payload.push(payload.clone());
    }

    fn push_timer(&mut self, event: timers::TimerEventRow, metadata: Value, recorded_at: OffsetDateTime) {
        let (event_type, version, payload) = event.serialized;
        let aggregate_type = <berth_domain::timer::Timer as cqrs_es::Aggregate>::TYPE;
        let link = chain::Link {
            aggregate_type,
            aggregate_id: &event.key,
            sequence: event.sequence,
            event_type: &event_type,
            event_version: &version,
            payload: &payload,
            metadata: &metadata,
            recorded_at,
        };
        self.hash.push(Some(link.hash(&event.prev_hash).to_vec()));
        self.push(aggregate_type, &event.key, event.sequence, &event_type, &version, &payload);
        self.metadata.push(metadata);
    }

    fn len(&self) -> usize {
        self.sequence.len()
    }
}
