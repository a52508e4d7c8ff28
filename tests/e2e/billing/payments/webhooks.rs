//! Stripe's webhooks: each event processed once whether it comes before or after the saga's
//! own record of the charge, delivered ten times in shuffled order; forged, stale and unsigned
//! deliveries refused with nothing changed; other event types acknowledged and ignored.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{
    fake, intents, invoice, payments, save_card, start, stop, stripe, tenant, tenant_mailed, Endpoint,
};
use crate::billing::http::Billing;

/// The fake's events about `invoice`'s PaymentIntents.
async fn events_of(invoice: &str) -> Vec<Value> {
    let list = stripe(reqwest::Method::GET, "/v1/events?limit=100&type=payment_intent.*", &[]).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["object"]["metadata"]["invoice"] == invoice)
        .cloned()
        .collect()
}

/// Delivers `events` to our endpoint `times` times each, shuffled; every answer must be 200.
async fn redeliver(endpoint: &Endpoint, events: &[Value], times: u32) {
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let delivered = fake(
        reqwest::Method::POST,
        "events/deliver",
        Some(json!({"event_ids": ids, "times": times, "shuffle": true, "seed": 7, "endpoint_ids": [endpoint.id]})),
    )
    .await;
    let deliveries = delivered["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), ids.len() * times as usize, "{delivered}");
    assert!(deliveries.iter().all(|d| d["status"] == 200), "{delivered}");
}

async fn post_raw(billing: &Billing, body: &[u8], signature: Option<String>) -> (StatusCode, Value) {
    let mut request = billing
        .http
        .post(format!("{}/v1/webhooks/stripe", billing.command))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_webhook_ten_times_shuffled_records_one_payment_and_forgeries_change_nothing() {
    let (billing, endpoint) = start(&[]).await;
    billing.rate("EUR", "4.9763").await;

    // The saga charges a card; the webhooks come after its own record.
    let (carded, carded_token, inbox) = tenant_mailed(&billing, "Webhooks card").await;
    save_card(&billing, &carded_token, "pm_card_visa").await;
    let charged = invoice(&billing, &carded).await;
    payments(&billing, &carded_token, &charged, "paid by card", |p| p["dunning"]["status"] == "settled")
        .await;
    let events = events_of(&charged).await;
    assert!(!events.is_empty(), "the fake recorded the PaymentIntent's events");
    redeliver(&endpoint, &events, 10).await;

    // A tenant without a card pays outside Berth's own charge (the webhook comes first, and alone).
    let (plain, plain_token) = tenant(&billing, "Webhooks transfer").await;
    let outside = invoice(&billing, &plain).await;
    let doc = billing
        .until(&format!("/v1/invoices/{outside}"), &plain_token, "issued", |d| d["total_minor"].is_i64())
        .await;
    let total = doc["total_minor"].as_i64().unwrap().to_string();
    payments(&billing, &plain_token, &outside, "awaiting payment", |p| {
        p["dunning"]["status"] == "awaiting_payment"
    })
    .await;
    stripe(
        reqwest::Method::POST,
        "/v1/payment_intents",
        &[
            ("amount", total.as_str()),
            ("currency", "eur"),
            ("payment_method", "pm_card_visa"),
            ("confirm", "true"),
            ("metadata[invoice]", outside.as_str()),
        ],
    )
    .await;
    // Delivered now (the fake's own deliveries run in the background, behind other tests').
    let events = events_of(&outside).await;
    redeliver(&endpoint, &events, 1).await;
    payments(&billing, &plain_token, &outside, "paid from the webhook", |p| {
        p["dunning"]["status"] == "settled"
    })
    .await;
    redeliver(&endpoint, &events, 10).await;

    for (token, id) in [(&carded_token, &charged), (&plain_token, &outside)] {
        let state = billing.read(&format!("/v1/invoices/{id}/payments"), token).await;
        assert_eq!(state["items"].as_array().unwrap().len(), 1, "one payment: {state}");
        assert_eq!(state["items"][0]["balance_due_minor"], 0);
    }
    assert_eq!(intents(&charged).await, (1, 1));
    // One receipt (and the invoice itself), whatever the deliveries.
    let mails = crate::mail::wait_for_messages(&inbox, 2, std::time::Duration::from_secs(30)).await;
    let receipts =
        mails.iter().filter(|m| m["subject"].as_str().is_some_and(|s| s.starts_with("Payment received")));
    assert_eq!(receipts.count(), 1, "{mails:?}");
    assert_eq!(mails.len(), 2, "{mails:?}");
    let settled_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'invoice' AND event_type = 'InvoiceSettled'
            AND aggregate_id = ANY($1)",
    )
    .bind(vec![charged.clone(), outside.clone()])
    .fetch_one(&billing.env.pool)
    .await
    .unwrap();
    assert_eq!(settled_events, 2, "one state change per invoice");

    // Forged, stale and unsigned deliveries: 400, and nothing is written.
    let body = serde_json::to_vec(&events[0]).unwrap();
    let before: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type IN ('webhook', 'invoice', 'dunning')",
    )
    .fetch_one(&billing.env.pool)
    .await
    .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let forged = berth_payments::webhook::sign(&body, "whsec_not_the_secret", now);
    let stale = berth_payments::webhook::sign(&body, &endpoint.secret, now - 301);
    for (what, signature) in [("forged", Some(forged)), ("stale", Some(stale)), ("unsigned", None)] {
        let (status, problem) = post_raw(&billing, &body, signature).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {problem}");
        assert_eq!(problem["field"], "Stripe-Signature", "{what}: {problem}");
    }
    // A body changed after signing is a forgery too.
    let mut tampered = events[0].clone();
    tampered["data"]["object"]["amount_received"] = json!(1);
    let signed = berth_payments::webhook::sign(&body, &endpoint.secret, now);
    let (status, _) = post_raw(&billing, &serde_json::to_vec(&tampered).unwrap(), Some(signed)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let after: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type IN ('webhook', 'invoice', 'dunning')",
    )
    .fetch_one(&billing.env.pool)
    .await
    .unwrap();
    assert_eq!(before, after, "refused deliveries write nothing");

    // Another type, properly signed: acknowledged and ignored.
    let other = json!({"id": format!("evt_{}", uuid::Uuid::now_v7().simple()), "type": "customer.created",
                       "created": now, "data": {"object": {"id": "cus_x"}}});
    let other_body = serde_json::to_vec(&other).unwrap();
    let signed = berth_payments::webhook::sign(&other_body, &endpoint.secret, now);
    let (status, answer) = post_raw(&billing, &other_body, Some(signed)).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("ignored")), "{answer}");

    // Operators see each delivery once, with its outcome.
    let seen = billing
        .until("/v1/ops/webhooks?limit=200", &billing.operator, "the deliveries", |list| {
            list["items"].as_array().is_some_and(|items| items.iter().any(|w| w["event_id"] == other["id"]))
        })
        .await;
    let items = seen["items"].as_array().unwrap();
    let ours = |id: &Value| items.iter().filter(|w| w["event_id"] == *id).count();
    for event in &events {
        assert_eq!(ours(&event["id"]), 1, "{event}");
    }
    let succeeded = events.iter().find(|e| e["type"] == "payment_intent.succeeded").unwrap();
    let row = items.iter().find(|w| w["event_id"] == succeeded["id"]).unwrap();
    assert_eq!(row["outcome"], "applied", "the webhook paid the invoice: {row}");
    stop(billing, endpoint).await;
}
