//! The pipeline behind the commands: long aggregates, lag at a steady load, the relay draining
//! a backlog, and a rebuild over many events.

use std::time::{Duration, Instant};

use berth_domain::domain_name::DomainName;
use berth_domain::ids::{SiteId, TenantId};
use berth_domain::php::SiteKind;
use berth_domain::site::{Site, SiteCommand, SiteLabel};
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::feed::FeedNotifier;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::relay::{Relay, RelaySettings};
use berth_eventstore::store::EventStore;
use berth_eventstore::stream::StreamSettings;
use futures::StreamExt;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::load::{create_site, Sampler};
use super::quantile_ms;
use super::world::{Server, World};

pub(crate) async fn create(store: &EventStore, tenant: TenantId) -> anyhow::Result<SiteId> {
    let id = SiteId::from_uuid(Uuid::now_v7());
    let domain = DomainName::parse(&format!("p{}.bench.test", id.as_uuid().simple()))?;
    let command = SiteCommand::Create {
        site_id: id,
        tenant_id: tenant,
        domain,
        kind: SiteKind::Static,
        php_version: None,
    };
    let meta = CommandMetadata::new(Some(tenant.as_uuid()), "bench");
    store.execute::<Site>(&id.to_string(), command, &meta, RetryPolicy::default()).await?;
    Ok(id)
}

async fn relabel(store: &EventStore, tenant: TenantId, id: SiteId, label: &str) -> anyhow::Result<Duration> {
    let command = SiteCommand::Update { php_version: None, label: Some(SiteLabel::parse(label)?) };
    let meta = CommandMetadata::new(Some(tenant.as_uuid()), "bench");
    let started = Instant::now();
    store.execute::<Site>(&id.to_string(), command, &meta, RetryPolicy::default()).await?;
    Ok(started.elapsed())
}

/// p50 of a command on an aggregate with `events` events and on fresh aggregates, in ms.
pub async fn long_aggregate(world: &World, events: usize) -> anyhow::Result<(f64, f64)> {
    let store = EventStore::new(world.pool.clone(), 100);
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let long = create(&store, tenant).await?;
    for i in 1..events {
        relabel(&store, tenant, long, &format!("l{i}")).await?;
    }
    let (mut on_long, mut on_fresh) = (Vec::new(), Vec::new());
    for i in 0..201 {
        let fresh = create(&store, tenant).await?;
        on_fresh.push(relabel(&store, tenant, fresh, &format!("f{i}")).await?);
        on_long.push(relabel(&store, tenant, long, &format!("t{i}")).await?);
    }
    Ok((quantile_ms(&mut on_long, 0.5), quantile_ms(&mut on_fresh, 0.5)))
}

/// What a paced load measured.
pub struct Steady {
    pub rate: f64,
    pub jetstream_p50_ms: f64,
    pub jetstream_p99_ms: f64,
    pub read_model_p50_ms: f64,
    pub read_model_p99_ms: f64,
}

/// Creates sites at `rate` per second for `window`; measures commit-to-JetStream lag (from a
/// subscriber) and commit-to-read-model lag (from the projection's checkpoint).
pub async fn steady(
    server: &Server,
    token: &str,
    rate: f64,
    window: Duration,
    world: &World,
) -> anyhow::Result<Steady> {
    let mut subscriber = world.jetstream.client().subscribe(format!("{}.>", world.subject_prefix)).await?;
    let listening = tokio::spawn(async move {
        let mut lags = Vec::new();
        while let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(3), subscriber.next()).await {
            if let Ok(event) = berth_eventstore::stream::decode(&message.payload) {
                let lag = (OffsetDateTime::now_utc() - event.recorded_at).max(time::Duration::ZERO);
                lags.push(Duration::from_secs_f64(lag.as_seconds_f64()));
            }
        }
        lags
    });
    let sampler = Sampler::start(world.pool.clone());
    let from = OffsetDateTime::now_utc();
    let started = Instant::now();
    let tasks = 50;
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let client = Server::client_only(server.command.clone(), server.http.clone());
        let token = token.to_owned();
        let period = Duration::from_secs_f64(f64::from(tasks) / rate);
        handles.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            let mut sent = 0u64;
            while started.elapsed() < window {
                ticks.tick().await;
                create_site(&client, &token).await?;
                sent += 1;
            }
            Ok::<u64, anyhow::Error>(sent)
        }));
    }
    let mut sent = 0;
    for handle in handles {
        sent += handle.await??;
    }
    let achieved = sent as f64 / started.elapsed().as_secs_f64();
    let to = OffsetDateTime::now_utc();
    let mut read_model = sampler.finish(world, from, to, &["projection:sites"]).await?.remove(0);
    let mut jetstream = listening.await?;
    Ok(Steady {
        rate: achieved,
        jetstream_p50_ms: quantile_ms(&mut jetstream, 0.5),
        jetstream_p99_ms: quantile_ms(&mut jetstream, 0.99),
        read_model_p50_ms: quantile_ms(&mut read_model, 0.5),
        read_model_p99_ms: quantile_ms(&mut read_model, 0.99),
    })
}

