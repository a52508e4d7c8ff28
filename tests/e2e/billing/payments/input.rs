//! Bad input to the payment routes: problem+json naming the field, and nothing written.

use reqwest::StatusCode;
use serde_json::json;

use super::{invoice, save_card, start, stop, tenant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_cards_other_tenants_invoices_and_bad_amounts_are_refused_naming_the_field() {
    let (billing, endpoint) = start(&[]).await;
    billing.rate("EUR", "4.9763").await;
    let (tenant_a, token_a) = tenant(&billing, "Input A").await;
    let (_, token_b) = tenant(&billing, "Input B").await;

    // A PaymentMethod Stripe does not know, and something that is not a PaymentMethod id.
    let (status, problem) = billing
        .post("/v1/billing/payment-methods", &token_a, json!({"payment_method": "pm_1NoSuchMethod"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "payment_method");
    let (status, problem) = billing
        .post("/v1/billing/payment-methods", &token_a, json!({"payment_method": "card_42; drop"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["field"], "payment_method");
    let cards = billing.read("/v1/billing/payment-methods", &token_a).await;
    assert_eq!(cards["items"].as_array().unwrap().len(), 0, "{cards}");

    // Another tenant's invoice is not found; the tenant's own is paid with its card.
    save_card(&billing, &token_b, "pm_card_visa").await;
    let id = invoice(&billing, &tenant_a).await;
    let (status, problem) = billing.post(&format!("/v1/invoices/{id}/pay"), &token_b, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    let (status, problem) = billing.post(&format!("/v1/invoices/{id}/pay"), &token_a, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "no card yet: {problem}");
    assert_eq!(problem["field"], "payment_method");

    // Operators' payments: zero, the wrong currency and an unknown method are refused.
    let path = format!("/v1/invoices/{id}/payments");
    let zero = json!({"amount": {"amount_minor": 0, "currency": "EUR"}});
    let (status, problem) = billing.post(&path, &billing.operator, zero).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "amount.amount_minor");
    let lei = json!({"amount": {"amount_minor": 500, "currency": "RON"}});
    let (status, problem) = billing.post(&path, &billing.operator, lei).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["field"], "amount.currency");
    let (status, problem) = billing.post(&path, &billing.operator, json!({"method": "cheque"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["field"], "method");
    let state = billing.read(&format!("/v1/invoices/{id}/payments"), &token_a).await;
    assert_eq!(state["items"].as_array().unwrap().len(), 0, "nothing recorded: {state}");

    // Two partial transfers add up; the second pays more than is left, and the rest is credit.
    let doc =
        billing.until(&format!("/v1/invoices/{id}"), &token_a, "issued", |d| d["total_minor"].is_i64()).await;
    let total = doc["total_minor"].as_i64().unwrap();
    let part = json!({"amount": {"amount_minor": total - 1000, "currency": "EUR"}, "reference": "OP 1"});
    let (status, first) = billing.post(&path, &billing.operator, part).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!((first["balance_due_minor"].as_i64(), first["settled"].as_bool()), (Some(1000), Some(false)));
    let rest = json!({"amount": {"amount_minor": 1500, "currency": "EUR"}, "reference": "OP 2"});
    let (status, second) = billing.post(&path, &billing.operator, rest).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    assert_eq!((second["balance_due_minor"].as_i64(), second["settled"].as_bool()), (Some(0), Some(true)));
    let state = billing
        .until(&format!("/v1/invoices/{id}/payments"), &token_a, "two payments", |s| {
            s["items"].as_array().is_some_and(|i| i.len() == 2)
        })
        .await;
    assert_eq!(state["items"][1]["credit_minor"], 500, "{state}");
    stop(billing, endpoint).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credit_note_for_a_card_paid_invoice_refunds_the_card_once() {
    let (billing, endpoint) = start(&[]).await;
    billing.rate("EUR", "4.9763").await;
    let (tenant_id, token) = tenant(&billing, "Refunds").await;
    save_card(&billing, &token, "pm_card_visa").await;
    let id = invoice(&billing, &tenant_id).await;
    let paid = super::payments(&billing, &token, &id, "paid", |p| p["dunning"]["status"] == "settled").await;
    let intent = paid["items"][0]["payment_intent"].as_str().unwrap().to_owned();
    let total = paid["items"][0]["amount_minor"].as_i64().unwrap();

    // Credited in full: the card gets everything back, once, however often the saga runs.
    let (status, credit) =
        billing.post(&format!("/v1/invoices/{id}/credit-notes"), &billing.operator, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{credit}");
    let refunded = billing
        .until(&format!("/v1/invoices/{id}"), &token, "refunded", |d| {
            d["refunded_minor"].as_i64() == Some(total)
        })
        .await;
    assert_eq!(refunded["refunded_minor"], total);
    let refunds =
        super::stripe(reqwest::Method::GET, &format!("/v1/refunds?payment_intent={intent}"), &[]).await;
    let list = refunds["data"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{refunds}");
    assert_eq!(list[0]["amount"], total);
    stop(billing, endpoint).await;
}
