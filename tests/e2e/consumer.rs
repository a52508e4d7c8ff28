use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_domain::ids::TenantId;
use berth_eventstore::consumer::{self, ConsumerSettings, EventHandler, HandlerError};
use berth_eventstore::feed::FeedEvent;
use sqlx::PgConnection;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::{create_site, eventually, TestEnv};

/// Records each event it handles; fails one event twice and another always.
struct Recorder {
    flaky: Uuid,
    broken: Uuid,
    attempts: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl EventHandler for Recorder {
    async fn handle(&self, event: &FeedEvent, tx: &mut PgConnection) -> Result<(), HandlerError> {
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(event.event_id).or_default();
            *n += 1;
            *n
        };
        // The handler's own write, rolled back whenever it fails.
        sqlx::query("INSERT INTO handled (event_id) VALUES ($1)")
            .bind(event.event_id)
            .execute(&mut *tx)
            .await?;
        if event.event_id == self.broken || (event.event_id == self.flaky && attempt <= 2) {
            return Err(format!("cannot handle {} (attempt {attempt})", event.event_id).into());
        }
        Ok(())
    }
}

/// A durable consumer handles each event once, retries failures with backoff, dead-letters an
/// event after its last delivery, and skips an event republished under another message id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_retries_dead_letters_and_deduplicates() {
    let env = TestEnv::new().await;
    sqlx::query("CREATE TABLE handled (event_id uuid NOT NULL)").execute(&env.pool).await.unwrap();
    let shutdown = CancellationToken::new();
    let relay_task = env.start_relay(&shutdown);
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    for _ in 0..5 {
        create_site(&store, tenant).await;
    }
    assert_eq!(env.wait_for_stream(5, Duration::from_secs(10)).await, 5);
    let published = env.stream_contents().await;
    let (flaky, broken) = (published[1].event_id, published[3].event_id);

    // The first event again, under a new message id, so JetStream cannot drop it.
    let body = serde_json::to_vec(&published[0]).unwrap();
    env.jetstream.publish(env.stream.subject_for(&published[0]), body.into()).await.unwrap().await.unwrap();

    // Act
    let attempts = Arc::new(Mutex::new(HashMap::new()));
    let handler = Recorder { flaky, broken, attempts: attempts.clone() };
    let settings = ConsumerSettings {
        max_deliver: 3,
        backoff: vec![Duration::from_millis(100), Duration::from_millis(200)],
        ack_wait: Duration::from_secs(5),
        ..ConsumerSettings::new("test-recorder", format!("{}.>", env.stream.subject_prefix))
    };
    let consumer_task = tokio::spawn(consumer::run(
        env.pool.clone(),
        env.jetstream.clone(),
        env.stream.name.clone(),
        settings,
        handler,
        shutdown.clone(),
    ));
    let done = eventually(Duration::from_secs(20), || async {
        let dead: i64 =
            sqlx::query_scalar("SELECT count(*) FROM dead_letters").fetch_one(&env.pool).await.unwrap();
        let handled: i64 =
            sqlx::query_scalar("SELECT count(*) FROM handled").fetch_one(&env.pool).await.unwrap();
        dead == 1 && handled == 4
    })
    .await;
    assert!(done, "consumer did not settle");
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Assert
    let handled: Vec<Uuid> = sqlx::query_scalar("SELECT event_id FROM handled ORDER BY event_id")
        .fetch_all(&env.pool)
        .await
        .unwrap();
    let mut expected: Vec<Uuid> = published.iter().map(|e| e.event_id).filter(|id| *id != broken).collect();
    expected.sort();
    assert_eq!(handled, expected, "each event handled exactly once, the broken one never");
    let (dead_id, deliveries, error): (Option<Uuid>, i64, String) =
        sqlx::query_as("SELECT event_id, deliveries, error FROM dead_letters")
            .fetch_one(&env.pool)
            .await
            .unwrap();
    assert_eq!(dead_id, Some(broken));
    assert_eq!(deliveries, 3);
    assert!(error.contains("attempt 3"), "{error}");
    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(attempts[&flaky], 3);
    assert_eq!(attempts[&broken], 3);
    assert_eq!(attempts[&published[0].event_id], 1, "the republished copy was deduplicated");

    shutdown.cancel();
    relay_task.await.unwrap();
    consumer_task.await.unwrap();
    env.cleanup().await;
}
