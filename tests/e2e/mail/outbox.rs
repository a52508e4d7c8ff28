//! The outbox and its delivery worker against the SMTP sink: one mail per key, retries on the
//! clock while the server is away and one delivery once it is back, a mail marked failed with
//! its reason after the last attempt, and two sagas processes on one outbox sending each mail
//! once.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use berth::app::{Application, Roles};
use berth::settings::Settings;
use berth_eventstore::clock::{Clock, ManualClock, SystemClock};
use berth_sagas::mail::catalog::PAYMENT_RECEIPT;
use berth_sagas::mail::templates::Templates;
use berth_sagas::mail::{Outbox, OutgoingMail};
use serde_json::json;
use time::OffsetDateTime;
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::{messages_to, messages_to_each, sink_address, unique_address, wait_for_messages};
use crate::common::{eventually, kill9, Proxy, TestEnv};

/// The sagas role of Berth in this process, on `clock`, with `extra` settings.
struct Sagas {
    shutdown: CancellationToken,
    running: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Sagas {
    async fn start(env: &TestEnv, clock: Arc<dyn Clock>, extra: &[(&str, String)]) -> Self {
        env.stream.ensure(&env.jetstream).await.unwrap();
        let mut vars = env.env_vars();
        vars.push(("BERTH_SAGAS__MAIL__POLL_MS".into(), "100".into()));
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let settings = Settings::load_from(None, vars).expect("settings");
        let roles = Roles { sagas: true, ..Roles::NONE };
        let app = Application::build_with_clock(settings, roles, clock).await.expect("application");
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
        Self { shutdown, running }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.running.await.unwrap().unwrap();
    }
}

fn outbox(clock: Arc<dyn Clock>) -> Outbox {
    Outbox::new(Arc::new(Templates::load(None, "Berth").unwrap()), clock)
}

fn receipt(key: &str, to: &str) -> OutgoingMail {
    OutgoingMail {
        key: key.to_owned(),
        tenant_id: None,
        to: vec![to.to_owned()],
        template: PAYMENT_RECEIPT,
        context: json!({"invoice_number": "BRT-000001", "amount": "12.00 EUR", "paid_on": "2026-12-01"}),
        attachments: Vec::new(),
    }
}

/// A row of the outbox: status, attempts, last error and next attempt.
async fn row(env: &TestEnv, key: &str) -> (String, i32, Option<String>, OffsetDateTime) {
    sqlx::query_as("SELECT status, attempts, last_error, next_attempt_at FROM mail_outbox WHERE key = $1")
        .bind(key)
        .fetch_one(&env.pool)
        .await
        .unwrap()
}

async fn attempts_reach(env: &TestEnv, key: &str, attempts: i32) -> bool {
    eventually(Duration::from_secs(20), || async {
        let (status, made, error, _) = row(env, key).await;
        made >= attempts && error.is_some() && status != "sent"
    })
    .await
}

fn now(clock: &ManualClock) -> OffsetDateTime {
    Clock::now(clock)
}

fn at_second() -> Arc<ManualClock> {
    ManualClock::at(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_queued_twice_with_one_key_is_sent_once() {
    // Arrange
    let env = TestEnv::new().await;
    let clock: Arc<dyn Clock> = SystemClock::shifted(time::Duration::ZERO);
    let sagas = Sagas::start(&env, clock.clone(), &[]).await;
    let to = unique_address("twice");
    let outbox = outbox(clock);

    // Act: the second is queued inside a transaction of its own, as a saga would.
    let first = outbox.enqueue(&env.pool, receipt("receipt:twice", &to)).await.unwrap();
    let mut tx = env.pool.begin().await.unwrap();
    let second = outbox.enqueue(&mut *tx, receipt("receipt:twice", &to)).await.unwrap();
    tx.commit().await.unwrap();

    // Assert
    assert!(first && !second, "queued: {first}, then {second}");
    let sent =
        eventually(Duration::from_secs(20), || async { row(&env, "receipt:twice").await.0 == "sent" }).await;
    assert!(sent, "not sent: {:?}", row(&env, "receipt:twice").await);
    let messages = wait_for_messages(&to, 1, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["subject"], "Payment received for BRT-000001");
    assert_eq!(messages[0]["from"], "Berth <berth@berth.test>");
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM mail_outbox").fetch_one(&env.pool).await.unwrap();
    assert_eq!(rows, 1);
    sagas.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_mail_server_down_a_mail_is_retried_on_the_clock_and_sent_once_it_is_back() {
    // Arrange: the sink behind a proxy that is cut; retries a minute apart, doubling.
    let env = TestEnv::new().await;
    let (host, port) = sink_address();
    let proxy = Proxy::start(format!("{host}:{port}").parse().unwrap()).await;
    proxy.cut();
    let clock = at_second();
    let extra = [
        ("BERTH_MAIL__PORT", proxy.addr.port().to_string()),
        ("BERTH_MAIL__BACKOFF_BASE_SECS", "60".to_owned()),
    ];
    let sagas = Sagas::start(&env, clock.clone(), &extra).await;
    let to = unique_address("down");

    // Act: queueing does not wait for the server.
    assert!(outbox(clock.clone()).enqueue(&env.pool, receipt("receipt:down", &to)).await.unwrap());

    // Assert: tried, failed, due again a minute later on the clock; then two minutes later.
    assert!(attempts_reach(&env, "receipt:down", 1).await, "{:?}", row(&env, "receipt:down").await);
    let (status, _, _, next) = row(&env, "receipt:down").await;
    assert_eq!((status.as_str(), next), ("pending", now(&clock) + time::Duration::seconds(60)));
    clock.advance(time::Duration::seconds(61));
    assert!(attempts_reach(&env, "receipt:down", 2).await, "{:?}", row(&env, "receipt:down").await);
    assert_eq!(row(&env, "receipt:down").await.3, now(&clock) + time::Duration::seconds(120));
    assert!(messages_to(&to).await.is_empty());

    // The server is back: the next attempt delivers it, once.
    proxy.restore();
    clock.advance(time::Duration::seconds(121));
    let sent =
        eventually(Duration::from_secs(20), || async { row(&env, "receipt:down").await.0 == "sent" }).await;
    let (_, attempts, error, _) = row(&env, "receipt:down").await;
    assert!(sent && attempts == 3 && error.is_none(), "attempts {attempts}, error {error:?}");
    assert_eq!(wait_for_messages(&to, 1, Duration::from_secs(10)).await.len(), 1);
    sagas.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_that_never_gets_through_is_marked_failed_with_the_reason_after_the_last_attempt() {
    // Arrange: a port where nothing listens, two attempts.
    let env = TestEnv::new().await;
    let nothing = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let clock = at_second();
    let extra = [
        ("BERTH_MAIL__PORT", nothing.to_string()),
        ("BERTH_MAIL__MAX_ATTEMPTS", "2".to_owned()),
        ("BERTH_MAIL__BACKOFF_BASE_SECS", "60".to_owned()),
    ];
    let sagas = Sagas::start(&env, clock.clone(), &extra).await;
    let to = unique_address("never");

    // Act
    assert!(outbox(clock.clone()).enqueue(&env.pool, receipt("receipt:never", &to)).await.unwrap());
    assert!(attempts_reach(&env, "receipt:never", 1).await, "{:?}", row(&env, "receipt:never").await);
    clock.advance(time::Duration::seconds(61));

    // Assert
    let failed =
        eventually(Duration::from_secs(20), || async { row(&env, "receipt:never").await.0 == "failed" })
            .await;
    let (_, attempts, error, _) = row(&env, "receipt:never").await;
    assert!(failed && attempts == 2, "attempts {attempts}");
    assert!(error.as_deref().is_some_and(|e| e.to_lowercase().contains("connect")), "{error:?}");
    sagas.stop().await;
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sagas_processes_on_one_outbox_send_each_mail_once() {
    // Arrange: two sagas processes, told apart by the sender name they mail with, each
    // leasing one message at a time.
    let env = TestEnv::new().await;
    env.stream.ensure(&env.jetstream).await.unwrap();
    let spawn = |name: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
        command
            .arg("sagas")
            .envs(env.env_vars())
            .env("BERTH_SAGAS__MAIL__BATCH", "1")
            .env("BERTH_MAIL__FROM_NAME", name)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .stdin(Stdio::null());
        if std::env::var_os("TEST_LOG").is_none() {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        command.spawn().expect("spawn berth sagas")
    };
    let (mut first, mut second) = (spawn("Berth A"), spawn("Berth B"));
    // Both delivery workers listen for queued mail (their LISTEN is their connection's last
    // statement), so one commit wakes them together.
    let listening = eventually(Duration::from_secs(60), || async {
        let listeners: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%berth_mail%'",
        )
        .fetch_one(&env.pool)
        .await
        .unwrap();
        listeners == 2
    })
    .await;
    assert!(listening, "the two delivery workers did not start");

    // Act: sixty mails in one transaction.
    let outbox = outbox(SystemClock::shifted(time::Duration::ZERO));
    let recipients: Vec<String> = (0..60).map(|n| unique_address(&format!("race{n}"))).collect();
    let mut tx = env.pool.begin().await.unwrap();
    for (n, to) in recipients.iter().enumerate() {
        assert!(outbox.enqueue(&mut *tx, receipt(&format!("receipt:race:{n}"), to)).await.unwrap());
    }
    tx.commit().await.unwrap();
    let all_sent = eventually(Duration::from_secs(120), || async {
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE status <> 'sent'")
            .fetch_one(&env.pool)
            .await
            .unwrap();
        pending == 0
    })
    .await;

    // Assert: every mail leased once and received once, by either process.
    assert!(all_sent, "not every mail was sent");
    let leased_again: i64 = sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE attempts <> 1")
        .fetch_one(&env.pool)
        .await
        .unwrap();
    assert_eq!(leased_again, 0);
    // Each was in the sink when its row was marked sent.
    let received = messages_to_each(&recipients).await;
    let counts: Vec<usize> = received.iter().map(Vec::len).collect();
    assert!(counts.iter().all(|n| *n == 1), "mails received per recipient: {counts:?}");
    let by = |name: &str| {
        received.iter().flatten().filter(|m| m["from"].as_str().unwrap().starts_with(name)).count()
    };
    let (a, b) = (by("Berth A <"), by("Berth B <"));
    eprintln!("sagas process A sent {a}, B sent {b}");
    assert!(a > 0 && b > 0 && a + b == 60, "A sent {a}, B sent {b}: the two did not share the outbox");
    kill9(&mut first).await;
    kill9(&mut second).await;
    env.cleanup().await;
}
