//! Appending: events of one or more aggregates, the command record, snapshots, the unique
//! values and timers the events declare, typed side writes, and the feed wake-up, all in one
//! transaction.

mod columns;

use std::borrow::Cow;
use std::collections::HashMap;

use berth_domain::aggregate::Consequences;
use berth_domain::timer::TimerChange;
use berth_domain::unique::UniqueChange;
use cqrs_es::DomainEvent;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use self::columns::{ClaimColumns, EventColumns};
use crate::chain::{self, Hash};
use crate::credentials::CredentialWrite;
use crate::error::{unique_violation, StoreError};
use crate::metadata::CommandMetadata;
use crate::store::{to_i64, EventStore};
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

/// One command of a commit: its staged aggregates, its side writes and its metadata (its own
/// command record).
#[derive(Debug, Clone, Copy)]
pub struct Command<'a> {
    /// The aggregates it appends to; the first is the one its record names.
    pub staged: &'a [Staged],
    /// Writes that commit with its events.
    pub side_writes: &'a [SideWrite],
    /// Its metadata.
    pub metadata: &'a CommandMetadata,
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
        let mut appended = self.commit_all(&[Command { staged, side_writes, metadata }]).await?;
        Ok(appended.pop().unwrap_or_default())
    }

    /// Commits several commands in one transaction, each with its own command record and
    /// metadata: all of them or none. A later command may append to an aggregate an earlier one
    /// staged (its `expected_version` after the earlier one's events, its previous hash unknown):
    /// its chain goes on from the earlier command's last event. A command that shreds personal
    /// data commits alone. The first error fails the whole commit; the outcomes are in order.
    pub async fn commit_all(&self, commands: &[Command<'_>]) -> Result<Vec<Vec<Appended>>, AppendError> {
        if commands.is_empty() || commands.iter().any(|c| c.staged.is_empty()) {
            return Err(AppendError::Store(StoreError::Corrupt("nothing staged".to_owned())));
        }
        let recorded_at = chain::to_micros(OffsetDateTime::now_utc());
        // Personal data is sealed before anything is hashed: the log and its hashes hold only
        // ciphertext. One key lookup per command (cached keys cost none).
        let mut sealed = Vec::with_capacity(commands.len());
        for command in commands {
            sealed.push(match self.keys() {
                Some(keys) => {
                    Cow::Owned(crate::personal::staged::seal_staged(keys, command.staged, recorded_at).await?)
                }
                None => Cow::Borrowed(command.staged),
            });
        }
        // Events that shred subjects: their keys are destroyed in this transaction; what they
        // sealed is looked up first, to scrub from the views once it commits.
        let (shredded, reason) = crate::personal::staged::shredded_subjects(&sealed[0]);
        if commands.len() > 1
            && sealed.iter().any(|s| !crate::personal::staged::shredded_subjects(s).0.is_empty())
        {
            return Err(AppendError::Store(StoreError::Corrupt("an erasure commits alone".to_owned())));
        }
        let scrub_values = match (self.keys(), shredded.is_empty()) {
            (Some(keys), false) => keys.plaintexts(&shredded).await?,
            _ => Vec::new(),
        };
        let mut heads: HashMap<(&str, &str), Hash> = HashMap::new();
        let mut prepared = Vec::with_capacity(commands.len());
        for (command, staged) in commands.iter().zip(&sealed) {
            prepared.push(self.rows(staged, command.metadata, recorded_at, &mut heads).await?);
        }
        let needs_transaction = commands.len() > 1
            || !commands[0].side_writes.is_empty()
            || !shredded.is_empty()
            || sealed.iter().flat_map(|s| s.iter()).any(|s| !s.timers.is_empty() || s.snapshot.is_some());
        let mut tx =
            if needs_transaction { Some(self.pool().begin().await.map_err(StoreError::from)?) } else { None };
        let mut outcomes = Vec::with_capacity(commands.len());
        for ((command, staged), rows) in commands.iter().zip(&sealed).zip(prepared) {
            let metadata = command.metadata;
            let Rows { mut columns, claims, releases } = rows;
            // Timers first: their rows give the sequence numbers of the timer events, which ride
            // in the same append statement as everything else.
            if let Some(tx) = tx.as_mut() {
                for timer in staged.iter().flat_map(|s| &s.timers) {
                    if let Some(event) = timers::stage(tx, timer, metadata).await? {
                        columns.push_timer(event, event_metadata(metadata, recorded_at), recorded_at);
                    }
                }
            }
            let statement = columns::Append { primary: &staged[0], metadata, recorded_at, columns: &columns };
            let appended = match tx.as_mut() {
                Some(tx) => statement.run(&mut **tx, &claims, &releases).await,
                None => statement.run(self.pool(), &claims, &releases).await,
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
                for one in staged.iter() {
                    if let Some(state) = &one.snapshot {
                        store_snapshot(tx, one, state).await?;
                    }
                }
                for write in command.side_writes {
                    match write {
                        SideWrite::Credential(write) => write.apply(tx).await?,
                        SideWrite::Secret(secret) => secret.store(&mut **tx).await?,
                        SideWrite::FireTimer(fire) => {
                            timers::mark_fired(tx, fire, &event_metadata(metadata, recorded_at), recorded_at)
                                .await?
                        }
                    }
                }
            }
            metrics::counter!("berth_events_appended_total").increment(columns.len() as u64);
            outcomes.push(
                staged
                    .iter()
                    .map(|s| Appended { version: s.new_version(), events: s.events.len() })
                    .collect(),
            );
        }
        if let Some(mut tx) = tx {
            crate::personal::destroy(&mut tx, &shredded, &reason).await.map_err(StoreError::from)?;
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
        Ok(outcomes)
    }

    /// The rows one command appends: its events, chained (from `heads`, the last hash of each
    /// aggregate an earlier command of the same commit appended to, which this one updates),
    /// and the unique values it claims and releases.
    async fn rows<'s>(
        &self,
        staged: &'s [Staged],
        metadata: &CommandMetadata,
        recorded_at: OffsetDateTime,
        heads: &mut HashMap<(&'s str, &'s str), Hash>,
    ) -> Result<Rows, AppendError> {
        let mut columns = EventColumns::default();
        for one in staged {
            let key = (one.aggregate_type, one.aggregate_id.as_str());
            let mut prev = match (heads.get(&key), one.prev_hash, one.expected_version) {
                _ if !self.chains() => chain::GENESIS,
                (Some(head), _, _) => *head,
                (None, Some(hash), _) => hash,
                (None, None, 0) => chain::GENESIS,
                // Written before the chain, or loaded without it: chain it first.
                (None, None, _) => {
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
            heads.insert(key, prev);
        }
        let mut claims = ClaimColumns::default();
        let mut releases = ClaimColumns::default();
        for change in staged.iter().flat_map(|s| &s.uniques) {
            match change {
                UniqueChange::Claim(u) => claims.push(u.scope.as_str(), &u.value, &u.owner),
                UniqueChange::Release(u) => releases.push(u.scope.as_str(), &u.value, &u.owner),
            }
        }
        Ok(Rows { columns, claims, releases })
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

/// What one command appends, column by column.
struct Rows {
    columns: EventColumns,
    claims: ClaimColumns,
    releases: ClaimColumns,
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
