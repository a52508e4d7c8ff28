//! The relay: publishes the feed, in order, to JetStream.
//!
//! Exactly one relay is active: the one holding a PostgreSQL advisory lock on a dedicated
//! connection. The others wait and try again every second, so one takes over within seconds of
//! the active one dying (its connection closes and PostgreSQL frees the lock). The active
//! relay reads a batch after its checkpoint and publishes every event with `Nats-Msg-Id` = event
//! id without waiting in between; it goes on to read and publish the next batches while a
//! settler awaits each batch's acknowledgements in order and only then stores the checkpoint
//! past it. A crash between publish and checkpoint republishes a few events,
//! which JetStream drops as duplicates within its window.
//!
//! On a JetStream cluster the stream's leader can die. Until a new one is elected a publish is
//! either answered "no responders" at once or not at all, so acknowledgements are awaited for a
//! short `ack_timeout` (not the client's 5 s). The first that fails stops the pipeline: the
//! checkpoint moves past what was acknowledged, and the rest is published again straight away,
//! one event at a time until one is stored (events sent while no leader exists cannot then
//! overtake the one that failed), then pipelined again. The publish gap after a leader dies is
//! the election time plus at most one `ack_timeout`.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::context::PublishAckFuture;
use bytes::Bytes;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::checkpoint;
use crate::feed::{self, FeedEvent, FeedNotifier, FeedPosition};
use crate::shutdown::pause;
use crate::stream::StreamSettings;

/// The checkpoint name of the relay.
pub const CHECKPOINT: &str = "relay";
/// The advisory lock key that elects the active relay (ASCII "BERTHRLY").
pub const LOCK_KEY: i64 = 0x4245_5254_4852_4c59;

/// Relay tuning.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// Events read and published per round.
    pub batch_size: i64,
    /// How often a standby relay tries to take over.
    pub standby_retry: Duration,
    /// Batches published and not yet acknowledged, at most.
    pub batches_in_flight: usize,
    /// How long to wait for one acknowledgement before publishing again.
    pub ack_timeout: Duration,
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self {
            batch_size: 1000,
            standby_retry: Duration::from_secs(1),
            batches_in_flight: 4,
            ack_timeout: Duration::from_secs(1),
        }
    }
}

/// How long one attempt at creating or updating the stream may take: on a fresh cluster the
/// first attempts go unanswered until JetStream's meta leader is elected, so many short
/// attempts find it sooner than one long one.
const STREAM_ATTEMPT: Duration = Duration::from_secs(2);

/// The relay's parts.
pub struct Relay {
    pool: PgPool,
    jetstream: jetstream::Context,
    stream: StreamSettings,
    settings: RelaySettings,
    notifier: FeedNotifier,
}

impl Relay {
    /// A relay publishing `pool`'s feed to `jetstream`.
    pub fn new(
        pool: PgPool,
        jetstream: jetstream::Context,
        stream: StreamSettings,
        settings: RelaySettings,
        notifier: FeedNotifier,
    ) -> Self {
        // Acknowledgements (and stream requests) on this relay's own copy of the context wait
        // `ack_timeout`, whatever the rest of the process uses.
        let mut jetstream = jetstream;
        jetstream.set_timeout(settings.ack_timeout);
        Self { pool, jetstream, stream, settings, notifier }
    }

    /// Runs until `shutdown`: waits for leadership, then publishes. Errors are logged and
    /// retried; the relay never gives up on its own.
    pub async fn run(mut self, shutdown: CancellationToken) {
        // A standby says so on /metrics too.
        metrics::gauge!("berth_relay_active").set(0.0);
        while !shutdown.is_cancelled() {
            if !self.ensure_stream(&shutdown).await {
                return;
            }
            let lock = match self.acquire_leadership(&shutdown).await {
                Some(lock) => lock,
                None => return,
            };
            tracing::info!("relay is active");
            metrics::gauge!("berth_relay_active").set(1.0);
            if let Err(error) = self.publish_while_leader(lock, &shutdown).await {
                tracing::warn!(error = %error, "relay stopped publishing; will try to lead again");
                pause(&shutdown, Duration::from_millis(500)).await;
            }
            metrics::gauge!("berth_relay_active").set(0.0);
        }
    }

