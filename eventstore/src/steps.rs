//! The saga runtime: a durable JetStream consumer whose handler receives typed events
//! ([`Recorded`], decoded once through the registry) and answers with an [`Outcome`].
//!
//! No transaction is held while a step runs (steps run commands over SSH or wait for HTTP
//! answers for seconds, and an open transaction would hold back the feed's
//! `pg_snapshot_xmin` bound for every reader). A step must therefore be safe to run again: it
//! records its outcomes as commands with ids derived from the event and the step, and its side
//! effects are idempotent. The event is marked processed only once the step is done; "retry
//! later" leaves it unacknowledged for a redelivery after a growing delay, and "failed" records
//! it in `dead_letters` at once. While a step runs, the message's ack deadline is extended every third of
//! `ack_wait`; if the process dies, the deadline lapses and another instance takes the event
//! over after `ack_wait`. Several events are worked on at once, up to `concurrency`.
//!
//! `concurrency` is this process's limit, not the consumer's: a process only asks the server
//! for as many messages as it has free slots (one pull request at a time, sized to them), so
//! nothing waits in its buffer with a running ack deadline, and N processes work on up to N ×
//! `concurrency` events. The durable consumer's own cap,
//! [`MAX_ACK_PENDING`](crate::consumer::MAX_ACK_PENDING), only bounds a
//! whole fleet.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind};
use futures::StreamExt;
use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::consumer::{dead_letter, decode, durable, settle_failure, ConsumerSettings, Disposition};
use crate::recorded::Recorded;
use crate::shutdown::pause;

/// How a saga's handling of one event ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done (including "nothing to do"): the event is acknowledged and not seen again.
    Done,
    /// Not now (storage or a node unreachable for a moment, a lost race): redelivered later.
    RetryLater(String),
    /// Never: recorded in `dead_letters` with the reason, and not redelivered.
    Failed(String),
}

impl Outcome {
    /// "Retry later" for any displayable cause.
    pub fn later(cause: impl std::fmt::Display) -> Self {
        Self::RetryLater(cause.to_string())
    }
}

/// Work triggered by an event, done outside the database and safe to repeat.
pub trait Step: Send + Sync + 'static {
    /// Whether this step cares about `event` at all (others are acknowledged untouched).
    fn wants(&self, event: &Recorded) -> bool;

    /// Does the work for `event`.
    fn run<'a>(&'a self, event: &'a Recorded) -> impl Future<Output = Outcome> + Send + 'a;
}

/// Runs `step` on the consumer `settings` of `stream_name`, `concurrency` events at a time,
/// until `shutdown`.
pub async fn run_steps<S: Step>(
    pool: PgPool,
    jetstream: jetstream::Context,
    stream_name: String,
    settings: ConsumerSettings,
    step: Arc<S>,
    concurrency: usize,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    run_consumer(&pool, &jetstream, &stream_name, &settings, &step, &permits, &shutdown).await;
}

/// Runs `step` on several consumers of `stream_name` (one per aggregate type, say), each
/// `concurrency` events at a time, until `shutdown`. The consumers are all created first, and
/// the ones they replace deleted, before any of them is read.
pub async fn run_steps_on_each<S: Step>(
    pool: PgPool,
    jetstream: jetstream::Context,
    stream_name: String,
    consumers: Vec<ConsumerSettings>,
    step: Arc<S>,
    concurrency: usize,
    shutdown: CancellationToken,
) {
    let mut retry = Retry::default();
    while !shutdown.is_cancelled() {
        match crate::consumer::take_over(&jetstream, &stream_name, &consumers).await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(%error, "step consumers not created; retrying");
                retry.pause(&shutdown).await;
            }
        }
    }
    // Each consumer has slots of its own: shared, a pull of one type waiting for its batch to
    // fill would hold the slots the other types' events need.
    let runs = consumers.iter().map(|settings| {
        let (pool, jetstream, stream_name, step, shutdown) =
            (&pool, &jetstream, &stream_name, &step, &shutdown);
        async move {
            let permits = Arc::new(Semaphore::new(concurrency.max(1)));
            run_consumer(pool, jetstream, stream_name, settings, step, &permits, shutdown).await;
        }
    });
    futures::future::join_all(runs).await;
}

