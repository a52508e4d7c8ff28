//! Commands that must change several aggregates at once, atomically.
//!
//! Registering an organization creates its owner's user and the organization together; a
//! half-done registration (a user without an organization) must not exist. A unit of work
//! decides each command against its freshly loaded aggregate, then commits every event, the
//! side writes and one command record in a single transaction. A conflict is reported, not
//! retried: the caller decides whether deciding again makes sense (issuing a document does it
//! with a bounded number of attempts, see `billing`).

use berth_domain::aggregate::Consequences;
use berth_domain::error::Refused;
use cqrs_es::event_sink::EventSink;

use crate::append::{AppendError, Command, SideWrite, Staged};
use crate::error::StoreError;
use crate::execute::CommandOutcome;
use crate::metadata::CommandMetadata;
use crate::store::{EventStore, Loaded};

/// Why a unit of work did not commit.
#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    /// An aggregate refused its command; the refusal keeps its type (`downcast_ref`).
    #[error("{0}")]
    Rejected(Refused),
    /// Another writer changed one of the aggregates meanwhile.
    #[error("an aggregate was changed concurrently")]
    Conflict,
    /// A unique value is held by someone else.
    #[error("{scope} `{value}` is already taken")]
    Taken {
        /// What kind of value.
        scope: String,
        /// The value.
        value: String,
    },
    /// The caller's credential was revoked or changed since it was authenticated.
    #[error("the caller's credential was revoked or changed")]
    CredentialChanged,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Commands decided but not yet committed.
pub struct UnitOfWork<'s> {
    store: &'s EventStore,
    staged: Vec<Staged>,
    side_writes: Vec<SideWrite>,
}

impl<'s> UnitOfWork<'s> {
    /// An empty unit of work on `store`.
    pub fn new(store: &'s EventStore) -> Self {
        Self { store, staged: Vec::new(), side_writes: Vec::new() }
    }

    /// Loads the aggregate and decides `command` against it.
    pub async fn decide<A: Consequences>(
        &mut self,
        aggregate_id: &str,
        command: A::Command,
    ) -> Result<&mut Self, UnitError> {
        let started = std::time::Instant::now();
        let loaded = self.store.load::<A>(aggregate_id).await?;
        crate::execute::record_stage("load", started);
        self.decide_loaded(aggregate_id, loaded, command).await
    }

    /// Decides `command` against an aggregate the caller loaded (and read) already. The
    /// commit then expects the aggregate still at the version it was loaded at: if anyone
    /// appended to it since, the unit fails with [`UnitError::Conflict`], so a decision the
    /// caller based on what it read (the next number of a series) is never committed stale.
    pub async fn decide_loaded<A: Consequences>(
        &mut self,
        aggregate_id: &str,
        loaded: Loaded<A>,
        command: A::Command,
    ) -> Result<&mut Self, UnitError> {
        let mut aggregate = loaded.aggregate;
        let sink = EventSink::default();
        let started = std::time::Instant::now();
        let decided = aggregate.handle(command, &(), &sink).await;
        crate::execute::record_stage("decide", started);
        decided.map_err(|e| UnitError::Rejected(Refused::new(A::TYPE, e)))?;
        let events = sink.collect().await;
        let staged = Staged::new::<A>(
            aggregate_id,
            loaded.version,
            loaded.hash,
            &events,
            &aggregate,
            self.store.snapshot_every(),
        )?;
        self.staged.push(staged);
        Ok(self)
    }

