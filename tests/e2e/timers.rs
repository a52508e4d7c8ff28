//! Durable timers: declared by events, fired once by whichever sagas process gets there, even
//! when a process dies while firing; thousands due at once all fire; a test clock moves time.

use std::time::{Duration, Instant};

use berth::app::{Application, Roles};
use berth_domain::email::Email;
use berth_domain::ids::{InvitationId, TenantId, UserId};
use berth_domain::name::DisplayName;
use berth_domain::organization::{Organization, OrganizationCommand};
use berth_domain::role::Role;
use berth_eventstore::clock::ManualClock;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::store::EventStore;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::{eventually, kill9, TestEnv};

/// An organization with `invitations` invitations expiring at `expires_at`, each of which
/// schedules its own expiry timer.
async fn org_with_invitations(
    store: &EventStore,
    invitations: usize,
    expires_at: OffsetDateTime,
) -> TenantId {
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let meta = || CommandMetadata::new(Some(tenant.as_uuid()), "user:test");
    let register = OrganizationCommand::Register {
        tenant_id: tenant,
        name: DisplayName::parse("Timed").unwrap(),
        owner: UserId::from_uuid(Uuid::now_v7()),
        owner_email: Email::parse(&format!("owner-{tenant}@timed.test")).unwrap(),
    };
    let id = tenant.to_string();
    store.execute::<Organization>(&id, register, &meta(), RetryPolicy::default()).await.unwrap();
    for n in 0..invitations {
        let invite = OrganizationCommand::Invite {
            invitation_id: InvitationId::from_uuid(Uuid::now_v7()),
            email: Email::parse(&format!("guest-{n}@timed.test")).unwrap(),
            role: Role::Member,
            expires_at,
            by_role: Role::Owner,
        };
        store.execute::<Organization>(&id, invite, &meta(), RetryPolicy::default()).await.unwrap();
    }
    tenant
}

/// Seeds `orgs` organizations with `each` invitations, eight at a time.
async fn seed(env: &TestEnv, orgs: usize, each: usize, expires_at: OffsetDateTime) {
    let store = env.store();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let store = store.clone();
        let mine = (worker..orgs).step_by(8).count();
        tasks.spawn(async move {
            for _ in 0..mine {
                org_with_invitations(&store, each, expires_at).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

async fn scalar(env: &TestEnv, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&env.pool).await.unwrap()
}

async fn fired(env: &TestEnv) -> i64 {
    scalar(env, "SELECT count(*) FROM timers WHERE status = 'fired'").await
}

/// Each timer's command ran once and it was recorded fired once: no key has two `TimerFired`
/// events, and each invitation expired once.
async fn assert_fired_once(env: &TestEnv, timers: i64) {
    assert_eq!(scalar(env, "SELECT count(*) FROM events WHERE event_type = 'TimerFired'").await, timers);
    assert_eq!(
        scalar(env, "SELECT count(DISTINCT aggregate_id) FROM events WHERE event_type = 'TimerFired'").await,
        timers,
        "a timer fired twice"
    );
    assert_eq!(
        scalar(env, "SELECT count(*) FROM events WHERE event_type = 'InvitationExpired'").await,
        timers
    );
    let twice = scalar(
        env,
        "SELECT count(*) FROM (SELECT payload FROM events WHERE event_type = 'InvitationExpired'
                                GROUP BY payload HAVING count(*) > 1) repeated",
    )
    .await;
    assert_eq!(twice, 0, "an invitation expired twice");
}

/// A sagas process killed with SIGKILL while it fires timers: another process fires the rest,
/// and every timer fires exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_while_firing_leaves_every_timer_to_fire_once() {
    // Arrange: 1,500 timers due already.
    let env = TestEnv::new().await;
    env.stream.ensure(&env.jetstream).await.unwrap();
    seed(&env, 300, 5, OffsetDateTime::now_utc() - time::Duration::minutes(1)).await;
    let total = scalar(&env, "SELECT count(*) FROM timers WHERE status = 'scheduled'").await;
    assert_eq!(total, 1500);

    // Act: kill the first process as soon as it has fired some of them.
    let mut first = env.spawn("sagas");
    assert!(eventually(Duration::from_secs(60), || async { fired(&env).await > 0 }).await, "nothing fired");
    kill9(&mut first).await;
    let at_kill = fired(&env).await;
    let mut second = env.spawn("sagas");
    let all = eventually(Duration::from_secs(120), || async { fired(&env).await == total }).await;

    // Assert
    assert!(all, "only {} of {total} fired", fired(&env).await);
    assert!(at_kill < total, "the first process was killed after it had fired everything");
    assert_fired_once(&env, total).await;
    kill9(&mut second).await;
    env.cleanup().await;
}

/// Ten thousand timers due at the same moment all fire, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_timers_due_at_once_all_fire() {
    // Arrange
    let env = TestEnv::new().await;
    env.stream.ensure(&env.jetstream).await.unwrap();
    let due = OffsetDateTime::now_utc() + time::Duration::minutes(10);
    seed(&env, 1000, 10, due).await;
    let clock = ManualClock::at(OffsetDateTime::now_utc());
    let app =
        Application::build_with_clock(env.settings(), Roles { sagas: true, ..Roles::NONE }, clock.clone())
            .await
            .unwrap();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));

    // Act: the clock reaches the moment they are all due.
    let started = Instant::now();
    clock.set(due);
    let all = eventually(Duration::from_secs(300), || async { fired(&env).await == 10_000 }).await;
    let took = started.elapsed();

    // Assert
    assert!(all, "only {} of 10000 fired", fired(&env).await);
    assert_fired_once(&env, 10_000).await;
    println!("10000 timers fired in {took:.2?} ({:.0}/s)", 10_000.0 / took.as_secs_f64());
    shutdown.cancel();
    running.await.unwrap().unwrap();
    env.cleanup().await;
}