    /// Creates or updates the stream, retrying with a growing pause (0.1 s to 2 s) until it
    /// works; `false` if `shutdown` came first.
    async fn ensure_stream(&self, shutdown: &CancellationToken) -> bool {
        let mut context = self.jetstream.clone();
        context.set_timeout(STREAM_ATTEMPT);
        let mut backoff = Duration::from_millis(100);
        while !shutdown.is_cancelled() {
            match tokio::time::timeout(STREAM_ATTEMPT, self.stream.ensure(&context)).await {
                Ok(Ok(_)) => return true,
                Ok(Err(error)) => {
                    tracing::warn!(%error, stream = %self.stream.name, "cannot create or update the stream; retrying");
                }
                Err(_) => {
                    tracing::warn!(stream = %self.stream.name, "no answer creating the stream; retrying")
                }
            }
            pause(shutdown, backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        false
    }

    async fn acquire_leadership(&self, shutdown: &CancellationToken) -> Option<PoolConnection<Postgres>> {
        loop {
            if shutdown.is_cancelled() {
                return None;
            }
            match self.pool.acquire().await {
                Ok(mut conn) => {
                    let got: Result<bool, _> = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                        .bind(LOCK_KEY)
                        .fetch_one(&mut *conn)
                        .await;
                    match got {
                        // The lock lives as long as this connection; detach it from the pool
                        // so it is closed, not reused, when the relay lets go.
                        Ok(true) => return Some(conn),
                        Ok(false) => {}
                        Err(error) => tracing::warn!(%error, "cannot ask for the relay lock"),
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot reach PostgreSQL for the relay lock"),
            }
            pause(shutdown, self.settings.standby_retry).await;
        }
    }

    async fn publish_while_leader(
        &mut self,
        mut lock: PoolConnection<Postgres>,
        shutdown: &CancellationToken,
    ) -> Result<(), async_nats::Error> {
        let result = self.publish_loop(&mut lock, shutdown).await;
        // Never hand a connection holding the lock back to the pool.
        drop(lock.detach());
        result
    }

    /// Publishes batch after batch without waiting for the previous batch's acknowledgements:
    /// a settler awaits them in order and stores the checkpoint after each batch, while the
    /// publisher reads and sends the next ones (at most `batches_in_flight` unsettled). When an
    /// acknowledgement fails, the round ends where it failed and the next one starts there.
    async fn publish_loop(
        &mut self,
        lock: &mut PoolConnection<Postgres>,
        shutdown: &CancellationToken,
    ) -> Result<(), async_nats::Error> {
        let mut position = checkpoint::load(&self.pool, CHECKPOINT).await?;
        let mut last_lock_check = Instant::now();
        // Failed acknowledgements in a row: while non-zero, one event per round.
        let mut failures: u32 = 0;
        while !shutdown.is_cancelled() {
            let failure = if failures > 0 {
                check_lock(lock, &mut last_lock_check).await?;
                let (next, failure) = self.publish_one(position).await?;
                position = next;
                failure
            } else {
                let (sender, receiver) = mpsc::channel(self.settings.batches_in_flight.max(1));
                let settler = settle(self.pool.clone(), position, receiver);
                let publisher = self.publish(lock, &mut last_lock_check, shutdown, position, sender);
                let (published, settled) = tokio::join!(publisher, settler);
                // The settler's failure is the cause when both stopped.
                let (next, failure) = settled?;
                published?;
                position = next;
                failure
            };
            let Some(failure) = failure else {
                failures = 0;
                continue;
            };
            failures += 1;
            metrics::counter!("berth_relay_publish_failures_total", "kind" => failure.kind()).increment(1);
            if failures == 1 || failures.is_power_of_two() {
                tracing::warn!(error = %failure, failures, "publish not acknowledged; publishing again");
            }
            // A refusal comes back at once (no leader, no stream yet): pause a little so as not
            // to spin, but briefly, since a new leader takes over at any moment. A timeout has
            // already waited.
            if !matches!(failure, PublishFailure::TimedOut) {
                pause(shutdown, Duration::from_millis(25 * u64::from(failures.min(4)))).await;
            }
        }
        Ok(())
    }

    /// Publishes the event after `position` alone and awaits its acknowledgement: where the
    /// checkpoint is now, and why the event was not stored if it was not. Nothing to publish
    /// counts as success (the pipeline takes over and waits for the next event).
    async fn publish_one(
        &mut self,
        position: FeedPosition,
    ) -> Result<(FeedPosition, Option<PublishFailure>), async_nats::Error> {
        let batch = feed::read_after(&self.pool, position, 1).await?;
        let Some(event) = batch.first() else { return Ok((position, None)) };
        let ack = match self.publish_batch(&batch).await {
            Ok(mut acks) => acks.pop().expect("one event, one acknowledgement"),
            Err(error) => return Ok((position, Some(PublishFailure::Other(error.to_string())))),
        };
        match ack.await {
            Ok(_) => {
                checkpoint::store(&self.pool, CHECKPOINT, event.position()).await?;
                metrics::counter!("berth_relay_published_total").increment(1);
                Ok((event.position(), None))
            }
            Err(error) => Ok((position, Some(PublishFailure::from(error)))),
        }
    }

    async fn publish(
        &mut self,
        lock: &mut PoolConnection<Postgres>,
        last_lock_check: &mut Instant,
        shutdown: &CancellationToken,
        mut position: FeedPosition,
        settler: mpsc::Sender<Unsettled>,
    ) -> Result<(), async_nats::Error> {
        while !shutdown.is_cancelled() {
            check_lock(lock, last_lock_check).await?;
            let batch = feed::read_after(&self.pool, position, self.settings.batch_size).await?;
            let Some(last) = batch.last() else {
                tokio::select! {
                    () = self.notifier.wait(shutdown) => {}
                    // The settler stopped (it failed): stop publishing too.
                    () = settler.closed() => return Ok(()),
                }
                continue;
            };
            position = last.position();
            let positions = batch.iter().map(FeedEvent::position).collect();
            let unsettled = Unsettled { positions, acks: self.publish_batch(&batch).await? };
            if settler.send(unsettled).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn publish_batch(&self, batch: &[FeedEvent]) -> Result<Vec<PublishAckFuture>, async_nats::Error> {
        let mut acks = Vec::with_capacity(batch.len());
        for event in batch {
            let body = serde_json::to_vec(event)?;
            let message = jetstream::message::PublishMessage::build()
                .payload(Bytes::from(body))
                .message_id(event.event_id.to_string())
                .header("Berth-Event-Type", event.event_type.as_str());
            acks.push(self.jetstream.send_publish(self.stream.subject_for(event), message).await?);
        }
        Ok(acks)
    }
}

/// Checks the lock's connection once a second: if it is gone, so is the lock, and the relay
/// stops before another one starts publishing too.
async fn check_lock(lock: &mut PoolConnection<Postgres>, last: &mut Instant) -> Result<(), sqlx::Error> {
    if last.elapsed() > Duration::from_secs(1) {
        sqlx::query("SELECT 1").execute(&mut **lock).await?;
        *last = Instant::now();
    }
    Ok(())
}

/// A published batch whose acknowledgements are still to be awaited.
struct Unsettled {
    /// Each event's place in the feed, in the order published.
    positions: Vec<FeedPosition>,
    acks: Vec<PublishAckFuture>,
}

/// Awaits each published batch's acknowledgements, in order, and stores the checkpoint after
/// it; when the publisher stops, finishes what it sent. Stops at the first acknowledgement that
/// fails, with the checkpoint past the last one that came (dropping the receiver stops the
/// publisher). Answers where the checkpoint is and, if one failed, why.
async fn settle(
    pool: PgPool,
    mut position: FeedPosition,
    mut batches: mpsc::Receiver<Unsettled>,
) -> Result<(FeedPosition, Option<PublishFailure>), async_nats::Error> {
    while let Some(batch) = batches.recv().await {
        let mut acknowledged: usize = 0;
        let mut failure = None;
        for ack in batch.acks {
            match ack.await {
                Ok(_) => acknowledged += 1,
                Err(error) => {
                    failure = Some(PublishFailure::from(error));
                    break;
                }
            }
        }
        if let Some(last) = acknowledged.checked_sub(1).map(|i| batch.positions[i]) {
            checkpoint::store(&pool, CHECKPOINT, last).await?;
            position = last;
            metrics::counter!("berth_relay_published_total").increment(acknowledged as u64);
        }
        if failure.is_some() {
            return Ok((position, failure));
        }
    }
    Ok((position, None))
}

/// Why a publish was not acknowledged.
#[derive(Debug)]
enum PublishFailure {
    /// No answer within the ack timeout: the leader died with it, or is being elected.
    TimedOut,
    /// Nobody answers for the stream: no leader yet, or no stream.
    NoResponders,
    /// Anything else (a refusal by the server, a broken connection).
    Other(String),
}

impl PublishFailure {
    fn kind(&self) -> &'static str {
        match self {
            Self::TimedOut => "timeout",
            Self::NoResponders => "no_responders",
            Self::Other(_) => "other",
        }
    }
}

impl From<jetstream::context::PublishError> for PublishFailure {
    fn from(error: jetstream::context::PublishError) -> Self {
        use jetstream::context::PublishErrorKind;
        match error.kind() {
            PublishErrorKind::TimedOut => Self::TimedOut,
            PublishErrorKind::StreamNotFound => Self::NoResponders,
            _ => Self::Other(error.to_string()),
        }
    }
}

impl std::fmt::Display for PublishFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TimedOut => f.write_str("no acknowledgement within the ack timeout"),
            Self::NoResponders => f.write_str("no responders for the stream (no leader, or no stream)"),
            Self::Other(error) => f.write_str(error),
        }
    }
}
