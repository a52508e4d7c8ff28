//! The query API on a PostgreSQL streaming replica.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;

use crate::common::{eventually, TestEnv};
use crate::fleet;
use crate::load::{self, Load};

/// A query API reading from the replica (`database.read_url`) answers every `min_version` read
/// with the version asked for while sites are written on the primary, and takes a token
/// issued a moment ago.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_query_api_on_a_replica_reads_its_writes_under_load() {
    // Arrange: the test's database as the replica has replayed it; the roles.
    let cluster = fleet::cluster().await;
    let env = TestEnv::new().await;
    let replica_url = cluster.replica_for(&env.db_name);
    let replica = PgPoolOptions::new().max_connections(2);
    let replayed = eventually(Duration::from_secs(30), || async {
        match replica.clone().connect(&replica_url).await {
            Ok(pool) => sqlx::query("SELECT 1 FROM checkpoints LIMIT 1").execute(&pool).await.is_ok(),
            Err(_) => false,
        }
    })
    .await;
    assert!(replayed, "the replica has the test database and its migrations");
    let replica = replica.connect(&replica_url).await.unwrap();
    let unlimited = [
        ("BERTH_DATABASE__READ_URL", replica_url.as_str()),
        ("BERTH_LIMITS__API_PER_MINUTE", "10000000"),
        ("BERTH_LIMITS__AUTH_PER_MINUTE", "10000000"),
    ];
    let roles =
        fleet::start_all(&fleet::vars(&env, &unlimited), &["command-api", "projections", "query-api"]).await;
    let (command, query) = (roles[0].base.clone(), roles[2].base.clone());
    let http = reqwest::Client::new();

    // Act: register and read at once; then load.
    let mut tokens = Vec::new();
    let mut fresh_reads = Vec::new();
    for n in 0..3 {
        let token = load::register(&http, &command, &format!("replica{n}")).await;
        let read = http.get(format!("{query}/v1/sites")).bearer_auth(&token).send().await.unwrap();
        fresh_reads.push(read.status().as_u16());
        tokens.push(token);
    }
    let load = Load::start(std::slice::from_ref(&command), std::slice::from_ref(&query), &tokens, 6);
    let loaded = eventually(Duration::from_secs(60), || async { env.event_count().await >= 600 }).await;
    let tally = load.stop().await;

    // Assert: it read from the replica, every read was right.
    let on_replica: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
    )
    .bind(format!("berth query-api reads (replica) {}", roles[2].pid()))
    .fetch_one(&replica)
    .await
    .unwrap();
    assert!(on_replica > 0, "the query API reads from the replica");
    assert_eq!(fresh_reads, [200, 200, 200], "a token works on the replica the moment it is issued");
    assert!(loaded, "the load wrote 600 events within a minute");
    assert!(
        tally.failures.is_empty(),
        "{} wrong answers, first: {:?}",
        tally.failures.len(),
        tally.failures.first()
    );
    println!("replica: {} requests answered right under load", tally.ok);
    assert!(roles[2].metrics().await.contains("berth_replica_lag_seconds"));

    for role in roles {
        role.kill().await;
    }
    replica.close().await;
    env.cleanup().await;
}