    /// Decides `command` against an aggregate loaded earlier and keeps `loaded` as the
    /// aggregate will be after this unit: the next decision on it (in another unit committed in
    /// the same [`UnitOfWork::commit_together`]) follows this one's events. A refusal leaves
    /// `loaded` as it was.
    pub async fn decide_in_place<A: Consequences + Clone>(
        &mut self,
        aggregate_id: &str,
        loaded: &mut Loaded<A>,
        command: A::Command,
    ) -> Result<&mut Self, UnitError> {
        let mut aggregate = loaded.aggregate.clone();
        let sink = EventSink::default();
        aggregate
            .handle(command, &(), &sink)
            .await
            .map_err(|e| UnitError::Rejected(Refused::new(A::TYPE, e)))?;
        let events = sink.collect().await;
        let staged = Staged::new::<A>(
            aggregate_id,
            loaded.version,
            loaded.hash,
            &events,
            &aggregate,
            self.store.snapshot_every(),
        )?;
        loaded.aggregate = aggregate;
        loaded.version = staged.new_version();
        // Known once the events are hashed at commit; the commit chains them on.
        loaded.hash = None;
        self.staged.push(staged);
        Ok(self)
    }

    /// Adds a write that commits with the events.
    pub fn side_write(&mut self, write: impl Into<SideWrite>) -> &mut Self {
        self.side_writes.push(write.into());
        self
    }

    /// Commits everything; the outcome is the first aggregate's.
    pub async fn commit(self, metadata: &CommandMetadata) -> Result<CommandOutcome, UnitError> {
        // A repeated command id is recognised when its record (or a claim it repeats) collides,
        // not with a lookup before every commit.
        let started = std::time::Instant::now();
        let committed = self.store.commit(&self.staged, &self.side_writes, metadata).await;
        crate::execute::record_stage("append", started);
        match committed {
            Ok(appended) => Ok(CommandOutcome {
                version: appended.first().map_or(0, |a| a.version),
                events: appended.iter().map(|a| a.events).sum(),
                duplicate: false,
            }),
            Err(AppendError::Conflict | AppendError::StaleTimer) => Err(UnitError::Conflict),
            Err(AppendError::Taken { scope, value }) => {
                self.repeat(metadata).await?.ok_or(UnitError::Taken { scope, value })
            }
            Err(AppendError::DuplicateCommand) => self.repeat(metadata).await?.ok_or(UnitError::Conflict),
            Err(AppendError::CredentialChanged) => Err(UnitError::CredentialChanged),
            Err(AppendError::Store(error)) => Err(error.into()),
        }
    }

    /// Commits several units in one transaction, each with its own command record under its
    /// own metadata: all or none. Any failure is the whole commit's (a repeated command id is a
    /// [`UnitError::Conflict`] here: the caller commits the units one by one to tell which).
    pub async fn commit_together(
        units: &[(UnitOfWork<'s>, CommandMetadata)],
    ) -> Result<Vec<CommandOutcome>, UnitError> {
        let Some((first, _)) = units.first() else { return Ok(Vec::new()) };
        let commands: Vec<Command<'_>> = units
            .iter()
            .map(|(unit, metadata)| Command {
                staged: &unit.staged,
                side_writes: &unit.side_writes,
                metadata,
            })
            .collect();
        let started = std::time::Instant::now();
        let committed = first.store.commit_all(&commands).await;
        crate::execute::record_stage("append", started);
        match committed {
            Ok(appended) => Ok(appended
                .iter()
                .map(|one| CommandOutcome {
                    version: one.first().map_or(0, |a| a.version),
                    events: one.iter().map(|a| a.events).sum(),
                    duplicate: false,
                })
                .collect()),
            Err(
                AppendError::Conflict
                | AppendError::StaleTimer
                | AppendError::DuplicateCommand
                | AppendError::Taken { .. },
            ) => Err(UnitError::Conflict),
            Err(AppendError::CredentialChanged) => Err(UnitError::CredentialChanged),
            Err(AppendError::Store(error)) => Err(error.into()),
        }
    }

    /// The first outcome of this command id, if it already ran.
    async fn repeat(&self, metadata: &CommandMetadata) -> Result<Option<CommandOutcome>, UnitError> {
        let recorded = self.store.recorded_outcome(metadata.command_id).await?;
        Ok(recorded.map(|r| CommandOutcome { version: r.version, events: r.events, duplicate: true }))
    }
}
