//! Usage through the API: readings recorded by an operator (a repeat counted once), shown on
//! the subscription's usage, and what lies beyond the plan billed when the period ends at the
//! plan's overage price.

use serde_json::{json, Value};
use time::macros::datetime;

use super::{romanian_company, Billing};

fn issued_nets(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "issued" && d["kind"] == "invoice")
        .map(|d| d["net_minor"].as_i64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_beyond_the_plan_recorded_through_the_api_is_billed_at_the_period_end() {
    let billing = Billing::start().await;
    billing.rate("EUR", "4.9763").await;
    let (_, token) = billing.register("Metered").await;
    billing.profile(&token, romanian_company("EUR")).await;
    let trial = billing.read("/v1/subscription", &token).await;
    let id = trial["id"].as_str().unwrap().to_owned();
    let body = json!({"plan": "starter", "period": "month", "currency": "EUR"});
    assert_eq!(billing.post("/v1/subscriptions", &token, body).await.0, 202);
    billing.clock_to(datetime!(2030-09-15 00:00:01 UTC));
    billing.until("/v1/invoices", &token, "the first period's invoice", |l| issued_nets(l) == [2_900]).await;

    // Two storage readings in the first paid period; the second sent twice. Storage counts its
    // peak: 14.5 GB, 4.5 GB beyond Starter's 10.
    let ops = &billing.operator;
    let usage = format!("/v1/subscriptions/{id}/usage");
    for (quantity, key) in
        [("12", "storage:2030-09-20"), ("14.5", "storage:2030-10-01"), ("14.5", "storage:2030-10-01")]
    {
        let (status, answer) = billing
            .post(&usage, ops, json!({"metric": "storage_gb", "quantity": quantity, "key": key}))
            .await;
        assert_eq!(status.as_u16() / 100, 2, "{answer}");
    }
    let meters = billing.until(&usage, &token, "the peak", |u| u["meters"][0]["thousandths"] == 14_500).await;
    assert_eq!(meters["meters"].as_array().unwrap().len(), 1, "{meters}");
    let (status, refused) =
        billing.post(&usage, &token, json!({"metric": "storage_gb", "quantity": "1", "key": "k"})).await;
    assert_eq!(status, 403, "tenants do not record their own usage: {refused}");

    // The period ends: 4.5 GB × 0.50 EUR = 2.25 EUR is billed, beside the next period's 29.00.
    billing.clock_to(datetime!(2030-10-15 00:00:01 UTC));
    let list = billing
        .until("/v1/invoices?limit=50", &token, "the overage billed", |l| {
            let nets = issued_nets(l);
            nets.contains(&225) || nets.contains(&(2_900 + 225))
        })
        .await;
    let nets = issued_nets(&list);
    assert_eq!(nets.iter().filter(|n| **n == 225 || **n == 3_125).count(), 1, "billed once: {nets:?}");
    billing.stop().await;
}
