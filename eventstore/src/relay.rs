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

use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::context::PublishAckFuture;
use bytes::Bytes;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use time::OffsetDateTime;
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
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self { batch_size: 1000, standby_retry: Duration::from_secs(1), batches_in_flight: 4 }
    }
}

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
        Self { pool, jetstream, stream, settings, notifier }
    }

    /// Runs until `shutdown`: waits for leadership, then publishes. Errors are logged and
    /// retried; the relay never gives up on its own.
    pub async fn run(mut self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            if let Err(error) = self.stream.ensure(&self.jetstream).await {
                tracing::warn!(%error, stream = %self.stream.name, "cannot create or update the stream; retrying");
                pause(&shutdown, Duration::from_secs(1)).await;
                continue;
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
    /// publisher reads and sends the next ones (at most `batches_in_flight` unsettled).
    async fn publish_loop(
        &mut self,
        lock: &mut PoolConnection<Postgres>,
        shutdown: &CancellationToken,
    ) -> Result<(), async_nats::Error> {
        let start = checkpoint::load(&self.pool, CHECKPOINT).await?;
        let (sender, receiver) = mpsc::channel(self.settings.batches_in_flight.max(1));
        let settler = settle(self.pool.clone(), receiver);
        let (published, settled) = tokio::join!(self.publish(lock, shutdown, start, sender), settler);
        // The settler's failure is the cause when both stopped.
        settled.and(published)
    }

    async fn publish(
        &mut self,
        lock: &mut PoolConnection<Postgres>,
        shutdown: &CancellationToken,
        mut position: FeedPosition,
        settler: mpsc::Sender<Unsettled>,
    ) -> Result<(), async_nats::Error> {
        let mut last_lock_check = Instant::now();
        while !shutdown.is_cancelled() {
            if last_lock_check.elapsed() > Duration::from_secs(1) {
                // If the lock connection is gone, so is the lock: stop before another relay
                // starts publishing too.
                sqlx::query("SELECT 1").execute(&mut **lock).await?;
                last_lock_check = Instant::now();
            }
            let batch = feed::read_after(&self.pool, position, self.settings.batch_size).await?;
            let Some(last) = batch.last() else {
                tokio::select! {
                    () = self.notifier.wait(shutdown) => {}
                    // The settler stopped (it failed): stop publishing too.
                    () = settler.closed() => return Ok(()),
                }
                continue;
            };
            let unsettled = Unsettled {
                last: last.position(),
                last_recorded: last.recorded_at,
                acks: self.publish_batch(&batch).await?,
            };
            position = unsettled.last;
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

/// A published batch whose acknowledgements are still to be awaited.
struct Unsettled {
    last: FeedPosition,
    last_recorded: OffsetDateTime,
    acks: Vec<PublishAckFuture>,
}

/// Awaits each published batch's acknowledgements, in order, and stores the checkpoint after
/// it; when the publisher stops, finishes what it sent.
async fn settle(pool: PgPool, mut batches: mpsc::Receiver<Unsettled>) -> Result<(), async_nats::Error> {
    while let Some(batch) = batches.recv().await {
        let count = batch.acks.len();
        for ack in batch.acks {
            ack.await?;
        }
        checkpoint::store(&pool, CHECKPOINT, batch.last).await?;
        let lag = (OffsetDateTime::now_utc() - batch.last_recorded).as_seconds_f64().max(0.0);
        metrics::gauge!("berth_relay_lag_seconds").set(lag);
        metrics::counter!("berth_relay_published_total").increment(count as u64);
    }
    Ok(())
}
