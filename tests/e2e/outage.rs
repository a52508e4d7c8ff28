use std::time::Duration;

use berth::app::{Application, Roles};
use berth::settings::Settings;
use berth_domain::ids::TenantId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::{create_site, eventually, Proxy, TestEnv};

/// PostgreSQL goes away while Berth runs: /readyz turns false, nothing is lost, and the relay
/// and projections catch up by themselves once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_postgres_makes_berth_unready_then_it_catches_up() {
    let env = TestEnv::new().await;
    let options: sqlx::postgres::PgConnectOptions = env.db_url.parse().unwrap();
    let target =
        tokio::net::lookup_host((options.get_host(), options.get_port())).await.unwrap().next().unwrap();
    let proxy = Proxy::start(target).await;
    let proxied = env.db_url.replacen(
        &format!("{}:{}", options.get_host(), options.get_port()),
        &proxy.addr.to_string(),
        1,
    );
    let mut vars = env.env_vars();
    vars.retain(|(k, _)| k != "BERTH_DATABASE__URL");
    vars.push(("BERTH_DATABASE__URL".into(), proxied));
    vars.push(("BERTH_DATABASE__ACQUIRE_TIMEOUT_SECS".into(), "1".into()));
    let app =
        Application::build(Settings::load_from(None, vars).unwrap(), Roles { sagas: false, ..Roles::ALL })
            .await
            .unwrap();
    let base = format!("http://{}", app.command_api_addr().unwrap());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let http = reqwest::Client::new();
    let ready = |expected: u16| {
        let (http, url) = (http.clone(), format!("{base}/readyz"));
        async move { http.get(&url).send().await.map(|r| r.status().as_u16() == expected).unwrap_or(false) }
    };
    let store = env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    create_site(&store, tenant).await;
    assert!(eventually(Duration::from_secs(10), || ready(200)).await);
    // The log holds the default plans, seeded at start, and the site.
    let logged = env.event_count().await as u64;
    assert_eq!(env.wait_for_stream(logged, Duration::from_secs(10)).await, logged);

    // Act: cut Berth off from PostgreSQL while other writers carry on.
    proxy.cut();
    assert!(
        eventually(Duration::from_secs(10), || ready(503)).await,
        "/readyz stays ready without PostgreSQL"
    );
    let body: serde_json::Value =
        http.get(format!("{base}/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["checks"]["postgres"], "unavailable");
    for _ in 0..3 {
        create_site(&store, tenant).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        env.wait_for_stream(logged + 3, Duration::from_millis(100)).await,
        logged,
        "nothing can be relayed during the outage"
    );

    // Assert: back to ready, and the relay and projections catch up on their own.
    proxy.restore();
    assert!(eventually(Duration::from_secs(15), || ready(200)).await);
    assert_eq!(env.wait_for_stream(logged + 3, Duration::from_secs(20)).await, logged + 3);
    let projected = eventually(Duration::from_secs(20), || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM proj_audit.audit_entries")
            .fetch_one(&env.pool)
            .await
            .unwrap_or(0)
            == (logged + 3) as i64
    })
    .await;
    assert!(projected, "projections caught up");
    shutdown.cancel();
    running.await.unwrap().unwrap();
    env.cleanup().await;
}
