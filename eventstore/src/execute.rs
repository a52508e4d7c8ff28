//! The one entry point that runs a command on an aggregate.
//!
//! `execute` loads the aggregate, lets it decide, and appends what it decided together with
//! the command record. If another writer appended first, it reloads and decides again, a
//! bounded number of times. A command id seen before returns the recorded outcome and
//! appends nothing, whether the repeat arrives later or at the same moment.

use std::time::{Duration, Instant};

use berth_domain::aggregate::Consequences;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use tracing::instrument;

use crate::append::{AppendError, SideWrite, Staged};
use crate::error::StoreError;
use crate::metadata::CommandMetadata;
use crate::store::EventStore;

/// What a command did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The aggregate's version after the command.
    pub version: i64,
    /// How many events it appended.
    pub events: usize,
    /// True when this was a repeat of a command already executed: nothing was appended now.
    pub duplicate: bool,
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ExecuteError<E: std::error::Error> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Rejected(E),
    /// Other writers kept winning the race for the aggregate; try again later.
    #[error("the aggregate was changed concurrently {attempts} times in a row")]
    Conflict {
        /// How many attempts were made.
        attempts: u32,
    },
    /// A unique value the command needs is held by someone else.
    #[error("{scope} `{value}` is already taken")]
    Taken {
        /// What kind of value.
        scope: String,
        /// The value.
        value: String,
    },
    /// The command id was used before for another aggregate.
    #[error("command id {0} was already used for another aggregate")]
    CommandIdReused(uuid::Uuid),
    /// The timer this command fires was moved, cancelled or fired since it was leased.
    #[error("the timer changed since it was leased")]
    TimerChanged,
    /// The caller's credential was revoked, expired or changed role since it was
    /// authenticated: nothing was written.
    #[error("the caller's credential was revoked or changed")]
    CredentialChanged,
    /// The caller made the command conditional on a version the aggregate is no longer (or
    /// not yet) at.
    #[error("the resource is at version {current}, not {expected}")]
    PreconditionFailed {
        /// The version the caller expected.
        expected: i64,
        /// The version it is at.
        current: i64,
    },
    /// The command was made within a tenant, and the aggregate does not exist or belongs to
    /// another tenant.
    #[error("no such resource in this tenant")]
    NotFound,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How hard `execute` tries before answering with a conflict.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Pause before the second attempt; doubled each time, with jitter.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 8, base_delay: Duration::from_millis(2) }
    }
}

