//! The relay: publishes the feed, in order, to JetStream.
//!
//! Exactly one relay is active: the one holding a PostgreSQL advisory lock on a dedicated
//! connection. The others wait and try again every second, so one takes over within seconds of
//! the active one dying (its connection closes and PostgreSQL frees the lock). The active
//! relay reads a batch after its checkpoint, publishes every event with `Nats-Msg-Id` = event
//! id without waiting in between, then awaits the acknowledgements in order and only then
//! stores the checkpoint. A crash between publish and checkpoint republishes a few events,
//! which JetStream drops as duplicates within its window.

use std::time::{Duration, Instant};

use async_nats::jetstream;
use bytes::Bytes;
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::checkpoint;
use crate::feed::{self, FeedEvent, FeedNotifier};
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
}

impl Default for RelaySettings {
    fn default() -> Self {
        Self { batch_size: 1000, standby_retry: Duration::from_secs(1) }
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

    async fn publish_loop(
        &mut self,
        lock: &mut PoolConnection<Postgres>,
        shutdown: &CancellationToken,
    ) -> Result<(), async_nats::Error> {
        let mut position = checkpoint::load(&self.pool, CHECKPOINT).await?;
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
                metrics::gauge!("berth_relay_lag_seconds").set(0.0);
                self.notifier.wait(shutdown).await;
                continue;
            };
            let last_position = last.position();
            let last_recorded = last.recorded_at;
            self.publish_batch(&batch).await?;
            checkpoint::store(&self.pool, CHECKPOINT, last_position).await?;
            position = last_position;
            let lag = (OffsetDateTime::now_utc() - last_recorded).as_seconds_f64().max(0.0);
            metrics::gauge!("berth_relay_lag_seconds").set(lag);
            metrics::counter!("berth_relay_published_total").increment(batch.len() as u64);
        }
        Ok(())
    }

    async fn publish_batch(&self, batch: &[FeedEvent]) -> Result<(), async_nats::Error> {
        let mut acks = Vec::with_capacity(batch.len());
        for event in batch {
            let body = serde_json::to_vec(event)?;
            let message = jetstream::message::PublishMessage::build()
                .payload(Bytes::from(body))
                .message_id(event.event_id.to_string())
                .header("Berth-Event-Type", event.event_type.as_str());
            acks.push(self.jetstream.send_publish(self.stream.subject_for(event), message).await?);
        }
        for ack in acks {
            ack.await?;
        }
        Ok(())
    }
}
