//! Scale-out on this machine: the command API as one process and as two (with a relay and a
//! projections process beside them, as a split deployment runs), and the query API reading
//! from the primary and from a streaming replica (`database.read_url`).

use std::time::{Duration, Instant};

use super::load::{create_site, register_as};
use super::queries::{self, Kind, Sample};
use super::world::{Server, World};

/// Commands per second with one and with two command-API processes.
pub struct Commands {
    pub one: f64,
    pub two: f64,
}

/// `clients` clients creating sites for `window`, spread evenly over `apis`, client `i` for
/// tenant `tokens[i % tokens.len()]` (a tenant's creations queue on its site quota).
async fn rate(apis: &[&Server], tokens: &[String], clients: usize, window: Duration) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let api = apis[client % apis.len()];
        let target = Server::client_only(api.command.clone(), api.http.clone());
        let token = tokens[client % tokens.len()].clone();
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            while started.elapsed() < window {
                create_site(&target, &token).await?;
                done += 1;
            }
            Ok::<_, anyhow::Error>(done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Commands/s at `clients` clients against one command-API process, then against two.
pub async fn command_processes(world: &World, clients: usize, window: Duration) -> anyhow::Result<Commands> {
    let _relay = world.spawn("relay", &[]).await?;
    let _projections = world.spawn("projections", &[]).await?;
    let first = world.spawn("command-api", &[]).await?;
    let mut tokens = Vec::with_capacity(clients);
    for n in 0..clients {
        tokens.push(register_as(&first, &format!("scale{n}")).await?);
    }
    let one = rate(&[&first], &tokens, clients, window).await?;
    let second = world.spawn("command-api", &[]).await?;
    let two = rate(&[&first, &second], &tokens, clients, window).await?;
    Ok(Commands { one, two })
}

/// Site detail req/s at `clients` clients from a query API reading the primary, and from one
/// reading the replica (`None` without `database.read_url`).
pub async fn replica_reads(
    world: &World,
    sample: &Sample,
    clients: usize,
    window: Duration,
) -> anyhow::Result<(f64, Option<f64>)> {
    let primary = world.spawn("query-api", &[]).await?;
    let from_primary = queries::load(&primary, sample, clients, window, Kind::Detail).await?.rate;
    drop(primary);
    let Some(replica_url) = world.replica_url.as_deref() else {
        return Ok((from_primary, None));
    };
    caught_up(world, replica_url).await?;
    let replica = world.spawn("query-api", &[("BERTH_DATABASE__READ_URL", replica_url)]).await?;
    let from_replica = queries::load(&replica, sample, clients, window, Kind::Detail).await?.rate;
    Ok((from_primary, Some(from_replica)))
}

/// Waits until the replica has replayed everything the primary has written so far (the seeded
/// views), so both query APIs read the same data.
async fn caught_up(world: &World, replica_url: &str) -> anyhow::Result<()> {
    let target: String =
        sqlx::query_scalar("SELECT pg_current_wal_lsn()::text").fetch_one(&world.pool).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(replica) =
            sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(replica_url).await
        {
            let replayed: bool = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
                .bind(&target)
                .fetch_one(&replica)
                .await
                .unwrap_or(false);
            replica.close().await;
            if replayed {
                return Ok(());
            }
        }
        anyhow::ensure!(Instant::now() < deadline, "the replica did not catch up within 2 minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
