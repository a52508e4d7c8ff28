//! Commands over HTTP against a running `berth serve`, with the lag of the relay and the
//! projections sampled while they run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use time::OffsetDateTime;

use super::quantile_ms;
use super::world::{ClientOnly, Server, World};

/// Registers `count` tenants and returns their owners' tokens. Each tenant's sites are admitted
/// to its quota one at a time, so the load spreads over tenants as real traffic does.
pub async fn tenants(server: &Server, count: usize) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(count);
    for n in 0..count {
        tokens.push(register(server, n).await?);
    }
    Ok(tokens)
}

/// Registers a tenant and returns its owner's token.
async fn register(server: &Server, n: usize) -> anyhow::Result<String> {
    register_as(server, &format!("bench{n}")).await
}

/// Registers the tenant `name` (its owner `name@bench.test`) and returns the owner's token.
pub async fn register_as(server: &Server, name: &str) -> anyhow::Result<String> {
    let body = json!({"name": name, "email": format!("{name}@bench.test"), "password": "benchmark password"});
    let response =
        server.http.post(format!("{}/v1/auth/register", server.command)).json(&body).send().await?;
    anyhow::ensure!(response.status().as_u16() == 201, "registration failed: {}", response.text().await?);
    let body: serde_json::Value = response.json().await?;
    Ok(body["token"].as_str().unwrap_or_default().to_owned())
}

/// What a command load measured.
pub struct CommandLoad {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub relay_lag_p99_ms: f64,
    pub projection_lag_p99_ms: f64,
    pub peak_rss_mb: f64,
}

static DOMAIN: AtomicU64 = AtomicU64::new(0);

/// Creates a site over HTTP; its latency.
pub async fn create_site(server: &ClientOnly, token: &str) -> anyhow::Result<Duration> {
    let n = DOMAIN.fetch_add(1, Ordering::Relaxed);
    let body = json!({"domain": format!("s{n}-{}.bench.test", std::process::id()), "type": "static"});
    let started = Instant::now();
    let response = server
        .http
        .post(format!("{}/v1/sites", server.command))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    let _ = response.bytes().await?;
    anyhow::ensure!(status == 202, "site creation answered {status}");
    Ok(started.elapsed())
}

/// `clients` clients creating sites as fast as they are answered, for `window`, client `i` for
/// tenant `tokens[i % tokens.len()]`.
pub async fn commands(
    server: &Server,
    tokens: &[String],
    clients: usize,
    window: Duration,
    world: &World,
) -> anyhow::Result<CommandLoad> {
    let sampler = Sampler::start(world.pool.clone());
    let from = OffsetDateTime::now_utc();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..clients {
        let token = tokens[i % tokens.len()].clone();
        let (server_command, http) = (server.command.clone(), server.http.clone());
        let client = Server::client_only(server_command, http);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < window {
                latencies.push(create_site(&client, &token).await?);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut peak_rss = server.rss_mb();
    let mut latencies = Vec::new();
    while tasks.iter().any(|t| !t.is_finished()) {
        peak_rss = peak_rss.max(server.rss_mb());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = started.elapsed();
    let to = OffsetDateTime::now_utc();
    let lags = sampler.finish(world, from, to, &["relay", "projection:sites"]).await?;
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    Ok(CommandLoad {
        rate,
        p50_ms: quantile_ms(&mut latencies, 0.5),
        p99_ms: quantile_ms(&mut latencies, 0.99),
        relay_lag_p99_ms: quantile_ms(&mut lags[0].clone(), 0.99),
        projection_lag_p99_ms: quantile_ms(&mut lags[1].clone(), 0.99),
        peak_rss_mb: peak_rss,
    })
}

/// Samples every checkpoint every 5 ms, to tell afterwards when each reader passed each event.
pub struct Sampler {
    samples: tokio::task::JoinHandle<Vec<(OffsetDateTime, String, i64, i64)>>,
    stop: tokio_util::sync::CancellationToken,
}

impl Sampler {
    pub fn start(pool: sqlx::PgPool) -> Self {
        let stop = tokio_util::sync::CancellationToken::new();
        let token = stop.clone();
        let samples = tokio::spawn(async move {
            let mut samples = Vec::new();
            // Keep sampling a little after the load, so the last events are seen passing.
            let mut grace: Option<Instant> = None;
            loop {
                if token.is_cancelled()
                    && grace.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(3)
                {
                    break;
                }
                let rows: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT name, transaction_id::text::bigint, global_position FROM checkpoints",
                )
                .fetch_all(&pool)
                .await
                .unwrap_or_default();
                let now = OffsetDateTime::now_utc();
                samples.extend(rows.into_iter().map(|(name, tx, pos)| (now, name, tx, pos)));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            samples
        });
        Self { samples, stop }
    }

    /// For each named checkpoint, the lag of every event recorded between `from` and `to`.
    pub async fn finish(
        self,
        world: &World,
        from: OffsetDateTime,
        to: OffsetDateTime,
        names: &[&str],
    ) -> anyhow::Result<Vec<Vec<Duration>>> {
        self.stop.cancel();
        let samples = self.samples.await?;
        let events: Vec<(i64, i64, OffsetDateTime)> = sqlx::query_as(
            "SELECT transaction_id::text::bigint, global_position, recorded_at FROM events
              WHERE recorded_at BETWEEN $1 AND $2 ORDER BY transaction_id, global_position",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&world.pool)
        .await?;
        let mut all = Vec::new();
        for name in names {
            let passes: Vec<&(OffsetDateTime, String, i64, i64)> =
                samples.iter().filter(|s| s.1 == *name).collect();
            let mut lags = Vec::with_capacity(events.len());
            let mut cursor = 0;
            for (tx, pos, recorded) in &events {
                while cursor < passes.len() && (passes[cursor].2, passes[cursor].3) < (*tx, *pos) {
                    cursor += 1;
                }
                if let Some(pass) = passes.get(cursor) {
                    let lag = (pass.0 - *recorded).max(time::Duration::ZERO);
                    lags.push(Duration::from_secs_f64(lag.as_seconds_f64()));
                }
            }
            all.push(lags);
        }
        Ok(all)
    }
}
