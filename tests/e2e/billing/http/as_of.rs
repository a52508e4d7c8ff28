//! `?as_of=` on a document and a subscription: the state at an instant, folded from the log,
//! before and after it changed, equal to the live view where they overlap.

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{line, romanian_company, Billing};

/// The instant now, as the log's `recorded_at` is stamped.
fn now() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap()
}

/// The fields a past state and the live view share.
fn shared(detail: &Value) -> Value {
    let mut detail = detail.clone();
    detail.as_object_mut().unwrap().remove("as_of");
    detail
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_and_a_subscription_as_they_were_before_and_after_a_change() {
    let billing = Billing::start().await;
    let (tenant, token) = billing.register("Past Documents").await;
    billing.profile(&token, romanian_company("RON")).await;
    let before_draft = now();
    let id =
        billing.draft(&tenant, "invoice", "RON", json!([line("Găzduire Pro", 10_000, "RON", "2")])).await;
    let drafted = now();
    let (status, issued) = billing.issue(&id, json!({})).await;
    assert_eq!(status, 202, "{issued}");
    let live = billing.invoice(&id, &token, &issued["version"]).await;
    let issued_at = now();
    let credit = json!({"lines": [line("Găzduire Pro", 10_000, "RON", "1")]});
    let (status, credited) =
        billing.post(&format!("/v1/invoices/{id}/credit-notes"), &billing.operator, credit).await;
    assert_eq!(status, 202, "{credited}");
    let after = billing
        .until(&format!("/v1/invoices/{id}"), &token, "credited", |d| d["credited_minor"] == 12_100)
        .await;
    let credited_at = now();

    let past = |at: String| {
        let (billing, id, token) = (&billing, &id, &token);
        async move { billing.get(&format!("/v1/invoices/{id}?as_of={}", at.replace('+', "%2B")), token).await }
    };
    let (status, _) = past(before_draft).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing existed yet");
    let (status, draft) = past(drafted).await;
    assert_eq!(status, 200, "{draft}");
    assert_eq!((draft["status"].as_str(), draft["number"].is_null()), (Some("draft"), true), "{draft}");
    assert!(draft["as_of"]["global_position"].as_i64().is_some(), "{draft}");
    let (_, then) = past(issued_at).await;
    assert_eq!(shared(&then), shared(&live), "as of its issue, the document is the view's of then");
    assert_eq!((then["credited_minor"].as_i64(), then["total_minor"].as_i64()), (Some(0), Some(24_200)));
    let (_, now_) = past(credited_at.clone()).await;
    assert_eq!(now_["credited_minor"], 12_100, "{now_}");
    assert_eq!(shared(&now_), shared(&after), "as of now, the document is the view's");
    // An operator reads any tenant's past; the instant must be a time, and not with min_version.
    let (status, theirs) = billing
        .get(&format!("/v1/invoices/{id}?as_of={}", credited_at.replace('+', "%2B")), &billing.operator)
        .await;
    assert_eq!((status, &theirs["credited_minor"]), (StatusCode::OK, &json!(12_100)), "{theirs}");
    let (status, bad) = billing.get(&format!("/v1/invoices/{id}?as_of=yesterday"), &token).await;
    assert_eq!((status, bad["field"].as_str()), (StatusCode::BAD_REQUEST, Some("as_of")), "{bad}");
    let (status, _) =
        billing.get(&format!("/v1/invoices/{id}?as_of=2026-01-01T00:00:00Z&min_version=1"), &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (other, other_token) = billing.register("Someone Else").await;
    assert_ne!(other, tenant);
    let (status, _) = billing
        .get(&format!("/v1/invoices/{id}?as_of={}", credited_at.replace('+', "%2B")), &other_token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's document, past or present");

    // The trial subscription registration started: as of now, what the view shows.
    let subscription = billing.read("/v1/subscription", &token).await;
    let sid = subscription["id"].as_str().unwrap();
    let (status, past_subscription) =
        billing.get(&format!("/v1/subscriptions/{sid}?as_of={}", now().replace('+', "%2B")), &token).await;
    assert_eq!(status, 200, "{past_subscription}");
    assert_eq!(shared(&past_subscription), shared(&subscription));
    billing.stop().await;
}
