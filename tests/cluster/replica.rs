//! The query API on a PostgreSQL streaming replica.

use std::time::Duration;

use serde_json::{json, Value};
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
    // Not while another test pauses the replica's replay.
    let _turn = fleet::exclusive().await;
    let env = TestEnv::new().await;
    let replica_url = cluster.replica_for(&env.db_name);
    assert!(
        replica_has_migrations(cluster, &replica_url).await,
        "the replica has the test database and its migrations"
    );
    let replica = PgPoolOptions::new().max_connections(2).connect(&replica_url).await.unwrap();
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

/// While the replica replays nothing (replay paused), a `min_version` read of a site created
/// or changed since answers "not yet" (503), never "no such site" (404) or "that version was
/// never written" (400), and a past state (`as_of`) is not folded without the latest events;
/// the query API reports the lag; once replay resumes the same reads answer and the lag goes
/// back to nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_answers_not_yet_and_reports_its_lag() {
    // Arrange: a tenant with a site the replica has; then replay paused.
    let cluster = fleet::cluster().await;
    let _turn = fleet::exclusive().await;
    let env = TestEnv::new().await;
    let replica_url = cluster.replica_for(&env.db_name);
    assert!(
        replica_has_migrations(cluster, &replica_url).await,
        "the replica has the test database and its migrations"
    );
    let replica = PgPoolOptions::new().max_connections(1).connect(&replica_url).await.unwrap();
    let vars = fleet::vars(&env, &[("BERTH_DATABASE__READ_URL", replica_url.as_str())]);
    let roles = fleet::start_all(&vars, &["command-api", "projections", "query-api"]).await;
    let (command, query) = (roles[0].base.clone(), roles[2].base.clone());
    let http = reqwest::Client::new();
    let token = load::register(&http, &command, "lagging").await;
    let (old, old_version) = create_site(&http, &command, &token, "old.lagging.test").await;
    let status_of = |path: String| {
        let (http, token) = (http.clone(), token.clone());
        async move { http.get(path).bearer_auth(&token).send().await.expect("a query API answer") }
    };
    let has_old = eventually(Duration::from_secs(30), || async {
        status_of(format!("{query}/v1/sites/{old}?min_version={old_version}")).await.status() == 200
    })
    .await;
    assert!(has_old, "the replica shows the first site within 30 s");
    sqlx::query("SELECT pg_wal_replay_pause()").execute(&replica).await.unwrap();

    // Act: a new site and a change to the old one, on the primary only.
    let (new, new_version) = create_site(&http, &command, &token, "new.lagging.test").await;
    let changed = http
        .patch(format!("{command}/v1/sites/{old}"))
        .bearer_auth(&token)
        .json(&json!({"label": "changed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 202, "the change is accepted");
    let changed_version = changed.json::<Value>().await.unwrap()["version"].as_i64().unwrap();
    let new_read = status_of(format!("{query}/v1/sites/{new}?min_version={new_version}")).await;
    let changed_read = status_of(format!("{query}/v1/sites/{old}?min_version={changed_version}")).await;
    let now = time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap();
    let past_path = format!("{query}/v1/sites/{new}?as_of={}", now.replace('+', "%2B"));
    let past_read = status_of(past_path.clone()).await;
    let lag_shown = eventually(Duration::from_secs(30), || async {
        gauge(&roles[2].metrics().await, "berth_replica_lag_bytes") > 0.0
    })
    .await;
    sqlx::query("SELECT pg_wal_replay_resume()").execute(&replica).await.unwrap();

    // Assert
    let (new_status, new_body) = (new_read.status(), new_read.text().await.unwrap_or_default());
    assert_eq!(new_status, 503, "a site the replica has not replayed is not yet there: {new_body}");
    assert!(new_body.contains("not-yet"), "the answer is the not-yet problem: {new_body}");
    let (changed_status, changed_body) =
        (changed_read.status(), changed_read.text().await.unwrap_or_default());
    assert_eq!(
        changed_status, 503,
        "a version the replica has not replayed is not yet there: {changed_body}"
    );
    let (past_status, past_body) = (past_read.status(), past_read.text().await.unwrap_or_default());
    assert_eq!(past_status, 503, "a past state is not folded from a replica that lacks it: {past_body}");
    assert!(lag_shown, "berth_replica_lag_bytes shows the paused replica behind");
    let caught_up = eventually(Duration::from_secs(30), || async {
        let new_read = status_of(format!("{query}/v1/sites/{new}?min_version={new_version}")).await;
        let changed_read = status_of(format!("{query}/v1/sites/{old}?min_version={changed_version}")).await;
        let past_read = status_of(past_path.clone()).await;
        new_read.status() == 200 && changed_read.status() == 200 && past_read.status() == 200
    })
    .await;
    assert!(caught_up, "once replay resumes, the three reads answer within 30 s");
    let lag_gone = eventually(Duration::from_secs(30), || async {
        gauge(&roles[2].metrics().await, "berth_replica_lag_seconds") == 0.0
    })
    .await;
    assert!(lag_gone, "berth_replica_lag_seconds goes back to 0 once the replica has caught up");

    for role in roles {
        role.kill().await;
    }
    replica.close().await;
    env.cleanup().await;
}

/// Creates a static site through `command`; its id and the version the creation answered.
async fn create_site(http: &reqwest::Client, command: &str, token: &str, domain: &str) -> (String, i64) {
    let created = http
        .post(format!("{command}/v1/sites"))
        .bearer_auth(token)
        .json(&json!({"domain": domain, "type": "static"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 202, "the site {domain} is accepted");
    let body: Value = created.json().await.unwrap();
    (body["id"].as_str().unwrap().to_owned(), body["version"].as_i64().unwrap())
}

/// Whether the replica has replayed the creation of the test's database and its migrations.
/// Replay is resumed first, in case a failed run left it paused.
async fn replica_has_migrations(cluster: &fleet::Cluster, replica_url: &str) -> bool {
    if let Ok(pool) = PgPoolOptions::new().max_connections(1).connect(&cluster.replica_url).await {
        let _ = sqlx::query("SELECT pg_wal_replay_resume()").execute(&pool).await;
        pool.close().await;
    }
    eventually(Duration::from_secs(30), || async {
        match PgPoolOptions::new().max_connections(1).connect(replica_url).await {
            Ok(pool) => {
                let ok = sqlx::query("SELECT 1 FROM checkpoints LIMIT 1").execute(&pool).await.is_ok();
                pool.close().await;
                ok
            }
            Err(_) => false,
        }
    })
    .await
}

/// The value of an unlabelled gauge in a `/metrics` text (NaN when it is absent).
fn gauge(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(f64::NAN)
}
