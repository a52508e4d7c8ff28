//! A subscription through the API on the test clock: its trial ends, its first period is
//! invoiced, and an upgrade, a downgrade and a cancellation in the middle of a period, each
//! with the amounts written out and the documents the renewal saga issues for them.

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::macros::datetime;

use super::{romanian_company, Billing};

/// The tenant's issued documents, oldest first, as (kind, net, VAT, total) in minor units.
fn amounts(list: &Value) -> Vec<(String, i64, i64, i64)> {
    let mut items: Vec<&Value> =
        list["items"].as_array().unwrap().iter().filter(|d| d["status"] == "issued").collect();
    items.sort_by_key(|d| d["number"].as_str().unwrap_or_default().to_owned());
    items
        .iter()
        .map(|d| {
            let kind = d["kind"].as_str().unwrap().to_owned();
            (
                kind,
                d["net_minor"].as_i64().unwrap(),
                d["vat_minor"].as_i64().unwrap(),
                d["total_minor"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn issued(billing: &Billing, token: &str, count: usize) -> Vec<(String, i64, i64, i64)> {
    let what = format!("{count} issued documents");
    let list = billing
        .until("/v1/invoices?limit=50", token, &what, |list| {
            list["items"]
                .as_array()
                .is_some_and(|items| items.iter().filter(|d| d["status"] == "issued").count() >= count)
        })
        .await;
    amounts(&list)
}

async fn site(billing: &Billing, token: &str, n: usize) -> String {
    let body =
        json!({"domain": format!("l{n}-{}.lifecycle.test", uuid::Uuid::now_v7().simple()), "type": "static"});
    let (status, answer) = billing.post("/v1/sites", token, body).await;
    assert_eq!(status, 202, "{answer}");
    answer["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_downgrade_and_cancel_in_the_middle_of_a_period_with_their_amounts() {
    let billing = Billing::start().await;
    billing.rate("EUR", "4.9763").await;
    let (_, token) = billing.register("Mid-period").await;
    billing.profile(&token, romanian_company("EUR")).await;
    // During the trial (1 – 14 September) the tenant picks Starter in euro, by the month.
    let trial = billing.read("/v1/subscription", &token).await;
    let id = trial["id"].as_str().unwrap().to_owned();
    let body = json!({"plan": "starter", "period": "month", "currency": "EUR"});
    let (status, chosen) = billing.post("/v1/subscriptions", &token, body).await;
    assert_eq!(status, 202, "{chosen}");
    assert_eq!(chosen["id"].as_str(), Some(id.as_str()), "the trial's subscription");

    // The trial ends; the first paid period, 15 September – 14 October (30 days), is invoiced
    // in advance: 29.00 EUR, and Romanian VAT at 21%: 6.09, 35.09 in all.
    billing.clock_to(datetime!(2030-09-15 00:00:01 UTC));
    assert_eq!(issued(&billing, &token, 1).await, vec![("invoice".into(), 2_900, 609, 3_509)]);
    let current =
        billing.until("/v1/subscription", &token, "the paid period", |s| s["status"] == "active").await;
    assert_eq!(
        (current["period_start"].as_str(), current["period_end"].as_str()),
        (Some("2030-09-15"), Some("2030-10-14")),
        "{current}"
    );

    // Upgrade on 25 September: 25 September – 14 October remain, 20 of 30 days. Starter's
    // unused part is credited, 29.00 × 20 / 30 = 19.3333… → 19.33 (VAT 4.0593 → 4.06), and
    // Pro's is charged, 79.00 × 20 / 30 = 52.6666… → 52.67 (VAT 11.0607 → 11.06).
    billing.clock_to(datetime!(2030-09-25 10:00 UTC));
    let (status, upgraded) =
        billing.post(&format!("/v1/subscriptions/{id}/upgrade"), &token, json!({"plan": "pro"})).await;
    assert_eq!(status, 202, "{upgraded}");
    let documents = issued(&billing, &token, 3).await;
    assert!(
        documents
            .iter()
            .any(|d| d.0 == "credit_note" && d.1.abs() == 1_933 && d.2.abs() == 406 && d.3.abs() == 2_339),
        "{documents:?}"
    );
    assert!(documents.contains(&("invoice".into(), 5_267, 1_106, 6_373)), "{documents:?}");

    // Back down to Starter with five sites: they fit, so it is scheduled for the day after the
    // period, and the quota already counts with Starter's five.
    billing.clock_to(datetime!(2030-10-01 10:00 UTC));
    for n in 0..5 {
        site(&billing, &token, n).await;
    }
    let (status, scheduled) =
        billing.post(&format!("/v1/subscriptions/{id}/downgrade"), &token, json!({"plan": "starter"})).await;
    assert_eq!(status, 202, "{scheduled}");
    let view =
        billing.read(&format!("/v1/subscriptions/{id}?min_version={}", scheduled["version"]), &token).await;
    assert_eq!(
        (view["plan_code"].as_str(), view["pending_plan_code"].as_str()),
        (Some("pro"), Some("starter"))
    );
    let body = json!({"domain": "sixth.lifecycle.test", "type": "static"});
    let (status, refused) = billing.post("/v1/sites", &token, body).await;
    assert_eq!(
        (status, refused["type"].as_str()),
        (StatusCode::CONFLICT, Some("https://berth.dev/problems/plan-limit"))
    );

    // Cancel now on 5 October: 5 – 14 October unused, 10 of 30 days of Pro: 79.00 × 10 / 30
    // = 26.3333… → 26.33 credited (VAT 5.5293 → 5.53), against the invoice that billed Pro.
    billing.clock_to(datetime!(2030-10-05 10:00 UTC));
    let (status, cancelled) = billing
        .post(&format!("/v1/subscriptions/{id}/cancel"), &token, json!({"at_period_end": false}))
        .await;
    assert_eq!(status, 202, "{cancelled}");
    let documents = issued(&billing, &token, 4).await;
    assert_eq!(documents.iter().filter(|d| d.0 == "credit_note").count(), 2, "{documents:?}");
    assert!(
        documents
            .iter()
            .any(|d| d.0 == "credit_note" && d.1.abs() == 2_633 && d.2.abs() == 553 && d.3.abs() == 3_186),
        "{documents:?}"
    );
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downgrade_that_does_not_fit_is_409_naming_the_limit() {
    let billing = Billing::start().await;
    let (_, token) = billing.register("Too big for Starter").await;
    let trial = billing.read("/v1/subscription", &token).await;
    let id = trial["id"].as_str().unwrap().to_owned();
    let body = json!({"plan": "pro", "period": "month", "currency": "EUR"});
    let (status, chosen) = billing.post("/v1/subscriptions", &token, body).await;
    assert_eq!(status, 202, "{chosen}");
    // The current subscription waits for the version the command answered, as its detail does.
    let current = billing.read(&format!("/v1/subscription?min_version={}", chosen["version"]), &token).await;
    assert_eq!(current["plan_code"], "pro", "{current}");
    for n in 0..6 {
        site(&billing, &token, n).await;
    }
    let before = billing.env.event_count().await;
    let (status, refused) =
        billing.post(&format!("/v1/subscriptions/{id}/downgrade"), &token, json!({"plan": "starter"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["detail"], "the plan allows 5 sites, but 6 are in use", "{refused}");
    assert_eq!(billing.env.event_count().await, before, "nothing was appended");
    billing.stop().await;
}
