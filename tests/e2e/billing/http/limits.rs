//! The plan's site limit where it bites: `POST /v1/sites`, also when creations race for the
//! last place; no subscription or trial is 402; registration and its trial commit together.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{Billing, BERTH_TOML};

async fn site(billing: &Billing, token: &str, n: usize) -> (StatusCode, Value) {
    let body =
        json!({"domain": format!("s{n}-{}.limits.test", uuid::Uuid::now_v7().simple()), "type": "static"});
    billing.post("/v1/sites", token, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_site_on_starter_is_refused_naming_the_limit_and_accepted_after_an_upgrade() {
    let billing = Billing::start().await;
    let (_, token) = billing.register("Limited").await;
    // Registration started Starter's 14-day trial: five sites.
    let subscription = billing.read("/v1/subscription", &token).await;
    assert_eq!(
        (subscription["plan_code"].as_str(), subscription["status"].as_str()),
        (Some("starter"), Some("trialing"))
    );
    for n in 0..5 {
        let (status, body) = site(&billing, &token, n).await;
        assert_eq!(status, 202, "site {n}: {body}");
    }
    let (status, refused) = site(&billing, &token, 5).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused["type"], "https://berth.dev/problems/plan-limit");
    assert_eq!(refused["detail"], "the starter plan allows 5 sites");
    let id = subscription["id"].as_str().unwrap();
    let (status, upgraded) =
        billing.post(&format!("/v1/subscriptions/{id}/upgrade"), &token, json!({"plan": "pro"})).await;
    assert_eq!(status, 202, "{upgraded}");
    let (status, body) = site(&billing, &token, 5).await;
    assert_eq!(status, 202, "after the upgrade: {body}");
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creations_racing_for_the_last_place_let_exactly_one_through() {
    let billing = Billing::start().await;
    let (_, token) = billing.register("Racing").await;
    for n in 0..4 {
        assert_eq!(site(&billing, &token, n).await.0, 202);
    }
    let racers: Vec<_> = (0..8).map(|n| site(&billing, &token, 10 + n)).collect();
    let answers = futures::future::join_all(racers).await;
    let accepted = answers.iter().filter(|(s, _)| *s == StatusCode::ACCEPTED).count();
    let limited = answers
        .iter()
        .filter(|(s, b)| *s == StatusCode::CONFLICT && b["type"] == "https://berth.dev/problems/plan-limit")
        .count();
    assert_eq!((accepted, limited), (1, 7), "{answers:?}");
    let sites: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'SiteCreated'")
        .fetch_one(&billing.env.pool)
        .await
        .unwrap();
    assert_eq!(sites, 5, "five sites exist, not more");
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_subscription_or_trial_a_site_is_402_subscription_required() {
    let billing = Billing::start().await;
    let (_, token) = billing.register("Cancelled").await;
    let subscription = billing.read("/v1/subscription", &token).await;
    let id = subscription["id"].as_str().unwrap();
    let (status, body) = billing
        .post(&format!("/v1/subscriptions/{id}/cancel"), &token, json!({"at_period_end": false}))
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, refused) = site(&billing, &token, 0).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(refused["type"], "https://berth.dev/problems/subscription-required");
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_and_its_trial_commit_together_or_not_at_all() {
    // No trial plan: the tenant registers without a subscription, and gets none.
    let billing = Billing::start_with(BERTH_TOML, &[("BERTH_BILLING__TRIAL_PLAN", "")]).await;
    let (_, token) = billing.register("No trial").await;
    assert_eq!(site(&billing, &token, 0).await.0, StatusCode::PAYMENT_REQUIRED);
    let subscriptions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_type = 'subscription'")
            .fetch_one(&billing.env.pool)
            .await
            .unwrap();
    assert_eq!(subscriptions, 0, "no subscription was started");
    billing.stop().await;

    // A trial plan that does not exist: registration is refused, and no tenant is left behind.
    let billing = Billing::start_with(BERTH_TOML, &[("BERTH_BILLING__DEFAULT_PLANS", "false")]).await;
    let body =
        json!({"name": "Orphan", "email": "orphan@billing.test", "password": "a long enough password"});
    let response =
        billing.http.post(format!("{}/v1/auth/register", billing.command)).json(&body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let tenants: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type NOT IN ('seller', 'series', 'operator')",
    )
    .fetch_one(&billing.env.pool)
    .await
    .unwrap();
    assert_eq!(tenants, 0, "nothing of the registration was appended");
    billing.stop().await;
}
