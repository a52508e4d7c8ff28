use std::time::Duration;

use berth::app::Roles;
use berth_domain::ids::TenantId;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::common::{create_site, eventually, TestEnv};

async fn run_berth(vars: Vec<(String, String)>) -> (bool, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_berth")).arg("serve").envs(vars).output(),
    )
    .await
    .expect("berth exits by itself")
    .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn with(mut vars: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    vars.retain(|(k, _)| k != key);
    vars.push((key.to_owned(), value.to_owned()));
    vars
}

/// PostgreSQL or NATS missing at start: a clear error naming which and how to start it, and a
/// non-zero exit.
#[tokio::test]
async fn unreachable_services_at_start_fail_clearly() {
    let env = TestEnv::new().await;
    let (ok, stderr) =
        run_berth(with(env.env_vars(), "BERTH_DATABASE__URL", "postgres://berth:berth@127.0.0.1:1/berth"))
            .await;
    assert!(!ok);
    assert!(stderr.contains("cannot reach PostgreSQL at 127.0.0.1:1/berth"), "{stderr}");
    assert!(stderr.contains("deploy/dev services"), "{stderr}");

    let (ok, stderr) = run_berth(with(env.env_vars(), "BERTH_NATS__URL", "nats://127.0.0.1:1")).await;
    assert!(!ok);
    assert!(stderr.contains("cannot reach NATS at nats://127.0.0.1:1"), "{stderr}");

    let (ok, stderr) = run_berth(with(env.env_vars(), "BERTH_NATS__REPLICAS", "many")).await;
    assert!(!ok);
    assert!(stderr.contains("invalid configuration"), "{stderr}");

    // No master key, or a malformed one: the command API and sagas cannot seal node keys.
    let (ok, stderr) = run_berth(with(env.env_vars(), "BERTH_SECRETS__MASTER_KEY", "")).await;
    assert!(!ok);
    assert!(
        stderr.contains("secrets.master_key is not set") && stderr.contains("berth secrets new-key"),
        "{stderr}"
    );
    let (ok, stderr) = run_berth(with(env.env_vars(), "BERTH_SECRETS__MASTER_KEY", "c2hvcnQ=")).await;
    assert!(!ok);
    assert!(stderr.contains("base64 of 32 bytes"), "{stderr}");
    env.cleanup().await;
}

/// Both APIs answer /healthz, /readyz and /metrics; unknown routes are problem+json 404s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_apis_serve_health_readiness_and_metrics() {
    let env = TestEnv::new().await;
    let app = env.app(Roles::ALL).await;
    let command = format!("http://{}", app.command_api_addr().unwrap());
    let query = format!("http://{}", app.query_api_addr().unwrap());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let store = env.store();
    create_site(&store, TenantId::from_uuid(Uuid::now_v7())).await;
    let http = reqwest::Client::new();

    for base in [&command, &query] {
        let health = http.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        let body: serde_json::Value = ready.json().await.unwrap();
        assert_eq!(body["checks"], serde_json::json!({"postgres": "ok", "nats": "ok", "migrations": "ok"}));
        let missing = http.get(format!("{base}/v1/nothing-here")).send().await.unwrap();
        assert_eq!(missing.status(), 404);
        assert_eq!(missing.headers()["content-type"], "application/problem+json");
        assert!(missing.headers().contains_key("x-request-id"));
    }
    // The relay and projections catch up, and /metrics says so.
    let caught_up = eventually(Duration::from_secs(15), || async {
        let text = http.get(format!("{query}/metrics")).send().await.unwrap().text().await.unwrap();
        text.contains("berth_relay_lag_events 0")
            && text.contains("berth_projection_lag_events{projection=\"audit\"} 0")
    })
    .await;
    assert!(caught_up);
    let text = http.get(format!("{command}/metrics")).send().await.unwrap().text().await.unwrap();
    for name in [
        "berth_events_appended_total",
        "berth_relay_lag_seconds",
        "berth_projection_lag_seconds",
        "berth_http_requests_total",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    shutdown.cancel();
    running.await.unwrap().unwrap();
    env.cleanup().await;
}
