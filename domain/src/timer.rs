//! Durable timers: a command to run on an aggregate at a given time.
//!
//! An aggregate declares, next to its events, which timers an event schedules or cancels
//! ([`crate::aggregate::Consequences::timers`]); the event store writes them in the same
//! transaction as the events, and any sagas process fires a due timer once, as the declared
//! command on the declaring aggregate. Each timer's own history (scheduled, cancelled, fired)
//! is recorded as events of the `timer` aggregate, whose id is the timer's key.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Refusal, RefusalKind};

/// A timer's key: unique across the platform, such as `invitation-expiry:<id>`. 1 to 200
/// characters of lower-case ASCII letters, digits and `:._-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimerKey(String);

/// A string that is not a timer key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a timer key is 1 to 200 characters of a-z, 0-9 and `:._-`")]
pub struct TimerKeyError;

impl TimerKey {
    /// Checks a key.
    pub fn parse(key: &str) -> Result<Self, TimerKeyError> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ":._-".contains(c);
        if key.is_empty() || key.len() > 200 || !key.chars().all(allowed) {
            return Err(TimerKeyError);
        }
        Ok(Self(key.to_owned()))
    }

    /// A key made of a purpose and an id (`invitation-expiry`, a UUID): always valid.
    pub fn for_id(purpose: &'static str, id: uuid::Uuid) -> Self {
        Self(format!("{purpose}:{id}"))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TimerKey {
    type Error = TimerKeyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<TimerKey> for String {
    fn from(value: TimerKey) -> Self {
        value.0
    }
}

impl std::fmt::Display for TimerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an event does to a timer of its aggregate. Scheduling a key that is already scheduled
/// moves it (new time, new command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerChange<C> {
    /// Run `command` on this aggregate at `due_at`.
    Schedule {
        /// The timer.
        key: TimerKey,
        /// When.
        due_at: OffsetDateTime,
        /// What.
        command: C,
    },
    /// Do not run it after all (nothing happens if it already fired or never existed).
    Cancel {
        /// The timer.
        key: TimerKey,
    },
}

/// How a fired timer's command ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerOutcome {
    /// The command ran (it may have had nothing to do).
    Applied,
    /// The aggregate refused the command: the state had moved on.
    Refused {
        /// The refusal's code.
        code: String,
        /// Why, in words.
        reason: String,
    },
}

/// Something that happened to a timer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerEvent {
    /// The timer was scheduled (or moved).
    Scheduled {
        /// The timer.
        key: TimerKey,
        /// When it fires.
        #[serde(with = "time::serde::rfc3339")]
        due_at: OffsetDateTime,
        /// The aggregate type the command is for.
        target_type: String,
        /// The aggregate the command is for.
        target_id: String,
        /// The command, as that aggregate serializes it.
        command: serde_json::Value,
    },
    /// The timer was cancelled before it fired.
    Cancelled {
        /// The timer.
        key: TimerKey,
    },
    /// The timer fired.
    Fired {
        /// The timer.
        key: TimerKey,
        /// How its command ended.
        outcome: TimerOutcome,
    },
}

impl DomainEvent for TimerEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Scheduled { .. } => "TimerScheduled",
            Self::Cancelled { .. } => "TimerCancelled",
            Self::Fired { .. } => "TimerFired",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Timers take no commands from callers: the event store records their events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimerCommand {}

/// Why a timer command was refused (never: there are none).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timers take no commands")]
pub struct TimerError;

impl Refusal for TimerError {
    fn code(&self) -> &'static str {
        "timer-command"
    }
    fn kind(&self) -> RefusalKind {
        RefusalKind::Rule
    }
}

/// Where a timer stands, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    key: Option<TimerKey>,
    #[serde(with = "time::serde::rfc3339::option")]
    due_at: Option<OffsetDateTime>,
    pending: bool,
}

impl Timer {
    /// When it fires, if it is scheduled and has not fired.
    pub fn due_at(&self) -> Option<OffsetDateTime> {
        self.due_at.filter(|_| self.pending)
    }
}

impl Aggregate for Timer {
    const TYPE: &'static str = "timer";
    type Command = TimerCommand;
    type Event = TimerEvent;
    type Error = TimerError;
    type Services = ();

    async fn handle(&mut self, command: TimerCommand, _: &(), _: &EventSink<Self>) -> Result<(), TimerError> {
        match command {}
    }

    fn apply(&mut self, event: TimerEvent) {
        match event {
            TimerEvent::Scheduled { key, due_at, .. } => {
                self.key = Some(key);
                self.due_at = Some(due_at);
                self.pending = true;
            }
            TimerEvent::Cancelled { .. } | TimerEvent::Fired { .. } => self.pending = false,
        }
    }
}

impl crate::aggregate::Consequences for Timer {}