async fn run_consumer<S: Step>(
    pool: &PgPool,
    jetstream: &jetstream::Context,
    stream_name: &str,
    settings: &ConsumerSettings,
    step: &Arc<S>,
    permits: &Arc<Semaphore>,
    shutdown: &CancellationToken,
) {
    let mut retry = Retry::default();
    while !shutdown.is_cancelled() {
        let result = consume(pool, jetstream, stream_name, settings, step, permits, shutdown).await;
        if let Err(error) = result {
            tracing::warn!(%error, consumer = settings.durable_name(), "step consumer interrupted; reconnecting");
            retry.pause(shutdown).await;
        }
    }
}

/// The pause before reconnecting: 100 ms at first (a process starting beside the relay that
/// creates the stream finds it a moment later), doubling to a second while failures follow
/// each other, and short again after a consumer ran for a while.
#[derive(Default)]
struct Retry {
    failures: u32,
    last: Option<std::time::Instant>,
}

impl Retry {
    async fn pause(&mut self, shutdown: &CancellationToken) {
        if self.last.is_some_and(|last| last.elapsed() > Duration::from_secs(10)) {
            self.failures = 0;
        }
        let delay =
            Duration::from_millis(100).saturating_mul(1 << self.failures.min(4)).min(Duration::from_secs(1));
        self.failures += 1;
        pause(shutdown, delay).await;
        self.last = Some(std::time::Instant::now());
    }
}

/// How long one pull request waits for messages before the next is sent.
const PULL_EXPIRES: Duration = Duration::from_secs(3);

async fn consume<S: Step>(
    pool: &PgPool,
    jetstream: &jetstream::Context,
    stream_name: &str,
    settings: &ConsumerSettings,
    step: &Arc<S>,
    permits: &Arc<Semaphore>,
    shutdown: &CancellationToken,
) -> Result<(), async_nats::Error> {
    let consumer = durable(jetstream, stream_name, settings).await?;
    let mut running = JoinSet::new();
    let in_flight = InFlight::default();
    'pulling: while !shutdown.is_cancelled() {
        // Every free slot, taken before asking: a message the server hands over is worked on
        // at once, never left waiting in a buffer while its ack deadline runs.
        let mut slots = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => vec![permit.expect("the semaphore is never closed")],
        };
        while let Ok(permit) = permits.clone().try_acquire_owned() {
            slots.push(permit);
        }
        let mut batch = consumer.batch().max_messages(slots.len()).expires(PULL_EXPIRES).messages().await?;
        loop {
            let next = tokio::select! {
                () = shutdown.cancelled() => break 'pulling,
                next = batch.next() => next,
            };
            let Some(message) = next else { break };
            let message = message?;
            let Some(permit) = slots.pop() else { break };
            let (pool, settings, step) = (pool.clone(), settings.clone(), step.clone());
            let in_flight = in_flight.clone();
            let keys = crate::personal::current();
            running.spawn(crate::personal::scoped(keys, async move {
                let disposition = process(&pool, &settings, &*step, &message, &in_flight).await;
                drop(permit);
                match disposition {
                    Ok(disposition) => {
                        metrics::counter!("berth_consumer_messages_total", "consumer" => settings.name.clone(),
                            "disposition" => format!("{disposition:?}").to_lowercase())
                        .increment(1);
                    }
                    Err(error) => tracing::warn!(%error, consumer = %settings.name, "step message not settled"),
                }
            }));
        }
        // Slots the batch did not fill go back with `slots`.
        while running.try_join_next().is_some() {}
    }
    // Work under way is abandoned on shutdown: its deadline lapses and the event is redelivered.
    running.abort_all();
    while running.join_next().await.is_some() {}
    Ok(())
}

