//! No hung process stops the feed: a projections process stopped inside its batch transaction
//! holds the feed's horizon only until PostgreSQL's idle-in-transaction timeout ends its
//! session.

use std::time::{Duration, Instant};

use berth_domain::ids::TenantId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::{create_site, eventually, TestEnv};
use crate::fleet::{self, Role};

/// The idle-in-transaction timeout the processes of this test run with.
const TIMEOUT: Duration = Duration::from_secs(3);

/// SIGSTOP one of two projections processes in the middle of a batch: while it is stopped the
/// relay's `berth_feed_horizon_age_seconds` names it; within the timeout (and a margin for
/// the next poll) the relay and every projection have passed an event written after the stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_projections_process_stalls_the_feed_only_until_its_timeout() {
    // Arrange: a relay and two projections processes; a writer that never stops. The stall
    // holds the horizon of the whole PostgreSQL server, every test database's feed with it:
    // not while another test times its reads or publishes.
    let _alone = fleet::exclusive().await;
    let env = TestEnv::new().await;
    let timeout_ms = TIMEOUT.as_millis().to_string();
    let vars = fleet::vars(&env, &[("BERTH_DATABASE__IDLE_IN_TRANSACTION_TIMEOUT_MS", &timeout_ms)]);
    let roles = fleet::start_all(&vars, &["relay", "projections", "projections"]).await;
    let (relay, stopped, _other) = (&roles[0], &roles[1], &roles[2]);
    let writing = CancellationToken::new();
    let writer = {
        let (store, writing) = (env.store(), writing.clone());
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        tokio::spawn(async move {
            while !writing.is_cancelled() {
                create_site(&store, tenant).await;
            }
        })
    };
    if env.wait_for_stream(20, Duration::from_secs(30)).await < 20 {
        // The horizon is the whole server's: say whose transaction held it, if one did.
        let holder = berth_eventstore::lag::horizon(&env.pool).await.ok().flatten();
        panic!("the relay did not publish within 30 s; the feed's horizon holder: {holder:?}");
    }

    // Act: stop the process while it holds a transaction id; write one more event.
    let holder = format!("berth projections {}", stopped.pid());
    assert!(stop_inside_a_transaction(&env, stopped, &holder).await, "caught {holder} inside a batch");
    let stopped_at = Instant::now();
    let marker = create_site(&env.store(), TenantId::from_uuid(Uuid::now_v7())).await;
    // Looked for while the stall lasts (the holder's session still open), not for a set time:
    // a scrape on a busy machine can take a good part of the timeout.
    let deadline = Instant::now() + TIMEOUT + Duration::from_secs(5);
    let shown = loop {
        if names_holder(relay, &holder).await {
            break true;
        }
        if holding(&env, &holder).await.is_none() || Instant::now() > deadline {
            break false;
        }
        tokio::task::yield_now().await;
    };
    let resumed = eventually(TIMEOUT + Duration::from_secs(10), || passed_by_everyone(&env, &marker)).await;
    let stall = stopped_at.elapsed();
    let cleared = eventually(Duration::from_secs(10), || async { !names_holder(relay, &holder).await }).await;

    // Assert
    println!("feed stall with one projections process stopped: {stall:.2?} (idle-in-transaction timeout {TIMEOUT:?})");
    assert!(shown, "berth_feed_horizon_age_seconds named the stopped process");
    assert!(resumed, "the relay and the projections passed the marker");
    assert!(
        stall <= TIMEOUT + Duration::from_secs(3),
        "stalled {stall:?}, over the timeout {TIMEOUT:?} + 3 s"
    );
    assert!(cleared, "the holder is gone from the metric once its session ended");

    stopped.signal("CONT");
    writing.cancel();
    writer.await.unwrap();
    for role in roles {
        role.kill().await;
    }
    env.cleanup().await;
}

/// Sends SIGSTOP to `role` at a moment one of its sessions holds a transaction id, and waits
/// for that session to sit idle in its transaction; tries again (after SIGCONT) when the
/// moment was missed. `true` once caught.
async fn stop_inside_a_transaction(env: &TestEnv, role: &Role, holder: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if holding(env, holder).await.is_none() {
            tokio::task::yield_now().await;
            continue;
        }
        role.signal("STOP");
        // A statement sent before the stop still finishes; then the session is either idle in
        // its transaction (caught) or the statement was the commit (missed).
        let settled = Instant::now() + Duration::from_secs(1);
        loop {
            match holding(env, holder).await.as_deref() {
                Some("idle in transaction") => return true,
                Some(_) if Instant::now() < settled => tokio::task::yield_now().await,
                _ => break,
            }
        }
        role.signal("CONT");
    }
    false
}

/// Whether `role`'s `/metrics` names `holder` as holding the feed's horizon.
async fn names_holder(role: &Role, holder: &str) -> bool {
    role.metrics().await.lines().any(|l| {
        l.starts_with("berth_feed_horizon_age_seconds{") && l.contains(&format!("holder=\"{holder}\""))
    })
}

/// The state of `holder`'s session that holds a transaction id, if one does.
async fn holding(env: &TestEnv, holder: &str) -> Option<String> {
    sqlx::query_scalar(
        "SELECT state FROM pg_stat_activity WHERE application_name = $1 AND backend_xid IS NOT NULL LIMIT 1",
    )
    .bind(holder)
    .fetch_optional(&env.pool)
    .await
    .unwrap()
}

/// Whether the relay and every projection have passed the first event of `site`.
async fn passed_by_everyone(env: &TestEnv, site: &berth_domain::ids::SiteId) -> bool {
    let names: Vec<String> = berth_projections::all()
        .iter()
        .map(|p| berth_projections::projection::checkpoint_name(p.name()))
        .chain([berth_eventstore::relay::CHECKPOINT.to_owned()])
        .collect();
    let passed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM checkpoints c,
                (SELECT transaction_id, global_position FROM events WHERE aggregate_id = $1 ORDER BY sequence LIMIT 1) e
          WHERE c.name = ANY($2) AND (c.transaction_id, c.global_position) >= (e.transaction_id, e.global_position)",
    )
    .bind(site.to_string())
    .bind(&names)
    .fetch_one(&env.pool)
    .await
    .unwrap();
    passed == names.len() as i64
}
