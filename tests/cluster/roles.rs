//! Every role on its own is scrapable and carries the metrics of what it does.

use std::time::Duration;

use serde_json::json;

use crate::common::{eventually, TestEnv};
use crate::fleet;
use crate::load;

/// `berth command-api`, `query-api`, `relay`, `projections` and `sagas`, one process each: each
/// serves `/metrics` (the last three on `telemetry.addr`) with its own metrics, and the lag and
/// horizon every process measures in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_alone_serves_its_own_metrics() {
    // Arrange
    let env = TestEnv::new().await;
    let unlimited = [("BERTH_LIMITS__API_PER_MINUTE", "100000"), ("BERTH_LIMITS__AUTH_PER_MINUTE", "100000")];
    let names = ["command-api", "query-api", "relay", "projections", "sagas"];
    let roles = fleet::start_all(&fleet::vars(&env, &unlimited), &names).await;
    let http = reqwest::Client::new();

    // Act: a site, which the relay publishes, the projections show and the provisioning saga
    // fails to place (there is no node).
    let token = load::register(&http, &roles[0].base, "metrics").await;
    let created = http
        .post(format!("{}/v1/sites", roles[0].base))
        .bearer_auth(&token)
        .json(&json!({"domain": "metrics.example.com", "type": "static"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 202);
    let listed = http.get(format!("{}/v1/sites", roles[1].base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(listed.status(), 200);
    let failed = eventually(Duration::from_secs(30), || async {
        roles[4].metrics().await.contains("berth_provisioning_failures_total")
    })
    .await;

    // Assert
    assert!(failed, "the sagas process counts the failed placement");
    let own: [&[&str]; 5] = [
        &["berth_http_requests_total", "berth_events_appended_total", "berth_commands_total"],
        &["berth_http_requests_total"],
        &["berth_relay_published_total", "berth_relay_active 1"],
        &["berth_projection_events_total"],
        &["berth_provisioning_failures_total", "berth_consumer_messages_total", "berth_timers_due"],
    ];
    let everyone = [
        "berth_relay_lag_seconds",
        "berth_relay_lag_events",
        "berth_projection_lag_seconds",
        "berth_projection_lag_events",
        "berth_feed_horizon_age_seconds",
        "berth_event_log_head_position",
    ];
    for (role, wanted) in roles.iter().zip(own) {
        let text = role.metrics().await;
        for name in wanted.iter().chain(&everyone) {
            assert!(text.contains(name), "berth {} has no {name} on /metrics", role.name);
        }
    }
    for role in &roles[2..] {
        let health = http.get(format!("{}/healthz", role.base)).send().await.unwrap();
        assert_eq!(health.status(), 200, "berth {} answers /healthz", role.name);
    }

    for role in roles {
        role.kill().await;
    }
    env.cleanup().await;
}