impl EventStore {
    /// Runs `command` on the aggregate `aggregate_id` of type `A` with `metadata`.
    pub async fn execute<A: Consequences>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
        retry: RetryPolicy,
    ) -> Result<CommandOutcome, ExecuteError<A::Error>> {
        self.execute_with::<A>(aggregate_id, command, metadata, retry, &[]).await
    }

    /// Like [`EventStore::execute`], with writes that commit together with the events.
    pub async fn execute_with<A: Consequences>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
        retry: RetryPolicy,
        side_writes: &[SideWrite],
    ) -> Result<CommandOutcome, ExecuteError<A::Error>> {
        self.execute_at::<A>(aggregate_id, command, metadata, retry, side_writes, None).await
    }

    /// Like [`EventStore::execute_with`], only if the aggregate is at version `expected` when the
    /// command is decided (a caller's `If-Match`): another version is a precondition failure,
    /// and a concurrent writer that wins the race makes it one too.
    #[instrument(skip_all, fields(aggregate = A::TYPE, aggregate_id = %aggregate_id, command_id = %metadata.command_id))]
    pub async fn execute_at<A: Consequences>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
        retry: RetryPolicy,
        side_writes: &[SideWrite],
        expected: Option<i64>,
    ) -> Result<CommandOutcome, ExecuteError<A::Error>> {
        let started = Instant::now();
        let result =
            self.execute_inner::<A>(aggregate_id, command, metadata, retry, side_writes, expected).await;
        let outcome = match &result {
            Ok(o) if o.duplicate => "duplicate",
            Ok(_) => "applied",
            Err(ExecuteError::Rejected(_)) => "rejected",
            Err(ExecuteError::Conflict { .. }) => "conflict",
            Err(ExecuteError::CommandIdReused(_)) => "reused_id",
            Err(ExecuteError::Taken { .. }) => "taken",
            Err(ExecuteError::TimerChanged) => "stale_timer",
            Err(ExecuteError::PreconditionFailed { .. }) => "precondition_failed",
            Err(ExecuteError::CredentialChanged) => "credential_changed",
            Err(ExecuteError::NotFound) => "not_found",
            Err(ExecuteError::Store(_)) => "error",
        };
        metrics::counter!("berth_commands_total", "aggregate" => A::TYPE, "outcome" => outcome).increment(1);
        metrics::histogram!("berth_command_duration_seconds", "aggregate" => A::TYPE)
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn execute_inner<A: Consequences>(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &CommandMetadata,
        retry: RetryPolicy,
        side_writes: &[SideWrite],
        expected: Option<i64>,
    ) -> Result<CommandOutcome, ExecuteError<A::Error>> {
        // A repeated command id is recognised when it matters (the aggregate refuses the repeat,
        // or the command record collides), not with an extra query before every command.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let stage = Instant::now();
            let loaded = self.load::<A>(aggregate_id).await?;
            record_stage("load", stage);
            if metadata.within_tenant
                && (metadata.tenant_id.is_none() || loaded.aggregate.owner() != metadata.tenant_id)
            {
                return Err(ExecuteError::NotFound);
            }
            if let Some(expected) = expected.filter(|v| *v != loaded.version) {
                // A repeat of a command that already ran moved the version itself.
                return match self.previous_outcome::<A>(aggregate_id, metadata).await? {
                    Some(outcome) => Ok(outcome),
                    None => Err(ExecuteError::PreconditionFailed { expected, current: loaded.version }),
                };
            }
            let mut aggregate = loaded.aggregate;
            let sink = EventSink::default();
            let stage = Instant::now();
            let decided = aggregate.handle(command.clone(), &(), &sink).await;
            record_stage("decide", stage);
            if let Err(refusal) = decided {
                return match self.previous_outcome::<A>(aggregate_id, metadata).await? {
                    Some(outcome) => Ok(outcome),
                    None => Err(ExecuteError::Rejected(refusal)),
                };
            }
            let events = sink.collect().await;
            let staged = Staged::new::<A>(
                aggregate_id,
                loaded.version,
                loaded.hash,
                &events,
                &aggregate,
                self.snapshot_every(),
            )?;
            let stage = Instant::now();
            let committed = self.commit(std::slice::from_ref(&staged), side_writes, metadata).await;
            record_stage("append", stage);
            match committed {
                Ok(appended) => {
                    return Ok(CommandOutcome {
                        version: staged.new_version(),
                        events: appended[0].events,
                        duplicate: false,
                    })
                }
                Err(AppendError::Taken { scope, value }) => {
                    return match self.previous_outcome::<A>(aggregate_id, metadata).await? {
                        Some(outcome) => Ok(outcome),
                        None => Err(ExecuteError::Taken { scope, value }),
                    }
                }
                Err(AppendError::DuplicateCommand) => {
                    if let Some(outcome) = self.previous_outcome::<A>(aggregate_id, metadata).await? {
                        return Ok(outcome);
                    }
                }
                Err(AppendError::Conflict) if attempt < retry.max_attempts => {}
                Err(AppendError::Conflict) => return Err(ExecuteError::Conflict { attempts: attempt }),
                Err(AppendError::StaleTimer) => return Err(ExecuteError::TimerChanged),
                Err(AppendError::CredentialChanged) => return Err(ExecuteError::CredentialChanged),
                Err(AppendError::Store(error)) => return Err(error.into()),
            }
            tokio::time::sleep(backoff(retry.base_delay, attempt)).await;
        }
    }

    async fn previous_outcome<A: Aggregate>(
        &self,
        aggregate_id: &str,
        metadata: &CommandMetadata,
    ) -> Result<Option<CommandOutcome>, ExecuteError<A::Error>> {
        let Some(recorded) = self.recorded_outcome(metadata.command_id).await? else {
            return Ok(None);
        };
        if recorded.aggregate_type != A::TYPE || recorded.aggregate_id != aggregate_id {
            return Err(ExecuteError::CommandIdReused(metadata.command_id));
        }
        Ok(Some(CommandOutcome { version: recorded.version, events: recorded.events, duplicate: true }))
    }
}

/// Exponential backoff with full jitter drawn from the clock's sub-microsecond noise.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.min(8));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let fraction = f64::from(nanos % 1000) / 1000.0;
    ceiling.mul_f64(0.5 + fraction / 2.0)
}

/// Time spent in one stage of a command (`load`, `decide`, `append`): `berth bench` reads these
/// back as its profile of a command.
pub(crate) fn record_stage(stage: &'static str, started: Instant) {
    metrics::histogram!("berth_command_stage_seconds", "stage" => stage)
        .record(started.elapsed().as_secs_f64());
}
