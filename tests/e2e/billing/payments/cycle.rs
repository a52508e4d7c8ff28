//! The billing cycle on the test clock, with a site on a real node: a trial becomes a paid
//! period charged to a card; the next renewal is declined, retried on the dunning days and,
//! unpaid when grace ends, the tenant's site is suspended (the node answers 503); a bank
//! transfer settles it, and the site is served again.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::macros::datetime;

use super::{intents, payments, save_card, start, stop, tenant_mailed};
use crate::mail::{messages_to, wait_for_messages};
use crate::nodes_harness::{one_at_a_time, registration, wait_for, LocalNode, NODE_SETTINGS};

fn count(list: &Value, check: impl Fn(&Value) -> bool) -> usize {
    list["items"].as_array().map_or(0, |items| items.iter().filter(|i| check(i)).count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_declined_renewal_is_retried_suspends_the_site_and_a_transfer_resumes_it() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("pay1").await;
    let mut extra: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    extra.push(("BERTH_SAGAS__PROVISIONING__ENABLED", "true"));
    let (billing, endpoint) = start(&extra).await;
    billing.rate("EUR", "4.9763").await;

    // A node, registered and bootstrapped by an operator.
    let (status, registered) =
        billing.post("/v1/nodes", &billing.operator, registration(&node, (2, 4096, 40))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{registered}");
    let node_id = registered["id"].as_str().unwrap().to_owned();
    node.authorize(registered["ssh_public_key"].as_str().unwrap()).await;
    let (status, _) = billing
        .send(reqwest::Method::POST, &format!("/v1/nodes/{node_id}/bootstrap"), &billing.operator, None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    billing
        .until(&format!("/v1/nodes/{node_id}"), &billing.operator, "the node ready", |n| {
            n["state"] == "ready"
        })
        .await;

    // A tenant in its trial chooses Starter in euro, saves a card and puts up a site.
    let (_, token, inbox) = tenant_mailed(&billing, "Cycle").await;
    let (status, chosen) = billing
        .post("/v1/subscriptions", &token, json!({"plan": "starter", "period": "month", "currency": "EUR"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{chosen}");
    save_card(&billing, &token, "pm_card_visa").await;
    let domain = format!("shop-{}.cycle.test", uuid::Uuid::now_v7().simple());
    let (status, created) =
        billing.post("/v1/sites", &token, json!({"domain": domain, "type": "static"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let site = created["id"].as_str().unwrap().to_owned();
    billing.until(&format!("/v1/sites/{site}"), &token, "the site active", |s| s["status"] == "active").await;
    assert_eq!(node.get(&domain, "/").await.0, 200);

    // The trial ends: the first period's invoice is issued and charged to the card.
    billing.clock_to(datetime!(2030-09-15 00:00:01 UTC));
    let list = billing
        .until("/v1/invoices?limit=50", &token, "the first invoice", |l| {
            count(l, |i| i["status"] == "issued") >= 1
        })
        .await;
    let first = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["status"] == "issued")
        .and_then(|i| i["id"].as_str())
        .unwrap()
        .to_owned();
    let paid =
        payments(&billing, &token, &first, "the first invoice paid", |p| p["dunning"]["status"] == "settled")
            .await;
    assert_eq!(paid["items"].as_array().unwrap().len(), 1, "{paid}");
    assert_eq!(paid["items"][0]["method"], "card");
    assert_eq!(intents(&first).await, (1, 1), "one PaymentIntent, succeeded");
    let subject = |m: &Value| m["subject"].as_str().unwrap_or_default().to_owned();
    let mails = wait_for_messages(&inbox, 2, Duration::from_secs(30)).await;
    assert!(mails.iter().any(|m| subject(m).starts_with("Payment received")), "a receipt: {mails:?}");

    // The card is replaced by one that is declined; the renewal fails, and is retried on days
    // 1, 3 and 7 after the first failure.
    save_card(&billing, &token, "pm_card_chargeDeclined").await;
    let failed_at = datetime!(2030-10-15 00:00:01 UTC);
    billing.clock_to(failed_at);
    let list = billing
        .until("/v1/invoices?limit=50", &token, "the renewal", |l| count(l, |i| i["status"] == "issued") >= 2)
        .await;
    let renewal = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["status"] == "issued" && i["id"] != first.as_str())
        .and_then(|i| i["id"].as_str())
        .unwrap()
        .to_owned();
    let declined = |n: i64| move |p: &Value| p["dunning"]["failures"] == n;
    let state = payments(&billing, &token, &renewal, "the first decline", declined(1)).await;
    assert_eq!(state["dunning"]["next_retry_at"], "2030-10-16T00:00:01Z", "{state}");
    assert_eq!(state["dunning"]["grace_ends_at"], "2030-10-29T00:00:01Z", "{state}");
    for (day, failures) in [(1, 2), (3, 3), (7, 4)] {
        billing.clock_to(failed_at + time::Duration::days(day) + time::Duration::seconds(1));
        payments(&billing, &token, &renewal, "a retry declined", declined(failures)).await;
    }
    let state =
        payments(&billing, &token, &renewal, "no more retries", |p| p["dunning"]["next_retry_at"].is_null())
            .await;
    assert_eq!(state["items"].as_array().unwrap().len(), 0, "nothing paid: {state}");
    assert_eq!(intents(&renewal).await, (4, 0), "four attempts, each its own PaymentIntent");
    let failed = |mails: &[Value]| mails.iter().filter(|m| subject(m).starts_with("Payment for")).count();
    let mails = wait_for_messages(&inbox, 7, Duration::from_secs(30)).await;
    assert_eq!(failed(&mails), 4, "one mail per failed attempt: {mails:?}");

    // Grace ends unpaid: the site is suspended for non-payment and the node answers 503; the
    // tenant cannot resume it.
    billing.clock_to(failed_at + time::Duration::days(14) + time::Duration::seconds(1));
    let suspended = billing
        .until(&format!("/v1/sites/{site}"), &token, "the site suspended", |s| {
            s["status"] == "suspended" && s["pending"].is_null()
        })
        .await;
    assert_eq!(suspended["suspension_reason"], "unpaid");
    assert_eq!(node.get(&domain, "/").await.0, 503);
    let (status, refused) =
        billing.send(reqwest::Method::POST, &format!("/v1/sites/{site}/resume"), &token, None).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{refused}");
    let subscription = billing.until("/v1/subscription", &token, "past due", |s| s["past_due"] == true).await;
    assert_eq!(subscription["status"], "active");
    let past_due = billing.read("/v1/ops/dunning?status=suspended", &billing.operator).await;
    assert!(past_due["items"].as_array().unwrap().iter().any(|d| d["invoice_id"] == renewal.as_str()));

    // A bank transfer settles it: the site is served again and the subscription is in good standing.
    let (status, recorded) = billing
        .post(
            &format!("/v1/invoices/{renewal}/payments"),
            &billing.operator,
            json!({"method": "bank_transfer", "reference": "OP 2030/1187"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{recorded}");
    assert_eq!(recorded["settled"], true);
    billing
        .until(&format!("/v1/sites/{site}"), &token, "the site resumed", |s| {
            s["status"] == "active" && s["pending"].is_null() && s["suspension_reason"].is_null()
        })
        .await;
    let served = wait_for(Duration::from_secs(30), || async {
        let (status, _, _) = node.get(&domain, "/").await;
        (status == 200).then_some(status)
    })
    .await;
    assert_eq!(served, 200);
    billing.until("/v1/subscription", &token, "in good standing", |s| s["past_due"] == false).await;
    let settled =
        payments(&billing, &token, &renewal, "settled", |p| p["dunning"]["status"] == "settled").await;
    assert_eq!(settled["items"][0]["method"], "bank_transfer");
    assert_eq!(intents(&renewal).await, (4, 0), "no charge after the transfer");
    // Mail: the first invoice and its receipt, the renewal, four failures, the suspension, the
    // transfer's receipt and the reinstatement; each once.
    let mails = wait_for_messages(&inbox, 10, Duration::from_secs(30)).await;
    let count_of = |prefix: &str| mails.iter().filter(|m| subject(m).starts_with(prefix)).count();
    assert_eq!(count_of("Payment received"), 2, "{mails:?}");
    assert_eq!(count_of("Payment for"), 4);
    assert_eq!(count_of("Your account"), 2, "the suspension and the reinstatement");
    assert_eq!(
        count_of("Invoice") + count_of("Your invoice") + count_of("Proforma") + count_of("Credit"),
        2,
        "{mails:?}"
    );
    assert_eq!(mails.len(), 10, "nothing else: {mails:?}");

    let cash = billing.read("/v1/ops/payments", &billing.operator).await;
    assert!(cash["items"].as_array().unwrap().iter().any(|r| r["method"] == "card"));
    assert!(cash["items"].as_array().unwrap().iter().any(|r| r["method"] == "bank_transfer"));
    // Nothing more is mailed once it is paid, however far the clock moves within the period.
    billing.clock_to(failed_at + time::Duration::days(20));
    let (status, _) = billing.get("/v1/subscription", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(messages_to(&inbox).await.len(), 10);
    stop(billing, endpoint).await;
}
