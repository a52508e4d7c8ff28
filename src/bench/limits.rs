//! The engines' own limits, measured with the same machine and the same moment as Berth.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};

use super::world::World;

/// Single-row insert transactions per second into a table shaped like `events`, from
/// `clients` connections at once, for `window`.
pub async fn raw_inserts(world: &World, clients: usize, window: Duration) -> anyhow::Result<f64> {
    sqlx::query("CREATE TABLE bench_raw_events (LIKE events INCLUDING ALL)").execute(&world.pool).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let pool = world.pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            let mut done = 0u64;
            while started.elapsed() < window {
                sqlx::query(
                    "INSERT INTO bench_raw_events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                     VALUES ('site', $1, $2, 'SiteUpdated', '1', '{\"Updated\":{\"label\":\"x\"}}',
                             jsonb_build_object('event_id', gen_random_uuid()::text, 'actor', 'bench'))",
                )
                .bind(format!("raw-{client}"))
                .bind(i64::try_from(done).unwrap_or(i64::MAX) + 1)
                .execute(&mut *conn)
                .await?;
                done += 1;
            }
            Ok::<u64, sqlx::Error>(done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE bench_raw_events").execute(&world.pool).await?;
    Ok(rate)
}

/// Acknowledged JetStream publishes per second with `in_flight` outstanding, file storage.
pub async fn raw_publishes(world: &World, in_flight: usize, count: usize) -> anyhow::Result<f64> {
    let name = format!("{}_RAW", world.stream);
    let subject = format!("{}raw", world.subject_prefix.replace('.', "_"));
    world
        .jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![format!("{subject}.>")],
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await?;
    let payload = Bytes::from(vec![b'x'; 400]);
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    for n in 0..count {
        if pending.len() >= in_flight {
            if let Some(ack) = pending.next().await {
                ack?;
            }
        }
        let ack = world.jetstream.publish(format!("{subject}.{}", n % 64), payload.clone()).await?;
        pending.push(std::future::IntoFuture::into_future(ack));
    }
    while let Some(ack) = pending.next().await {
        ack?;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    world.jetstream.delete_stream(&name).await?;
    Ok(rate)
}
