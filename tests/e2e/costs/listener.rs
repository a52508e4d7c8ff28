//! With `telemetry.operator_addr` the cost series leave the APIs' `/metrics` for the
//! operators' own listener, which asks for `telemetry.operator_token`.

use berth::app::{Application, Roles};
use berth::settings::Settings;
use berth_eventstore::clock::ManualClock;
use tokio_util::sync::CancellationToken;

use super::fleet::QUIET;
use crate::billing::http::{config_file, variables, BERTH_TOML, START};
use crate::common::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_series_are_only_on_the_operators_listener_behind_its_token() {
    // Arrange
    let env = TestEnv::new().await;
    let config = config_file(&env, BERTH_TOML);
    let mut vars = variables(&env);
    vars.extend(QUIET.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    vars.push(("BERTH_TELEMETRY__OPERATOR_ADDR".to_owned(), "127.0.0.1:0".to_owned()));
    vars.push(("BERTH_TELEMETRY__OPERATOR_TOKEN".to_owned(), "ops-metrics-secret".to_owned()));
    let settings = Settings::load_from(Some(&config), vars).unwrap();
    let app = Application::build_with_clock(settings, Roles::ALL, ManualClock::at(START)).await.unwrap();
    let command = format!("http://{}", app.command_api_addr().unwrap());
    let operators =
        format!("http://{}/metrics", app.operator_metrics_addr().expect("an operators' listener"));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let http = reqwest::Client::new();

    // Act
    let public = http.get(format!("{command}/metrics")).send().await.unwrap().text().await.unwrap();
    let refused = http.get(&operators).send().await.unwrap();
    let wrong = http.get(&operators).bearer_auth("guess").send().await.unwrap();
    let private = http.get(&operators).bearer_auth("ops-metrics-secret").send().await.unwrap();

    // Assert
    assert!(public.contains("berth_http_requests_total") || public.contains("# TYPE"), "{public:.300}");
    assert!(
        !public.contains("berth_infrastructure_cost_monthly"),
        "the API's /metrics carries no cost series"
    );
    for response in [refused, wrong] {
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
    assert_eq!(private.status(), 200);
    let text = private.text().await.unwrap();
    assert!(text.contains("berth_infrastructure_cost_monthly{category=\"platform\"} 0"), "{text:.2000}");
    shutdown.cancel();
    let _ = running.await;
    std::fs::remove_file(&config).ok();
    env.cleanup().await;
}
