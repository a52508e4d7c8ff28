//! The saga runtime: typed events in, an outcome out; retries, dead letters, deduplication.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_domain::ids::TenantId;
use berth_eventstore::consumer::ConsumerSettings;
use berth_eventstore::recorded::Recorded;
use berth_eventstore::steps::{run_steps, Outcome, Step};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::{create_site, eventually, TestEnv};

/// Counts each event it sees; asks for one event to be retried twice, gives up on another at
/// once, and keeps asking to retry a third until the runtime gives up on it.
struct Recorder {
    flaky: Uuid,
    broken: Uuid,
    stuck: Uuid,
    attempts: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Step for Recorder {
    fn wants(&self, _: &Recorded) -> bool {
        true
    }

    async fn run(&self, event: &Recorded) -> Outcome {
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(event.event_id).or_default();
            *n += 1;
            *n
        };
        if event.event_id == self.broken {
            Outcome::Failed(format!("cannot ever handle {}", event.event_id))
        } else if event.event_id == self.stuck || (event.event_id == self.flaky && attempt <= 2) {
            Outcome::RetryLater(format!("not now (attempt {attempt})"))
        } else {
            Outcome::Done
        }
    }
}

/// A saga's consumer hands each event over once, redelivers "retry later" with backoff until its
/// last delivery, dead-letters "failed" at once, and skips an event republished under another
/// message id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_saga_runtime_retries_dead_letters_and_deduplicates() {
    // Arrange
    let env = TestEnv::new().await;
    let shutdown = CancellationToken::new();
    let relay_task = env.start_relay(&shutdown);
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    for _ in 0..5 {
        create_site(&store, tenant).await;
    }
    assert_eq!(env.wait_for_stream(5, Duration::from_secs(10)).await, 5);
    let published = env.stream_contents().await;
    let (flaky, broken, stuck) = (published[1].event_id, published[3].event_id, published[4].event_id);
    // The first event again, under a new message id, so JetStream cannot drop it.
    let body = serde_json::to_vec(&published[0]).unwrap();
    env.jetstream.publish(env.stream.subject_for(&published[0]), body.into()).await.unwrap().await.unwrap();

    // Act
    let attempts = Arc::new(Mutex::new(HashMap::new()));
    let step = Arc::new(Recorder { flaky, broken, stuck, attempts: attempts.clone() });
    let settings = ConsumerSettings {
        max_deliver: 3,
        backoff: vec![Duration::from_millis(100), Duration::from_millis(200)],
        ack_wait: Duration::from_secs(5),
        ..ConsumerSettings::new("test-recorder", format!("{}.>", env.stream.subject_prefix))
    };
    let consumer_task = tokio::spawn(run_steps(
        env.pool.clone(),
        env.jetstream.clone(),
        env.stream.name.clone(),
        settings,
        step,
        4,
        shutdown.clone(),
    ));
    let processed = || async {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT event_id FROM consumer_processed WHERE consumer = 'test-recorder'",
        )
        .fetch_all(&env.pool)
        .await
        .unwrap()
    };
    let dead = || async {
        sqlx::query_as::<_, (Option<Uuid>, i64, String)>(
            "SELECT event_id, deliveries, error FROM dead_letters ORDER BY event_id",
        )
        .fetch_all(&env.pool)
        .await
        .unwrap()
    };
    let settled = eventually(Duration::from_secs(20), || async {
        dead().await.len() == 2 && processed().await.len() == 3
    })
    .await;

    // Assert
    assert!(settled, "consumer did not settle: processed {:?}, dead {:?}", processed().await, dead().await);
    let mut done = processed().await;
    done.sort();
    let mut expected = vec![published[0].event_id, flaky, published[2].event_id];
    expected.sort();
    assert_eq!(done, expected, "each event handled once; the broken and the stuck one never");
    let mut dead_letters = dead().await;
    dead_letters.sort_by_key(|(id, ..)| *id);
    let by_id: HashMap<Uuid, (i64, String)> =
        dead_letters.into_iter().map(|(id, n, error)| (id.unwrap(), (n, error))).collect();
    assert_eq!(by_id[&broken].0, 1, "failed is dead-lettered on its first delivery");
    assert!(by_id[&broken].1.contains("cannot ever handle"), "{:?}", by_id[&broken]);
    assert_eq!(by_id[&stuck].0, 3, "retry later is dead-lettered after the last delivery");
    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(attempts[&flaky], 3);
    assert_eq!(attempts[&broken], 1);
    assert_eq!(attempts[&stuck], 3);
    assert_eq!(attempts[&published[0].event_id], 1, "the republished copy was deduplicated");

    shutdown.cancel();
    relay_task.await.unwrap();
    consumer_task.await.unwrap();
    env.cleanup().await;
}

