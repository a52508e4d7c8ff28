//! Time as a dependency: sagas, timers and the edges read "now" from a [`Clock`], which tests
//! can set and move instead of waiting.

use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

/// Where "now" comes from.
pub trait Clock: Send + Sync + 'static {
    /// The current time (UTC).
    fn now(&self) -> OffsetDateTime;

    /// Changes whenever the clock is moved by hand (never for the system clock), so that work
    /// waiting for a time (timers) can look again at once.
    fn moved(&self) -> watch::Receiver<()>;
}

/// The system clock, optionally shifted by a fixed offset (`clock.offset_secs`, for drills and
/// for test processes that must live at another time).
#[derive(Debug)]
pub struct SystemClock {
    offset: Duration,
    moved: watch::Sender<()>,
}

impl SystemClock {
    /// The system clock shifted by `offset`.
    pub fn shifted(offset: Duration) -> Arc<Self> {
        Arc::new(Self { offset, moved: watch::channel(()).0 })
    }
}

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.offset
    }

    fn moved(&self) -> watch::Receiver<()> {
        self.moved.subscribe()
    }
}

/// A clock that stands still until told to move: for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<OffsetDateTime>,
    moved: watch::Sender<()>,
}

impl ManualClock {
    /// A clock showing `at`.
    pub fn at(at: OffsetDateTime) -> Arc<Self> {
        Arc::new(Self { now: Mutex::new(at), moved: watch::channel(()).0 })
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) += by;
        self.moved.send_replace(());
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = at;
        self.moved.send_replace(());
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn moved(&self) -> watch::Receiver<()> {
        self.moved.subscribe()
    }
}
