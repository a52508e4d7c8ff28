//! The peer: the same workload through plain cqrs-es with postgres-es, as a project that
//! adopts them out of the box would run it (`PostgresCqrs`, the site aggregate, its own
//! `events` and `snapshots` tables in a schema of their own, no HTTP, no authentication).
//! Berth's figures are printed as a ratio of it, so what Berth adds over the framework it is
//! built on is measured rather than guessed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use berth_domain::domain_name::DomainName;
use berth_domain::ids::{SiteId, TenantId};
use berth_domain::php::SiteKind;
use berth_domain::site::{Site, SiteCommand};
use cqrs_es::persist::PersistedEventStore;
use cqrs_es::CqrsFramework;
use postgres_es::{PostgresCqrs, PostgresEventRepository};
use sqlx::postgres::PgPoolOptions;

use super::quantile_ms;
use super::world::World;

/// The peer's tables, as postgres-es documents them, in a schema of their own.
const SCHEMA: &str = "
CREATE SCHEMA peer;
CREATE TABLE peer.events (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    sequence bigint CHECK (sequence >= 0) NOT NULL,
    event_type text NOT NULL, event_version text NOT NULL,
    payload json NOT NULL, metadata json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence));
CREATE TABLE peer.snapshots (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL,
    last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));";

/// What one peer load measured.
pub struct PeerLoad {
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The peer, set up in `world`'s database with a pool as large as Berth's.
pub struct Peer {
    cqrs: std::sync::Arc<PostgresCqrs<Site>>,
    tenant: TenantId,
}

static SITE: AtomicU64 = AtomicU64::new(0);

impl Peer {
    pub async fn create(world: &World, connections: u32) -> anyhow::Result<Self> {
        sqlx::raw_sql(SCHEMA).execute(&world.pool).await?;
        let pool = PgPoolOptions::new().max_connections(connections).connect(&world.database_url).await?;
        let repository = PostgresEventRepository::new(pool).with_tables("peer.events", "peer.snapshots");
        let cqrs = CqrsFramework::new(PersistedEventStore::new_event_store(repository), Vec::new(), ());
        Ok(Self { cqrs: std::sync::Arc::new(cqrs), tenant: TenantId::from_uuid(uuid::Uuid::now_v7()) })
    }

    /// `clients` callers creating distinct new sites as fast as they are answered, for `window`.
    pub async fn commands(&self, clients: usize, window: Duration) -> anyhow::Result<PeerLoad> {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (cqrs, tenant) = (self.cqrs.clone(), self.tenant);
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < window {
                    let n = SITE.fetch_add(1, Ordering::Relaxed);
                    let site_id = SiteId::from_uuid(uuid::Uuid::now_v7());
                    let command = SiteCommand::Create {
                        site_id,
                        tenant_id: tenant,
                        domain: DomainName::parse(&format!("p{n}.peer.test")).map_err(anyhow::Error::msg)?,
                        kind: SiteKind::Static,
                        php_version: None,
                    };
                    let begun = Instant::now();
                    cqrs.execute(&site_id.to_string(), command)
                        .await
                        .map_err(|e| anyhow::anyhow!("peer: {e}"))?;
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
        Ok(PeerLoad {
            rate,
            p50_ms: quantile_ms(&mut latencies, 0.5),
            p99_ms: quantile_ms(&mut latencies, 0.99),
        })
    }
}
