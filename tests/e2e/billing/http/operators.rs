//! The operators' read side over HTTP: MRR and ARR by plan and currency, and the VAT report
//! by month, treatment, country and rate, from the documents the renewal saga issues.

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::macros::datetime;

use super::{romanian_company, Billing};

fn german_company() -> Value {
    json!({"kind": "company", "legal_name": "Müller Hosting GmbH",
           "address": {"lines": ["Friedrichstraße 123"], "city": "Berlin", "postal_code": "10117", "country": "DE"},
           "vat_id": "DE123456789", "email": "rechnung@mueller.de", "currency": "EUR"})
}

/// A tenant with `profile` that picks `plan` in euro by the month during its trial.
async fn tenant(billing: &Billing, name: &str, profile: Value, plan: &str) -> String {
    let (_, token) = billing.register(name).await;
    billing.profile(&token, profile).await;
    let body = json!({"plan": plan, "period": "month", "currency": "EUR"});
    let (status, chosen) = billing.post("/v1/subscriptions", &token, body).await;
    assert_eq!(status, 202, "{chosen}");
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revenue_shows_mrr_and_arr_by_plan_and_the_vat_report_keeps_reverse_charge_apart() {
    let billing = Billing::start().await;
    billing.rate("EUR", "4.9763").await;
    let romanian = tenant(&billing, "Cluj", romanian_company("EUR"), "starter").await;
    let german = tenant(&billing, "Berlin", german_company(), "pro").await;
    // VIES knows the German id: reverse charge applies only once it is verified.
    billing.until("/v1/billing-profile", &german, "VIES", |p| p["vat_status"] == "verified").await;
    let (status, _) = billing.get("/v1/ops/revenue", &romanian).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "tenants do not read the operators' views");

    // Both trials end on the 14th; each first period is invoiced on the 15th.
    billing.clock_to(datetime!(2030-09-15 00:00:01 UTC));
    for token in [&romanian, &german] {
        billing
            .until("/v1/invoices", token, "the first period's invoice", |l| {
                l["items"].as_array().is_some_and(|i| i.iter().any(|d| d["status"] == "issued"))
            })
            .await;
    }
    // Starter 29.00 EUR a month, 348.00 a year; Pro 79.00 and 948.00.
    let revenue = billing
        .until("/v1/ops/revenue", &billing.operator, "both plans", |r| {
            r["items"].as_array().is_some_and(|i| i.len() == 2)
        })
        .await;
    let rows: Vec<(&str, &str, i64, i64, i64)> = revenue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["plan_code"].as_str().unwrap(),
                r["currency"].as_str().unwrap(),
                r["subscriptions"].as_i64().unwrap(),
                r["mrr_minor"].as_i64().unwrap(),
                r["arr_minor"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(rows.contains(&("starter", "EUR", 1, 2_900, 34_800)), "{rows:?}");
    assert!(rows.contains(&("pro", "EUR", 1, 7_900, 94_800)), "{rows:?}");

    // September: Romanian VAT at 21% on 29.00 (6.09), and Pro to Germany reverse charged.
    let report = billing
        .until("/v1/ops/vat-report?from=2030-09-01&to=2030-09-30", &billing.operator, "both invoices", |r| {
            r["items"].as_array().is_some_and(|i| i.len() == 2)
        })
        .await;
    let rows: Vec<(&str, &str, i64, i64, i64)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["treatment"].as_str().unwrap(),
                r["buyer_country"].as_str().unwrap(),
                r["rate_bp"].as_i64().unwrap(),
                r["taxable_minor"].as_i64().unwrap(),
                r["vat_minor"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(rows.contains(&("domestic", "RO", 2_100, 2_900, 609)), "{rows:?}");
    assert!(rows.contains(&("reverse_charge", "DE", 0, 7_900, 0)), "{rows:?}");
    assert!(report["items"].as_array().unwrap().iter().all(|r| r["month"] == "2030-09-01"), "{report}");
    let (status, bad) = billing.get("/v1/ops/vat-report?from=September", &billing.operator).await;
    assert_eq!((status, bad["field"].as_str()), (StatusCode::BAD_REQUEST, Some("from")), "{bad}");
    billing.stop().await;
}
