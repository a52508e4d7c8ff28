use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use berth_domain::ids::TenantId;
use berth_domain::site::{SiteCommand, SiteLabel};
use berth_eventstore::relay::LOCK_KEY;
use rand::Rng;
use uuid::Uuid;

use berth_domain::ids::SiteId;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::store::EventStore;

use crate::common::{create_site, eventually, kill9, run_site, TestEnv};

/// SIGKILL the relay (and the projector) at random moments while commands run: afterwards every
/// event is on the stream exactly once, per-aggregate order holds, and the projections equal a
/// fresh rebuild.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_killed_at_random_moments_loses_and_duplicates_nothing() {
    let env = TestEnv::new().await;
    let tenant = TenantId::from_uuid(Uuid::now_v7());

    // Arrange: four writers, each creating sites and updating them.
    let mut writers = Vec::new();
    for writer in 0..4 {
        let store = env.store();
        writers.push(tokio::spawn(async move {
            let mut sites = Vec::new();
            for i in 0..200 {
                if i % 4 == 0 {
                    sites.push(create_site(&store, tenant).await);
                } else {
                    let site = sites[i % sites.len()];
                    let label = SiteLabel::parse(&format!("w{writer}-{i}")).unwrap();
                    update(
                        &store,
                        tenant,
                        site,
                        SiteCommand::Update { php_version: None, label: Some(label) },
                    )
                    .await;
                }
            }
        }));
    }

    // Act: kill the relay and the projector at random moments until the writers are done.
    let mut kills = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        let mut relay = env.spawn("relay");
        let mut projector = env.spawn("projections");
        let (relay_life, projector_life) = {
            let mut rng = rand::rng();
            (rng.random_range(50..700), rng.random_range(50..700))
        };
        tokio::time::sleep(Duration::from_millis(relay_life.min(projector_life))).await;
        kill9(&mut relay).await;
        tokio::time::sleep(Duration::from_millis(relay_life.abs_diff(projector_life))).await;
        kill9(&mut projector).await;
        kills += 1;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut relay = env.spawn("relay");
    let mut projector = env.spawn("projections");
    let total = env.event_count().await;
    assert_eq!(env.wait_for_stream(total as u64, Duration::from_secs(60)).await, total as u64);

    // Assert: exactly once by event id, and in per-aggregate order.
    let published = env.stream_contents().await;
    let ids: HashSet<Uuid> = published.iter().map(|e| e.event_id).collect();
    assert_eq!(published.len() as i64, total, "no duplicates on the stream");
    assert_eq!(ids.len() as i64, total);
    let stored: HashSet<Uuid> = sqlx::query_scalar("SELECT event_id FROM events")
        .fetch_all(&env.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(ids, stored);
    let mut last_sequence: HashMap<(&str, &str), i64> = HashMap::new();
    for event in &published {
        let key = (event.aggregate_type.as_str(), event.aggregate_id.as_str());
        let previous = last_sequence.insert(key, event.sequence).unwrap_or(0);
        assert_eq!(event.sequence, previous + 1, "per-aggregate order on the stream");
    }
    assert!(kills >= 2, "the relay was killed {kills} times");

    // The projections, killed just as often, equal a fresh rebuild.
    let caught_up = eventually(Duration::from_secs(60), || async {
        let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM proj_audit.audit_entries")
            .fetch_one(&env.pool)
            .await
            .unwrap_or(-1);
        // Each projection runs on its own: all of them, not just the audit trail, must be done.
        audited == total && crate::projections::all_caught_up(&env).await
    })
    .await;
    assert!(caught_up, "projections caught up");
    kill9(&mut projector).await;
    kill9(&mut relay).await;
    crate::projections::assert_equals_rebuild(&env).await;
    env.cleanup().await;
}

/// Two relays: one publishes; kill it and the other takes over within five seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_relay_takes_over_within_five_seconds() {
    let env = TestEnv::new().await;
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let first = env.spawn("relay");
    let second = env.spawn("relay");
    create_site(&store, tenant).await;
    assert_eq!(env.wait_for_stream(1, Duration::from_secs(15)).await, 1);

    let leader = leader_pid(&env).await.expect("one relay holds the lock");
    let (mut active, mut standby) =
        if Some(leader) == first.id() { (first, second) } else { (second, first) };
    assert_eq!(Some(leader), active.id());

    // Act: kill the active relay and write again.
    kill9(&mut active).await;
    let killed_at = Instant::now();
    create_site(&store, tenant).await;

    // Assert: the standby publishes within five seconds.
    assert_eq!(env.wait_for_stream(2, Duration::from_secs(5)).await, 2);
    let took = killed_at.elapsed();
    assert!(took < Duration::from_secs(5), "takeover took {took:?}");
    assert_eq!(leader_pid(&env).await, standby.id());
    kill9(&mut standby).await;
    env.cleanup().await;
}

async fn leader_pid(env: &TestEnv) -> Option<u32> {
    let name: Option<String> = sqlx::query_scalar(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND ((l.classid::bigint << 32) | l.objid::bigint) = $1",
    )
    .bind(LOCK_KEY)
    .fetch_optional(&env.pool)
    .await
    .unwrap();
    name.and_then(|n| n.rsplit(' ').next().and_then(|pid| pid.parse().ok()))
}

async fn update(store: &EventStore, tenant: TenantId, site: SiteId, command: SiteCommand) {
    let retry = RetryPolicy { max_attempts: 50, ..RetryPolicy::default() };
    run_site(store, tenant, site, command, retry).await.expect("update");
}
