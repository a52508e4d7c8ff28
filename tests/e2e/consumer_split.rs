//! A saga of several aggregate types reads each type through a consumer of its own, taking
//! over from the single consumer of every event it had before without running a step twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_domain::ids::TenantId;
use berth_domain::payment_account::{PaymentAccount, PaymentAccountCommand};
use berth_eventstore::consumer::ConsumerSettings;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::recorded::Recorded;
use berth_eventstore::steps::{run_steps, run_steps_on_each, Outcome, Step};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::{create_site, eventually, TestEnv};

/// Records every event it runs for, with the subject's aggregate type.
#[derive(Default)]
struct Log(Mutex<Vec<(Uuid, String)>>);

struct Logger(Arc<Log>);

impl Step for Logger {
    fn wants(&self, _: &Recorded) -> bool {
        true
    }

    async fn run(&self, event: &Recorded) -> Outcome {
        self.0 .0.lock().unwrap().push((event.event_id, event.aggregate_type.clone()));
        Outcome::Done
    }
}

async fn link_customer(env: &TestEnv, tenant: TenantId) {
    let meta = CommandMetadata::new(Some(tenant.as_uuid()), "system:test");
    let command = PaymentAccountCommand::LinkCustomer {
        tenant_id: tenant,
        customer: format!("cus_{}", Uuid::now_v7().simple()),
    };
    env.store()
        .execute::<PaymentAccount>(&tenant.to_string(), command, &meta, RetryPolicy::default())
        .await
        .expect("customer linked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_per_aggregate_type_take_over_from_one_consumer_of_everything() {
    // Arrange: site and payment account events, read by one consumer of everything.
    let env = TestEnv::new().await;
    let shutdown = CancellationToken::new();
    let relay_task = env.start_relay(&shutdown);
    let store = env.store();
    for _ in 0..3 {
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        create_site(&store, tenant).await;
        link_customer(&env, tenant).await;
    }
    assert_eq!(env.wait_for_stream(6, Duration::from_secs(20)).await, 6);
    let everything = format!("{}.>", env.stream.subject_prefix);
    let before = Arc::new(Log::default());
    let old_shutdown = CancellationToken::new();
    let old = tokio::spawn(run_steps(
        env.pool.clone(),
        env.jetstream.clone(),
        env.stream.name.clone(),
        ConsumerSettings::new("test-split", everything),
        Arc::new(Logger(before.clone())),
        4,
        old_shutdown.clone(),
    ));
    let first_six =
        eventually(Duration::from_secs(20), || async { before.0.lock().unwrap().len() == 6 }).await;
    assert!(first_six, "the single consumer ran for the first six events");
    // Settled (acknowledged), then stopped.
    let processed = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM consumer_processed WHERE consumer = 'test-split'")
            .fetch_one(&env.pool)
            .await
            .unwrap()
    };
    assert!(eventually(Duration::from_secs(10), || async { processed().await == 6 }).await);
    old_shutdown.cancel();
    old.await.unwrap();

    // Act: two more of each, then one consumer per type in its place.
    for _ in 0..2 {
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        create_site(&store, tenant).await;
        link_customer(&env, tenant).await;
    }
    assert_eq!(env.wait_for_stream(10, Duration::from_secs(20)).await, 10);
    let after = Arc::new(Log::default());
    let consumers: Vec<ConsumerSettings> = ["site", "payment_account"]
        .into_iter()
        .map(|aggregate| ConsumerSettings {
            durable: Some(format!("test-split_{aggregate}")),
            replaces: Some("test-split".to_owned()),
            ..ConsumerSettings::new("test-split", format!("{}.*.{aggregate}.*", env.stream.subject_prefix))
        })
        .collect();
    let split = tokio::spawn(run_steps_on_each(
        env.pool.clone(),
        env.jetstream.clone(),
        env.stream.name.clone(),
        consumers,
        Arc::new(Logger(after.clone())),
        4,
        shutdown.clone(),
    ));
    let all_ten = eventually(Duration::from_secs(20), || async { processed().await == 10 }).await;

    // Assert
    assert!(all_ten, "the four new events were processed ({} of 10)", processed().await);
    let ran = after.0.lock().unwrap().clone();
    let first: Vec<Uuid> = before.0.lock().unwrap().iter().map(|(id, _)| *id).collect();
    assert_eq!(ran.len(), 4, "each new event ran once, none of the first six again: {ran:?}");
    assert!(ran.iter().all(|(id, _)| !first.contains(id)));
    let stream = env.jetstream.get_stream(&env.stream.name).await.unwrap();
    assert!(stream.consumer_info("test-split").await.is_err(), "the consumer of everything is gone");
    for aggregate in ["site", "payment_account"] {
        let info = stream.consumer_info(format!("test-split_{aggregate}")).await.unwrap();
        assert!(
            info.config.filter_subject.ends_with(&format!(".{aggregate}.*")),
            "{:?}",
            info.config.filter_subject
        );
        assert_eq!(info.num_pending, 0);
    }

    shutdown.cancel();
    relay_task.await.unwrap();
    split.await.unwrap();
    env.cleanup().await;
}
