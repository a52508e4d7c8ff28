//! What tamper evidence costs and how fast the log is checked: commands with and without
//! their hashes, side by side in one run, and `audit verify`'s log check over the whole log.

use std::time::{Duration, Instant};

use berth_domain::ids::TenantId;
use berth_eventstore::store::EventStore;
use uuid::Uuid;

use super::pipeline::create;
use super::world::World;

/// Site creations per second straight through the event store (no HTTP) from `clients`
/// tasks for `window`, with hashes and, right after, without.
pub async fn append_cost(world: &World, clients: usize, window: Duration) -> anyhow::Result<(f64, f64)> {
    let with = creations(EventStore::new(world.pool.clone(), 100), clients, window).await?;
    let without =
        creations(EventStore::new(world.pool.clone(), 100).without_chain(), clients, window).await?;
    // The unhashed ones are chained now, so the log the next phases read is whole.
    berth_eventstore::chain::backfill(&world.pool).await?;
    Ok((with, without))
}

async fn creations(store: EventStore, clients: usize, window: Duration) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let tenant = TenantId::from_uuid(Uuid::now_v7());
            let mut done = 0u64;
            while started.elapsed() < window {
                create(&store, tenant).await?;
                done += 1;
            }
            Ok::<u64, anyhow::Error>(done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// What checking the log measured.
pub struct Verified {
    /// Events chained afterwards (written without hashes by the bench itself), per second.
    pub backfill_rate: f64,
    /// Events whose chains and seals were checked, per second.
    pub rate: f64,
    /// How many events.
    pub events: u64,
}

/// Chains what the bench wrote without hashes, then checks every chain and seal.
pub async fn verify(world: &World) -> anyhow::Result<Verified> {
    let started = Instant::now();
    let chained = berth_eventstore::chain::backfill(&world.pool).await?;
    let backfill_rate = chained as f64 / started.elapsed().as_secs_f64().max(1e-9);
    let started = Instant::now();
    let report = berth_eventstore::verify::verify_log(&world.pool, None).await?;
    anyhow::ensure!(
        report.findings.is_empty(),
        "the bench's own log does not verify: {:?}",
        report.findings.first()
    );
    Ok(Verified {
        backfill_rate,
        rate: report.events as f64 / started.elapsed().as_secs_f64(),
        events: report.events,
    })
}
