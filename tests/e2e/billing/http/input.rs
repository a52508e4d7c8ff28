//! Bad input is a 400 or 422 problem naming the field, and appends nothing: negative and
//! absurd amounts, an unknown currency or plan, a malformed VAT id or CUI, a coupon that has
//! expired or is used up.

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::macros::datetime;

use super::{romanian_company, Billing};

/// Asserts a 400 or 422 problem+json naming `field` (and, when given, of `kind`).
fn names(what: &str, (status, body): &(StatusCode, Value), field: &str) {
    assert!(
        *status == StatusCode::BAD_REQUEST || *status == StatusCode::UNPROCESSABLE_ENTITY,
        "{what}: {status} {body}"
    );
    assert_eq!(body["field"], field, "{what}: {body}");
    assert!(
        body["type"].as_str().is_some_and(|t| t.starts_with("https://berth.dev/problems/")),
        "{what}: {body}"
    );
}

fn plan(code: &str, amount_minor: i64, currency: &str) -> Value {
    json!({"code": code, "name": "Odd", "prices": [{"period": "month", "price": {"amount_minor": amount_minor, "currency": currency}}],
           "limits": {"sites": 1, "storage_gb": 1, "backups": {"frequency": "daily", "retention_days": 7}, "support": "standard"}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_amounts_currencies_plans_and_vat_ids_are_problems_naming_the_field() {
    let billing = Billing::start().await;
    let ops = billing.operator.clone();
    let (tenant, token) = billing.register("Careless").await;
    billing.profile(&token, romanian_company("RON")).await;
    let before = billing.env.event_count().await;

    names(
        "a negative price",
        &billing.post("/v1/plans", &ops, plan("neg", -100, "EUR")).await,
        "prices.0.price.amount_minor",
    );
    names(
        "an absurd price",
        &billing.post("/v1/plans", &ops, plan("huge", i64::MAX, "EUR")).await,
        "prices.0.price.amount_minor",
    );
    names(
        "an unknown currency",
        &billing.post("/v1/plans", &ops, plan("xyz", 100, "XYZ")).await,
        "prices.0.price.currency",
    );
    let line = |amount: i64| json!([{"description": "x", "quantity": "1", "unit": "month", "unit_price": {"amount_minor": amount, "currency": "RON"}, "rate": "standard"}]);
    let draft = |lines: Value, currency: &str| json!({"tenant_id": tenant, "kind": "invoice", "currency": currency, "lines": lines});
    names(
        "a negative line",
        &billing.post("/v1/invoices", &ops, draft(line(-1), "RON")).await,
        "lines.0.unit_price.amount_minor",
    );
    names(
        "an absurd line",
        &billing.post("/v1/invoices", &ops, draft(line(10_i64.pow(17)), "RON")).await,
        "lines.0.unit_price.amount_minor",
    );
    names(
        "a draft in no currency",
        &billing.post("/v1/invoices", &ops, draft(line(100), "LEI")).await,
        "currency",
    );
    let subscribe =
        |plan: &str, currency: &str| json!({"plan": plan, "period": "month", "currency": currency});
    names(
        "an unknown plan",
        &billing.post("/v1/subscriptions", &token, subscribe("platinum", "EUR")).await,
        "plan",
    );
    names(
        "an unknown currency",
        &billing.post("/v1/subscriptions", &token, subscribe("pro", "XYZ")).await,
        "currency",
    );

    let mut profile = romanian_company("RON");
    profile["vat_id"] = json!("RO-12");
    names(
        "a malformed VAT id",
        &billing.send(reqwest::Method::PUT, "/v1/billing-profile", &token, Some(profile.clone())).await,
        "vat_id",
    );
    // RO14399840 with its check digit changed.
    profile["vat_id"] = json!("RO14399841");
    let (status, refused) =
        billing.send(reqwest::Method::PUT, "/v1/billing-profile", &token, Some(profile)).await;
    names("a CUI whose check digit is wrong", &(status, refused.clone()), "vat_id");
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("check digit")), "{refused}");
    assert_eq!(billing.env.event_count().await, before, "nothing was appended");
    // Billing views are read as they are now: `as_of` is not one of their parameters.
    let (status, refused) = billing.get("/v1/billing-profile?as_of=2030-09-01T00:00:00Z", &token).await;
    assert_eq!((status, refused["field"].as_str()), (StatusCode::BAD_REQUEST, Some("as_of")), "{refused}");
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_used_up_coupon_is_422_naming_the_coupon() {
    let billing = Billing::start().await;
    let ops = billing.operator.clone();
    let coupon = |code: &str, extra: Value| {
        let mut body = json!({"code": code, "percent_off": "10", "duration": "once"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let (status, made) =
        billing.post("/v1/coupons", &ops, coupon("ONCEONLY", json!({"max_redemptions": 1}))).await;
    assert_eq!(status, 202, "{made}");
    let (status, made) = billing
        .post("/v1/coupons", &ops, coupon("SEPTEMBER", json!({"expires_at": "2030-09-02T00:00:00Z"})))
        .await;
    assert_eq!(status, 202, "{made}");
    let subscribe = |code: &str| json!({"plan": "pro", "period": "month", "currency": "EUR", "coupon": code});

    let (_, first) = billing.register("First").await;
    let (status, taken) = billing.post("/v1/subscriptions", &first, subscribe("ONCEONLY")).await;
    assert_eq!(status, 202, "{taken}");
    let (_, second) = billing.register("Second").await;
    let used_up = billing.post("/v1/subscriptions", &second, subscribe("ONCEONLY")).await;
    names("a used-up coupon", &used_up, "coupon");
    assert_eq!(used_up.0, StatusCode::UNPROCESSABLE_ENTITY);

    billing.clock_to(datetime!(2030-09-03 09:00 UTC));
    let expired = billing.post("/v1/subscriptions", &second, subscribe("SEPTEMBER")).await;
    names("an expired coupon", &expired, "coupon");
    assert_eq!(expired.0, StatusCode::UNPROCESSABLE_ENTITY);
    // A code no coupon has is not found, naming the field too.
    let (status, unknown) = billing.post("/v1/subscriptions", &second, subscribe("NOSUCHCODE")).await;
    assert_eq!((status, unknown["field"].as_str()), (StatusCode::NOT_FOUND, Some("coupon")), "{unknown}");
    billing.stop().await;
}
