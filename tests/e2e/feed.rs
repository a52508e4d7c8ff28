use std::time::Duration;

use berth_domain::ids::TenantId;
use berth_eventstore::feed::{self, FeedPosition};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::{create_site, TestEnv};

/// A transaction takes an earlier global position but commits after a later one: the feed and
/// JetStream still deliver it, and in commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_that_commits_late_is_not_skipped() {
    let env = TestEnv::new().await;
    let shutdown = CancellationToken::new();
    let relay_task = env.start_relay(&shutdown);
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());

    // Arrange: transaction A takes a global position and stays open.
    let early_event = Uuid::now_v7();
    let mut early = env.pool.begin().await.unwrap();
    let early_position: i64 = sqlx::query_scalar(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         VALUES ('probe', 'late', 1, 'ProbeRecorded', '1', '{}', jsonb_build_object('event_id', $1::text, 'tenant_id', $2::text))
         RETURNING global_position",
    )
    .bind(early_event.to_string())
    .bind(tenant.to_string())
    .fetch_one(&mut *early)
    .await
    .unwrap();
    // ... and transaction B takes a later position and commits first.
    let site = create_site(&store, tenant).await;
    let late_position: i64 = sqlx::query_scalar("SELECT global_position FROM events WHERE aggregate_id = $1")
        .bind(site.to_string())
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert!(early_position < late_position);

    // While A is open the feed holds B back instead of passing A's position by.
    assert!(feed::read_after(&env.pool, FeedPosition::START, 100).await.unwrap().is_empty());
    assert_eq!(env.wait_for_stream(1, Duration::from_millis(700)).await, 0, "relay must wait for A");

    // Act: A commits.
    early.commit().await.unwrap();

    // Assert: both are delivered, A first (commit order of transaction ids).
    // (Other tests' transactions on the same server may hold the feed back a moment too.)
    let mut delivered = Vec::new();
    for _ in 0..250 {
        delivered = feed::read_after(&env.pool, FeedPosition::START, 100).await.unwrap();
        if delivered.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let ids: Vec<Uuid> = delivered.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], early_event);
    assert_eq!(delivered[1].aggregate_id, site.to_string());
    assert_eq!(env.wait_for_stream(2, Duration::from_secs(10)).await, 2);
    let published: Vec<Uuid> = env.stream_contents().await.iter().map(|e| e.event_id).collect();
    assert_eq!(published, ids);

    shutdown.cancel();
    relay_task.await.unwrap();
    env.cleanup().await;
}

/// The feed resumes exactly after a checkpoint, whatever the batch size.
#[tokio::test]
async fn reading_in_batches_from_checkpoints_sees_every_event_once() {
    let env = TestEnv::new().await;
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    for _ in 0..25 {
        create_site(&store, tenant).await;
    }
    let mut position = FeedPosition::START;
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.len() < 25 && std::time::Instant::now() < deadline {
        let batch = feed::read_after(&env.pool, position, 7).await.unwrap();
        let Some(last) = batch.last() else {
            // Held back by a transaction still open elsewhere on the server; look again.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            continue;
        };
        position = last.position();
        seen.extend(batch.iter().map(|e| e.global_position));
    }
    let all: Vec<i64> =
        sqlx::query_scalar("SELECT global_position FROM events ORDER BY transaction_id, global_position")
            .fetch_all(&env.pool)
            .await
            .unwrap();
    assert_eq!(seen, all);
    assert_eq!(seen.len(), 25);
    env.cleanup().await;
}

/// A batch read from a checkpoint never ends inside a commit: a view applied from it shows a
/// command's events all or none (a payment and the collection it settles, say).
#[tokio::test]
async fn a_batch_ends_with_a_commit_not_inside_one() {
    let env = TestEnv::new().await;
    // Two commits: three events, then two.
    for (commit, events) in [("first", 3), ("second", 2)] {
        let mut tx = env.pool.begin().await.unwrap();
        for sequence in 1..=events {
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
                 VALUES ('probe', $1, $2, 'ProbeRecorded', '1', '{}', jsonb_build_object('event_id', $3::text))",
            )
            .bind(commit)
            .bind(i64::from(sequence))
            .bind(Uuid::now_v7().to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    // Other tests' open transactions on the server may hold the feed back a moment.
    let read = |limit: i64| {
        let pool = env.pool.clone();
        async move { feed::read_after_checkpoint(&pool, "probe-reader", limit).await.unwrap() }
    };
    let sizes = std::cell::Cell::new((0, 0, 0));
    let caught_up = crate::common::eventually(Duration::from_secs(10), || async {
        sizes.set((read(1).await.len(), read(3).await.len(), read(4).await.len()));
        sizes.get().2 == 5
    })
    .await;
    let sizes = sizes.get();
    assert!(caught_up, "the feed held both commits back: {sizes:?}");
    assert_eq!(sizes, (3, 3, 5), "batches of 1, 3 and 4 events round up to whole commits");
    env.cleanup().await;
}

/// A commit's wake-up names the aggregate types it wrote: a reader of other types sleeps on.
#[tokio::test]
async fn a_commits_wake_up_names_the_aggregate_types_it_wrote() {
    let env = TestEnv::new().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&env.pool).await.unwrap();
    listener.listen(berth_eventstore::store::FEED_CHANNEL).await.unwrap();
    let tenant = TenantId::from_uuid(Uuid::now_v7());

    create_site(&env.store(), tenant).await;
    let woken = tokio::time::timeout(Duration::from_secs(10), listener.recv()).await.unwrap().unwrap();

    assert_eq!(woken.payload(), "site");
    env.cleanup().await;
}
