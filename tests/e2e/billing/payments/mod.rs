//! Payments against the local Stripe (stripe-stateful-mock behind deploy/stripe-fake): cards
//! saved and charged by the collection saga, dunning on the test clock down to the node
//! answering 503 and back, webhooks repeated, shuffled, forged and stale, and bad input.

mod cycle;
mod input;
mod killed;
mod webhooks;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::http::{Billing, BERTH_TOML};

/// The local Stripe the services script runs (`deploy/dev env`).
pub fn stripe_url() -> String {
    std::env::var("BERTH_DEV_STRIPE_URL").expect(
        "BERTH_DEV_STRIPE_URL is not set: run the tests through `deploy/dev test`, or `eval \"$(deploy/dev env)\"` \
         after `deploy/dev services`",
    )
}

fn stripe_key() -> String {
    std::env::var("BERTH_DEV_STRIPE_SECRET_KEY").unwrap_or_else(|_| "sk_test_berth_local".to_owned())
}

/// A webhook endpoint of this test's own at the local Stripe.
pub struct Endpoint {
    pub id: String,
    pub secret: String,
}

/// A request to the local Stripe, form-encoded as Stripe's API is.
pub async fn stripe(method: reqwest::Method, path: &str, form: &[(&str, &str)]) -> Value {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", stripe_url().trim_end_matches('/')))
        .bearer_auth(stripe_key())
        .form(form)
        .send()
        .await
        .expect("the local Stripe answers");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

/// A test control of the fake (`/_fake/...`), JSON in and out.
pub async fn fake(method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/_fake/{path}", stripe_url().trim_end_matches('/')));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the local Stripe answers");
    assert!(response.status().is_success(), "_fake/{path}: {}", response.status());
    response.json().await.unwrap()
}

/// The PaymentIntents the fake holds for `invoice`: (count, succeeded).
pub async fn intents(invoice: &str) -> (u64, u64) {
    let found =
        fake(reqwest::Method::GET, &format!("payment_intents?metadata[invoice]={invoice}"), None).await;
    (found["count"].as_u64().unwrap(), found["succeeded"].as_u64().unwrap())
}

/// Berth with every role on the test clock, charging cards at the local Stripe and receiving
/// its webhooks at an endpoint of its own; `extra` variables on top.
pub async fn start(extra: &[(&str, &str)]) -> (Billing, Endpoint) {
    let created = stripe(
        reqwest::Method::POST,
        "/v1/webhook_endpoints",
        &[("url", "http://127.0.0.1:9/placeholder"), ("enabled_events[]", "payment_intent.*")],
    )
    .await;
    let endpoint = Endpoint {
        id: created["id"].as_str().unwrap().to_owned(),
        secret: created["secret"].as_str().unwrap().to_owned(),
    };
    let url = stripe_url();
    let key = stripe_key();
    let mut vars = vec![
        ("BERTH_PAYMENTS__STRIPE_URL", url.as_str()),
        ("BERTH_PAYMENTS__STRIPE_SECRET_KEY", key.as_str()),
        ("BERTH_PAYMENTS__WEBHOOK_SECRETS", endpoint.secret.as_str()),
    ];
    vars.extend_from_slice(extra);
    let billing = Billing::start_with(BERTH_TOML, &vars).await;
    let hook = format!("{}/v1/webhooks/stripe", billing.command);
    stripe(
        reqwest::Method::POST,
        &format!("/v1/webhook_endpoints/{}", endpoint.id),
        &[("url", hook.as_str())],
    )
    .await;
    (billing, endpoint)
}

/// Takes the endpoint away again and stops Berth.
pub async fn stop(billing: Billing, endpoint: Endpoint) {
    stripe(reqwest::Method::DELETE, &format!("/v1/webhook_endpoints/{}", endpoint.id), &[]).await;
    billing.stop().await;
}

/// Saves the test card `name` (`pm_card_visa`, `pm_card_chargeDeclined`) for the tenant.
pub async fn save_card(billing: &Billing, token: &str, name: &str) -> Value {
    let (status, card) =
        billing.post("/v1/billing/payment-methods", token, json!({"payment_method": name})).await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    card
}

/// A registered tenant with a Romanian company profile in euro; its id and token.
pub async fn tenant(billing: &Billing, name: &str) -> (String, String) {
    let (tenant, token, _) = tenant_mailed(billing, name).await;
    (tenant, token)
}

/// Like [`tenant`], with a billing e-mail of its own: its id, token and that address.
pub async fn tenant_mailed(billing: &Billing, name: &str) -> (String, String, String) {
    let (tenant, token) = billing.register(name).await;
    let address = crate::mail::unique_address("billing");
    let mut profile = super::http::romanian_company("EUR");
    profile["email"] = json!(address);
    billing.profile(&token, profile).await;
    (tenant, token, address)
}

/// An issued invoice of 100 EUR for `tenant` (operators issue it); its id.
pub async fn invoice(billing: &Billing, tenant: &str) -> String {
    let id = billing
        .draft(tenant, "invoice", "EUR", json!([super::http::line("Hosting", 10_000, "EUR", "1")]))
        .await;
    let (status, issued) = billing.issue(&id, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{issued}");
    id
}

/// The document's payments and collection, once `check` holds of them.
pub async fn payments(
    billing: &Billing,
    token: &str,
    invoice: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    billing.until(&format!("/v1/invoices/{invoice}/payments"), token, what, check).await
}