/// The event ids this process is working on: a copy of one of them (republished, or
/// redelivered while its first delivery still runs) waits instead of running alongside it.
#[derive(Clone, Default)]
struct InFlight(Arc<std::sync::Mutex<std::collections::HashSet<uuid::Uuid>>>);

impl InFlight {
    /// Marks `id` in flight; `None` if it already is. The mark goes with the guard.
    fn enter(&self, id: uuid::Uuid) -> Option<InFlightGuard> {
        let mut ids = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.insert(id).then(|| InFlightGuard { set: self.clone(), id })
    }
}

struct InFlightGuard {
    set: InFlight,
    id: uuid::Uuid,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.set.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.id);
    }
}

async fn process<S: Step>(
    pool: &PgPool,
    settings: &ConsumerSettings,
    step: &S,
    message: &jetstream::Message,
    in_flight: &InFlight,
) -> Result<Disposition, async_nats::Error> {
    if !settings.takes_subject(message.subject.as_str()) {
        message.ack().await?;
        return Ok(Disposition::Handled);
    }
    let Some(mut raw) = decode(pool, settings, message).await? else {
        return Ok(Disposition::DeadLettered);
    };
    // Personal data arrives sealed (NATS holds what the log holds): opened here, in memory.
    crate::personal::open_feed_current(std::slice::from_mut(&mut raw)).await.map_err(|e| e.to_string())?;
    let event = match Recorded::decode(&raw) {
        Ok(event) => event,
        Err(error) => {
            let info = message.info()?;
            let (delivered, sequence) = (info.delivered, info.stream_sequence);
            let reason = error.to_string();
            dead_letter(pool, settings, message, Some(raw.event_id), delivered, sequence, &reason).await?;
            message.ack_with(AckKind::Term).await?;
            return Ok(Disposition::DeadLettered);
        }
    };
    if !step.wants(&event) {
        message.ack().await?;
        return Ok(Disposition::Handled);
    }
    let Some(_running) = in_flight.enter(event.event_id) else {
        // Its other copy may finish it: look again in a moment (then it is a duplicate).
        message.ack_with(AckKind::Nak(Some(Duration::from_millis(500)))).await?;
        return Ok(Disposition::Retry);
    };
    let seen: Option<(i32,)> =
        sqlx::query_as("SELECT 1 FROM consumer_processed WHERE consumer = $1 AND event_id = $2")
            .bind(&settings.name)
            .bind(event.event_id)
            .fetch_optional(pool)
            .await?;
    if seen.is_some() {
        message.ack().await?;
        return Ok(Disposition::Duplicate);
    }
    let outcome = {
        let work = step.run(&event);
        tokio::pin!(work);
        let beat = (settings.ack_wait / 3).max(Duration::from_millis(100));
        loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                () = tokio::time::sleep(beat) => {
                    if let Err(error) = message.ack_with(AckKind::Progress).await {
                        tracing::warn!(%error, consumer = %settings.name, "could not extend the ack deadline");
                    }
                }
            }
        }
    };
    match outcome {
        Outcome::Done => {
            sqlx::query(
                "INSERT INTO consumer_processed (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&settings.name)
            .bind(event.event_id)
            .execute(pool)
            .await?;
            message.ack().await?;
            Ok(Disposition::Handled)
        }
        Outcome::RetryLater(reason) => settle_failure(pool, settings, message, &raw, &reason).await,
        Outcome::Failed(reason) => {
            tracing::error!(reason, consumer = %settings.name, event_id = %event.event_id, "saga step failed for good");
            let info = message.info()?;
            let (delivered, sequence) = (info.delivered, info.stream_sequence);
            dead_letter(pool, settings, message, Some(event.event_id), delivered, sequence, &reason).await?;
            message.ack_with(AckKind::Term).await?;
            Ok(Disposition::DeadLettered)
        }
    }
}
