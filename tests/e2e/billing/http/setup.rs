//! `[billing]` in `berth.toml`, applied at start as commands, and the operators' plan routes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{line, romanian_company, Billing, BERTH_TOML};

async fn ready(billing: &Billing) {
    // The write side serves only once `[billing]` is applied.
    let response = billing.http.get(format!("{}/readyz", billing.command)).send().await.unwrap();
    assert!(response.status().is_success() || response.status() == StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_toml_sets_up_the_seller_and_its_series_and_a_restart_with_it_appends_nothing() {
    let mut billing = Billing::start().await;
    ready(&billing).await;
    let seller = billing.read("/v1/ops/seller", &billing.operator).await;
    assert_eq!(seller["party"]["legal_name"], "Berth Găzduire SRL");
    assert_eq!(seller["series"], json!({"invoice": "BRT", "credit_note": "BRTCN", "proforma": "PRO"}));
    let series = billing.read("/v1/ops/series/BRTCN", &billing.operator).await;
    assert_eq!((series["kind"].as_str(), series["taken"].as_i64()), (Some("credit_note"), Some(0)));
    // The three default plans, seeded once.
    let plans = billing
        .until("/v1/plans", &billing.operator, "the three plans", |p| {
            p["items"].as_array().is_some_and(|i| i.len() >= 3)
        })
        .await;
    let codes: Vec<&str> =
        plans["items"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
    assert_eq!(codes.len(), 3);
    for code in ["starter", "pro", "enterprise"] {
        assert!(codes.contains(&code), "{codes:?}");
    }
    let starter = plans["items"].as_array().unwrap().iter().find(|p| p["code"] == "starter").unwrap();
    assert_eq!(starter["limits"]["sites"], 5);
    assert_eq!(starter["limits"]["storage_gb"], 10);
    assert_eq!(starter["limits"]["backup_frequency"], "daily");

    // What `[billing]` writes: the seller, its series and the plans (the sagas append
    // meanwhile, to other aggregates).
    let pool = billing.env.pool.clone();
    let setup_events = || {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM events WHERE aggregate_type IN ('seller', 'series', 'plan')",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let before = setup_events().await;
    billing.restart_with(BERTH_TOML).await;
    ready(&billing).await;
    assert_eq!(setup_events().await, before, "the same settings again append nothing");

    // A change of the seller applies to the documents issued after it.
    let renamed = BERTH_TOML.replace("Berth Găzduire SRL", "Berth Cloud SRL");
    billing.restart_with(&renamed).await;
    ready(&billing).await;
    assert_eq!(setup_events().await, before + 1, "one SellerDetailsChanged");
    let (tenant, token) = billing.register("Renamed").await;
    billing.profile(&token, romanian_company("RON")).await;
    let draft = billing.draft(&tenant, "invoice", "RON", json!([line("Găzduire", 10_000, "RON", "1")])).await;
    let (status, issued) = billing.issue(&draft, json!({})).await;
    assert_eq!(status, 202, "{issued}");
    let document = billing.invoice(&draft, &token, &issued["version"]).await;
    assert_eq!(document["document"]["seller"]["legal_name"], "Berth Cloud SRL");
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_cannot_change_its_yearly_restart_and_the_start_says_which_setting() {
    let mut billing = Billing::start().await;
    ready(&billing).await;
    let changed = BERTH_TOML
        .replace(r#"invoice = { prefix = "BRT" }"#, r#"invoice = { prefix = "BRT", yearly_restart = true }"#);
    billing.halt().await;
    std::fs::write(&billing.config, &changed).unwrap();
    let (_, _, _, running) = Billing::run(&billing.env, &billing.config, &billing.clock, &[]).await;
    let error = running.await.unwrap().unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("billing.series.invoice") && message.contains("BRT"), "{message}");
    billing.restart_with(BERTH_TOML).await;
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_create_plans_change_their_price_from_a_date_and_retire_them() {
    let billing = Billing::start().await;
    let ops = billing.operator.clone();
    let plan = json!({
        "code": "business", "name": "Business",
        "prices": [{"period": "month", "price": {"amount_minor": 14_900, "currency": "EUR"}}],
        "limits": {"sites": 50, "storage_gb": 200, "backups": {"frequency": "hourly", "retention_days": 30}, "support": "priority"},
        "trial_days": 7,
        "overage": [{"metric": "storage_gb", "price": {"amount_minor": 25, "currency": "EUR"}}]
    });
    let (_, tenant) = billing.register("Not an operator").await;
    let (status, _) = billing.post("/v1/plans", &tenant, plan.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, created) = billing.post("/v1/plans", &ops, plan.clone()).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, again) = billing.post("/v1/plans", &ops, plan).await;
    assert_eq!(
        (status, again["type"].as_str()),
        (StatusCode::CONFLICT, Some("https://berth.dev/problems/taken"))
    );

    let price = json!({"period": "month", "price": {"amount_minor": 15_900, "currency": "EUR"}, "effective_from": "2030-10-01"});
    let (status, changed) =
        billing.send(Method::PUT, &format!("/v1/plans/{id}/price"), &ops, Some(price)).await;
    assert_eq!(status, 202, "{changed}");
    let past = json!({"period": "month", "price": {"amount_minor": 15_900, "currency": "EUR"}, "effective_from": "2030-08-01"});
    let (status, refused) =
        billing.send(Method::PUT, &format!("/v1/plans/{id}/price"), &ops, Some(past)).await;
    assert_eq!(
        (status, refused["type"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("https://berth.dev/problems/price-change-retroactive"))
    );
    let (status, retired) = billing.send(Method::POST, &format!("/v1/plans/{id}/retire"), &ops, None).await;
    assert_eq!(status, 202, "{retired}");
    let view = billing.read(&format!("/v1/plans/{id}?min_version={}", retired["version"]), &ops).await;
    assert_eq!(view["retired"], true);
    let prices: Vec<(i64, &str)> = view["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["amount_minor"].as_i64().unwrap(), p["effective_from"].as_str().unwrap()))
        .collect();
    assert_eq!(prices, vec![(14_900, "2030-09-01"), (15_900, "2030-10-01")]);
    // A retired plan is not offered.
    let offered = billing.read("/v1/plans", &tenant).await;
    assert!(offered["items"].as_array().unwrap().iter().all(|p| p["code"] != "business"));
    billing.stop().await;
}