/// Holds every event it is given until released, counting how many it holds at once.
struct Gate {
    holding: Arc<std::sync::atomic::AtomicUsize>,
    most: Arc<std::sync::atomic::AtomicUsize>,
    open: tokio::sync::watch::Receiver<bool>,
}

impl Step for Gate {
    fn wants(&self, _: &Recorded) -> bool {
        true
    }

    async fn run(&self, _: &Recorded) -> Outcome {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.holding.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        let _ = self.open.clone().wait_for(|open| *open).await;
        self.holding.fetch_sub(1, SeqCst);
        Outcome::Done
    }
}

/// The in-flight limit of a saga consumer is each process's: two consumers on one durable,
/// each allowed two events at a time, work on four at once, and neither on more than two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_flight_limit_is_per_process_so_two_processes_work_on_twice_as_many() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    // Arrange: eight events on the stream.
    let env = TestEnv::new().await;
    let shutdown = CancellationToken::new();
    let relay_task = env.start_relay(&shutdown);
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    for _ in 0..8 {
        create_site(&store, tenant).await;
    }
    assert_eq!(env.wait_for_stream(8, Duration::from_secs(30)).await, 8, "eight events on the stream");

    // Act: two "processes" of one consumer, concurrency 2 each, every step held.
    let (release, open) = tokio::sync::watch::channel(false);
    let settings = ConsumerSettings {
        ack_wait: Duration::from_secs(30),
        ..ConsumerSettings::new("test-gate", format!("{}.>", env.stream.subject_prefix))
    };
    let gates: Vec<Arc<Gate>> = (0..2)
        .map(|_| {
            Arc::new(Gate {
                holding: Arc::new(AtomicUsize::new(0)),
                most: Arc::new(AtomicUsize::new(0)),
                open: open.clone(),
            })
        })
        .collect();
    let consumers: Vec<_> = gates
        .iter()
        .map(|gate| {
            tokio::spawn(run_steps(
                env.pool.clone(),
                env.jetstream.clone(),
                env.stream.name.clone(),
                settings.clone(),
                gate.clone(),
                2,
                shutdown.clone(),
            ))
        })
        .collect();
    let held = || gates.iter().map(|g| g.holding.load(SeqCst)).sum::<usize>();
    let four_held = eventually(Duration::from_secs(30), || async { held() >= 4 }).await;
    let most_while_held: Vec<usize> = gates.iter().map(|g| g.most.load(SeqCst)).collect();
    release.send(true).unwrap();
    let processed = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM consumer_processed WHERE consumer = 'test-gate'")
            .fetch_one(&env.pool)
            .await
            .unwrap()
    };
    let all_done = eventually(Duration::from_secs(30), || async { processed().await == 8 }).await;

    // Assert
    assert!(four_held, "the two processes held four events at once within 30 s");
    assert_eq!(most_while_held, [2, 2], "each process held at most its own two");
    assert!(all_done, "every event processed once released ({} of 8)", processed().await);
    let most: Vec<usize> = gates.iter().map(|g| g.most.load(SeqCst)).collect();
    assert!(most.iter().all(|m| *m <= 2), "neither process ever held more than two: {most:?}");

    shutdown.cancel();
    relay_task.await.unwrap();
    for consumer in consumers {
        consumer.await.unwrap();
    }
    env.cleanup().await;
}
