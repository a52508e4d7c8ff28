//! The timer worker: fires due durable timers, in any number of sagas processes at once.
//!
//! Each round leases a batch of due timers (rows another process holds are skipped), fires
//! them a few at a time, and goes back to sleep until the next one is due, the log moves (a
//! timer may have been scheduled), the clock is moved by hand, or the poll interval passes.
//! The firing itself, exactly once, is the event store's (`EventStore::fire`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_eventstore::clock::Clock;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::feed::FeedNotifier;
use berth_eventstore::shutdown::pause;
use berth_eventstore::store::EventStore;
use berth_eventstore::timers::{self, DueTimer, Fired};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::context::SagaContext;
use crate::saga::Worker;

/// The timer worker.
pub struct TimerFiring {
    store: EventStore,
    pool: PgPool,
    clock: Arc<dyn Clock>,
    notifier: FeedNotifier,
    retry: RetryPolicy,
    settings: TimerSettings,
}

/// `[sagas.timers]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimerSettings {
    /// Timers leased per round.
    pub batch: i64,
    /// Timers fired at once.
    pub concurrency: usize,
    /// Seconds a leased timer stays with this process before another may take it.
    pub lease_secs: u64,
    /// Seconds before a timer whose firing failed (storage, contention) is tried again.
    pub retry_secs: u64,
    /// Milliseconds between looks when nothing wakes the worker.
    pub poll_ms: u64,
}

impl Default for TimerSettings {
    fn default() -> Self {
        Self { batch: 200, concurrency: 16, lease_secs: 30, retry_secs: 5, poll_ms: 1000 }
    }
}

impl Worker for TimerFiring {
    const NAME: &'static str = "timers";
    type Settings = TimerSettings;

    fn build(context: &SagaContext, settings: &TimerSettings) -> Self {
        Self {
            store: context.store.clone(),
            pool: context.pool.clone(),
            clock: context.clock.clone(),
            notifier: context.timer_wakeups.clone(),
            retry: context.retry,
            settings: settings.clone(),
        }
    }

    async fn run(mut self, shutdown: CancellationToken) {
        let mut moved = self.clock.moved();
        while !shutdown.is_cancelled() {
            let fired = match self.round().await {
                Ok(fired) => fired,
                Err(error) => {
                    tracing::warn!(%error, "cannot lease due timers; retrying");
                    pause(&shutdown, Duration::from_secs(1)).await;
                    continue;
                }
            };
            if fired > 0 {
                continue;
            }
            let until_next = self.until_next_due().await;
            tokio::select! {
                () = self.notifier.wait(&shutdown) => {}
                _ = moved.changed() => {}
                () = tokio::time::sleep(until_next) => {}
            }
        }
    }
}

impl TimerFiring {
    /// Leases and fires one batch; how many were leased.
    async fn round(&self) -> Result<usize, sqlx::Error> {
        let lease = Duration::from_secs(self.settings.lease_secs.max(1));
        let due = timers::lease_due(&self.pool, self.clock.now(), self.settings.batch.max(1), lease).await?;
        let count = due.len();
        futures::stream::iter(due)
            .for_each_concurrent(
                self.settings.concurrency.max(1),
                |timer| async move { self.fire(&timer).await },
            )
            .await;
        Ok(count)
    }

    async fn fire(&self, timer: &DueTimer) {
        let started = Instant::now();
        let lateness = (self.clock.now() - timer.due_at).as_seconds_f64().max(0.0);
        let outcome = self.store.fire(timer, self.retry).await;
        let label = match &outcome {
            Fired::Applied => "applied",
            Fired::Refused(reason) => {
                tracing::info!(key = %timer.key, reason, "timer fired; its aggregate refused the command");
                "refused"
            }
            Fired::Stale => "stale",
            Fired::Later(error) => {
                tracing::warn!(key = %timer.key, error, attempts = timer.attempts, "timer not fired; will retry");
                let retry_in = Duration::from_secs(self.settings.retry_secs.max(1));
                if let Err(e) = timers::retry_later(&self.pool, timer, error, retry_in).await {
                    tracing::warn!(error = %e, key = %timer.key, "could not record the timer's failure");
                }
                "retry"
            }
        };
        metrics::counter!("berth_timers_fired_total", "outcome" => label).increment(1);
        if matches!(outcome, Fired::Applied | Fired::Refused(_)) {
            metrics::histogram!("berth_timer_fire_lateness_seconds").record(lateness);
            metrics::histogram!("berth_timer_fire_seconds").record(started.elapsed().as_secs_f64());
        }
    }

    /// How long until the next timer is due, at most the poll interval.
    async fn until_next_due(&self) -> Duration {
        let poll = Duration::from_millis(self.settings.poll_ms.max(10));
        let next: Option<time::OffsetDateTime> =
            sqlx::query_scalar("SELECT min(due_at) FROM timers WHERE status = 'scheduled'")
                .fetch_one(&self.pool)
                .await
                .unwrap_or(None);
        match next {
            Some(at) => {
                let wait = (at - self.clock.now()).as_seconds_f64().max(0.0);
                Duration::from_secs_f64(wait).min(poll)
            }
            None => poll,
        }
    }
}