/// Events per second the relay publishes when it finds `backlog` events waiting.
pub async fn relay_backlog(world: &World, backlog: usize) -> anyhow::Result<f64> {
    let store = EventStore::new(world.pool.clone(), 100);
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let writers = 32;
    let mut handles = Vec::new();
    for _ in 0..writers {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..backlog / writers {
                create(&store, tenant).await?;
            }
            Ok::<(), anyhow::Error>(())
        }));
    }
    for handle in handles {
        handle.await??;
    }
    let head = berth_eventstore::lag::head(&world.pool).await?;
    let behind: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events e, checkpoints c WHERE c.name = 'relay'
            AND (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position)",
    )
    .fetch_one(&world.pool)
    .await?;
    let shutdown = CancellationToken::new();
    let stream = StreamSettings {
        name: world.stream.clone(),
        subject_prefix: world.subject_prefix.clone(),
        ..StreamSettings::default()
    };
    let notifier = FeedNotifier::start(world.pool.clone(), Duration::from_millis(100), shutdown.clone());
    let relay =
        Relay::new(world.pool.clone(), world.jetstream.clone(), stream, RelaySettings::default(), notifier);
    let started = Instant::now();
    let running = tokio::spawn(relay.run(shutdown.clone()));
    loop {
        let done: Option<i64> = sqlx::query_scalar(
            "SELECT max(e.global_position) FROM events e, checkpoints c WHERE c.name = 'relay'
                AND (e.transaction_id, e.global_position) <= (c.transaction_id, c.global_position) AND e.global_position = $1",
        )
        .bind(head)
        .fetch_one(&world.pool)
        .await?;
        if done.is_some() || started.elapsed() > Duration::from_secs(300) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rate = behind as f64 / started.elapsed().as_secs_f64();
    shutdown.cancel();
    running.await?;
    Ok(rate)
}

/// Events per second rebuilding the audit trail over `total` events (topped up with
/// generated site events to reach it).
pub async fn rebuild(world: &World, total: i64) -> anyhow::Result<f64> {
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&world.pool).await?;
    let mut missing = total - have;
    while missing > 0 {
        let chunk = missing.min(100_000);
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             SELECT 'site', id::text, 1, 'SiteCreated', '1',
                    jsonb_build_object('Created', jsonb_build_object('site_id', id, 'tenant_id', tenant,
                        'domain', 'g' || replace(id::text, '-', '') || '.bench.test', 'kind', 'static', 'php_version', NULL)),
                    jsonb_build_object('event_id', gen_random_uuid()::text, 'tenant_id', tenant::text, 'actor', 'bench',
                        'command_id', gen_random_uuid()::text, 'correlation_id', gen_random_uuid()::text)
               FROM (SELECT gen_random_uuid() AS id, '00000000-0000-7000-8000-000000000001'::uuid AS tenant
                       FROM generate_series(1, $1)) generated",
        )
        .bind(chunk)
        .execute(&world.pool)
        .await?;
        missing -= chunk;
    }
    let audit = berth_projections::projection::by_name("audit")
        .ok_or_else(|| anyhow::anyhow!("no audit projection"))?;
    let report = berth_projections::rebuild::rebuild(
        &world.pool,
        audit.as_ref(),
        berth_projections::rebuild::DEFAULT_BATCH,
    )
    .await?;
    Ok(report.events as f64 / report.elapsed.as_secs_f64())
}