/// On a test clock, a timer fires when the clock passes its time, not before; one cancelled by
/// a later event (an accepted invitation) never fires; the timers view shows both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_follow_the_test_clock_and_cancellations() {
    // Arrange: two invitations expiring in an hour; one is accepted.
    let env = TestEnv::new().await;
    env.stream.ensure(&env.jetstream).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let store = env.store();
    let tenant = org_with_invitations(&store, 2, now + time::Duration::hours(1)).await;
    // Keys hold UUIDv7 invitation ids, so they sort in the order the invitations were made.
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM timers ORDER BY key").fetch_all(&env.pool).await.unwrap();
    let accepted: Uuid = keys[0].strip_prefix("invitation-expiry:").unwrap().parse().unwrap();
    let accept = OrganizationCommand::AcceptInvitation {
        invitation_id: InvitationId::from_uuid(accepted),
        user_id: UserId::from_uuid(Uuid::now_v7()),
        email: Email::parse("guest-0@timed.test").unwrap(),
        now,
    };
    let meta = CommandMetadata::new(Some(tenant.as_uuid()), "user:test");
    store.execute::<Organization>(&tenant.to_string(), accept, &meta, RetryPolicy::default()).await.unwrap();
    let clock = ManualClock::at(now);
    let app = Application::build_with_clock(
        env.settings(),
        Roles { sagas: true, projections: true, ..Roles::NONE },
        clock.clone(),
    )
    .await
    .unwrap();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));

    // Act and assert: nothing fires at 59 minutes; at 61 the pending one fires.
    clock.advance(time::Duration::minutes(59));
    let status = |key: String| {
        let pool = env.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM timers WHERE key = $1")
                .bind(key)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(status(keys[0].clone()).await, "cancelled");
    clock.advance(time::Duration::minutes(2));
    assert!(eventually(Duration::from_secs(20), || async { status(keys[1].clone()).await == "fired" }).await);
    assert_eq!(fired(&env).await, 1, "the cancelled timer never fired");
    let view = || async {
        sqlx::query_as::<_, (String, String)>("SELECT key, status FROM proj_timers.timers ORDER BY key")
            .fetch_all(&env.pool)
            .await
            .unwrap_or_default()
    };
    let expected = vec![(keys[0].clone(), "cancelled".to_owned()), (keys[1].clone(), "fired".to_owned())];
    assert!(
        eventually(Duration::from_secs(20), || async { view().await == expected }).await,
        "{:?}",
        view().await
    );
    shutdown.cancel();
    running.await.unwrap().unwrap();
    env.cleanup().await;
}
