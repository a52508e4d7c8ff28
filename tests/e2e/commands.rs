use std::collections::HashSet;
use std::time::{Duration, Instant};

use berth_domain::ids::TenantId;
use berth_domain::site::{Site, SiteCommand, SiteLabel};
use berth_eventstore::execute::{ExecuteError, RetryPolicy};
use berth_eventstore::metadata::CommandMetadata;
use uuid::Uuid;

use crate::common::{create_site, run_site, TestEnv};

fn label(text: &str) -> SiteCommand {
    SiteCommand::Update { php_version: None, label: Some(SiteLabel::parse(text).unwrap()) }
}

/// 32 writers on one aggregate: no lost update, each command applied or answered with a
/// conflict, and a repeated command id appends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_writers_lose_no_update() {
    let env = TestEnv::new().await;
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let site = create_site(&store, tenant).await;

    // Act: 32 writers at once, each allowed only 3 attempts so that some do conflict.
    let mut tasks = Vec::new();
    for writer in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let meta = CommandMetadata::new(Some(tenant.as_uuid()), format!("user:writer-{writer}"));
            let retry = RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(1) };
            let result = store
                .execute::<Site>(&site.to_string(), label(&format!("writer-{writer}")), &meta, retry)
                .await;
            (writer, meta, result)
        }));
    }
    let mut applied = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let (writer, meta, result) = task.await.unwrap();
        match result {
            Ok(outcome) => {
                assert_eq!(outcome.events, 1);
                assert!(!outcome.duplicate);
                applied.push((writer, meta, outcome.version));
            }
            Err(ExecuteError::Conflict { attempts }) => {
                assert_eq!(attempts, 3);
                conflicts += 1;
            }
            Err(other) => panic!("writer {writer}: unexpected {other}"),
        }
    }

    // Assert: every applied command has its own version, and the log holds exactly those.
    assert_eq!(applied.len() + conflicts, 32);
    let versions: HashSet<i64> = applied.iter().map(|(_, _, v)| *v).collect();
    assert_eq!(versions.len(), applied.len(), "two commands reported the same version");
    assert_eq!(versions, (2..=applied.len() as i64 + 1).collect());
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = $1")
        .bind(site.to_string())
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(stored, applied.len() as i64 + 1);
    let (last_writer, last_meta, last_version) = applied.iter().max_by_key(|(_, _, v)| *v).unwrap().clone();
    let loaded = store.load::<Site>(&site.to_string()).await.unwrap();
    assert_eq!(loaded.version, last_version);
    assert_eq!(loaded.aggregate.label().unwrap().as_str(), format!("writer-{last_writer}"));

    // A repeated command id returns the first outcome and appends nothing.
    let again = store
        .execute::<Site>(&site.to_string(), label("something else"), &last_meta, RetryPolicy::default())
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.version, last_version);
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&env.pool).await.unwrap();
    assert_eq!(after, stored);
    env.cleanup().await;
}

/// The same command id sent by eight clients at once is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_id_sent_concurrently_is_applied_once() {
    let env = TestEnv::new().await;
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let site = create_site(&store, tenant).await;
    let meta = CommandMetadata::new(Some(tenant.as_uuid()), "user:retrying-client");
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (store, meta) = (store.clone(), meta.clone());
        tasks.push(tokio::spawn(async move {
            store
                .execute::<Site>(&site.to_string(), label("once"), &meta, RetryPolicy::default())
                .await
                .unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| !o.duplicate).count(), 1);
    assert!(outcomes.iter().all(|o| o.version == 2));
    assert_eq!(env.event_count().await, 2);

    // The same id on another aggregate is refused rather than silently ignored.
    let other = create_site(&store, tenant).await;
    let reused = store.execute::<Site>(&other.to_string(), label("x"), &meta, RetryPolicy::default()).await;
    assert!(matches!(reused, Err(ExecuteError::CommandIdReused(_))));
    env.cleanup().await;
}

/// A rejected command appends nothing.
#[tokio::test]
async fn a_rejected_command_appends_nothing() {
    let env = TestEnv::new().await;
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let site = create_site(&store, tenant).await;
    let failed = SiteCommand::FailProvisioning {
        step: berth_domain::site::ProvisioningStep::Allocate,
        code: berth_domain::site::FailureCode::NoRoom,
        reason: "no node".into(),
    };
    run_site(&store, tenant, site, failed, RetryPolicy::default()).await.unwrap();
    run_site(&store, tenant, site, SiteCommand::Delete, RetryPolicy::default()).await.unwrap();
    let refused = run_site(&store, tenant, site, label("too late"), RetryPolicy::default()).await;
    assert!(matches!(refused, Err(ExecuteError::Rejected(_))));
    assert_eq!(env.event_count().await, 3);
    env.cleanup().await;
}

/// An aggregate with 10,000 events: the snapshot-loaded state equals a full replay, and a command
/// on it costs at most twice one on a fresh aggregate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_equal_full_replay_and_keep_long_aggregates_fast() {
    let env = TestEnv::new().await;
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let long = create_site(&store, tenant).await;
    for i in 0..9_999 {
        run_site(&store, tenant, long, label(&format!("l{i}")), RetryPolicy::default()).await.unwrap();
    }

    // Snapshot equality.
    let from_snapshot = store.load::<Site>(&long.to_string()).await.unwrap();
    let replayed = store.load_full::<Site>(&long.to_string()).await.unwrap();
    assert_eq!(replayed.version, 10_000);
    assert_eq!(replayed.replayed, 10_000);
    assert_eq!(from_snapshot.version, replayed.version);
    assert_eq!(from_snapshot.aggregate, replayed.aggregate);
    assert!(from_snapshot.replayed < 100, "loaded {} events past the snapshot", from_snapshot.replayed);
    let snapshot_at: i64 =
        sqlx::query_scalar("SELECT sequence FROM aggregate_snapshots WHERE aggregate_id = $1")
            .bind(long.to_string())
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(snapshot_at, 10_000);

    // Timing: medians over alternating runs, so machine noise hits both sides alike.
    let mut on_long = Vec::new();
    let mut on_fresh = Vec::new();
    for i in 0..41 {
        let fresh = create_site(&store, tenant).await;
        let started = Instant::now();
        run_site(&store, tenant, fresh, label(&format!("f{i}")), RetryPolicy::default()).await.unwrap();
        on_fresh.push(started.elapsed());
        let started = Instant::now();
        run_site(&store, tenant, long, label(&format!("t{i}")), RetryPolicy::default()).await.unwrap();
        on_long.push(started.elapsed());
    }
    on_long.sort();
    on_fresh.sort();
    let (long_median, fresh_median) = (on_long[20], on_fresh[20]);
    println!("command on a 10,000-event aggregate: {long_median:?}; on a fresh one: {fresh_median:?}");
    assert!(long_median <= fresh_median * 2, "{long_median:?} > 2 × {fresh_median:?}");

    // And the state after all that still equals a replay.
    let from_snapshot = store.load::<Site>(&long.to_string()).await.unwrap();
    let replayed = store.load_full::<Site>(&long.to_string()).await.unwrap();
    assert_eq!(from_snapshot.aggregate, replayed.aggregate);
    env.cleanup().await;
}
