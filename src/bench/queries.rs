//! The read side under load: many tenants, many sites, 16 clients.

use std::time::{Duration, Instant};

use rand::Rng;

use super::quantile_ms;
use super::world::{Server, World};

/// A tenant's token and one of its sites.
pub struct Sample {
    pairs: Vec<(String, String)>,
}

/// Which request to repeat.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// `GET /v1/sites?limit=20`
    List,
    /// `GET /v1/sites/{id}`
    Detail,
}

/// What a query load measured.
pub struct QueryLoad {
    pub rate: f64,
    pub p99_ms: f64,
}

/// Seeds `tenants` tenants with a token each and `per` sites each, straight into the views.
pub async fn seed(world: &World, tenants: i64, per: i64) -> anyhow::Result<Sample> {
    sqlx::query(
        "INSERT INTO credentials (id, kind, secret_hash, tenant_id, role)
         SELECT gen_random_uuid(), 'api_token', encode(sha256(convert_to('brt_bench_' || t, 'UTF8')), 'hex'),
                md5('tenant' || t)::uuid, 'viewer'
           FROM generate_series(1, $1) t",
    )
    .bind(tenants)
    .execute(&world.pool)
    .await?;
    sqlx::query(
        "INSERT INTO proj_sites.sites (id, tenant_id, domain, kind, php_version, label, status, version, created_at, updated_at)
         SELECT md5('site' || t || '-' || s)::uuid, md5('tenant' || t)::uuid, 's' || s || '.t' || t || '.seed.test',
                'wordpress', '8.3', NULL, 'active', 3, now(), now()
           FROM generate_series(1, $1) t, generate_series(1, $2) s",
    )
    .bind(tenants)
    .bind(per)
    .execute(&world.pool)
    .await?;
    sqlx::query("ANALYZE proj_sites.sites").execute(&world.pool).await?;
    sqlx::query("ANALYZE credentials").execute(&world.pool).await?;
    let pairs: Vec<(String, String)> = sqlx::query_as(
        "SELECT 'brt_bench_' || t, md5('site' || t || '-1')::uuid::text FROM generate_series(1, $1) t",
    )
    .bind(tenants)
    .fetch_all(&world.pool)
    .await?;
    Ok(Sample { pairs })
}

/// `clients` clients repeating `kind` with random tenants for `window`.
pub async fn load(
    server: &Server,
    sample: &Sample,
    clients: usize,
    window: Duration,
    kind: Kind,
) -> anyhow::Result<QueryLoad> {
    let started = Instant::now();
    let pairs = std::sync::Arc::new(sample.pairs.clone());
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, base, pairs) = (server.http.clone(), server.query.clone(), pairs.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < window {
                let (token, site) = &pairs[rand::rng().random_range(0..pairs.len())];
                let url = match kind {
                    Kind::List => format!("{base}/v1/sites?limit=20"),
                    Kind::Detail => format!("{base}/v1/sites/{site}"),
                };
                let begun = Instant::now();
                let response = http.get(url).bearer_auth(token).send().await?;
                let status = response.status().as_u16();
                let _ = response.bytes().await?;
                anyhow::ensure!(status == 200, "query answered {status}");
                latencies.push(begun.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    Ok(QueryLoad { rate, p99_ms: quantile_ms(&mut latencies, 0.99) })
}
