//! `berth serve` killed with SIGKILL while the collection saga charges forty invoices, and
//! started again: every invoice ends paid by exactly one PaymentIntent (counted in the local
//! Stripe), with one payment recorded.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use tokio::process::{Child, Command};

use super::{intents, save_card, start, stop, stripe, stripe_url, tenant};
use crate::billing::http::{line, variables, Billing, START};
use crate::common::{eventually, kill9};

const TENANTS: usize = 4;
const PER_TENANT: usize = 10;

struct Ports {
    command: u16,
    query: u16,
    telemetry: u16,
}

async fn serve(billing: &Billing, ports: &Ports, secret: &str) -> Child {
    let offset = (START - OffsetDateTime::now_utc()).whole_seconds();
    let child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("serve")
        .envs(variables(&billing.env))
        .env("BERTH_CONFIG", &billing.config)
        .env("BERTH_CLOCK__OFFSET_SECS", offset.to_string())
        .env("BERTH_COMMAND_API__ADDR", format!("127.0.0.1:{}", ports.command))
        .env("BERTH_QUERY_API__ADDR", format!("127.0.0.1:{}", ports.query))
        .env("BERTH_TELEMETRY__ADDR", format!("127.0.0.1:{}", ports.telemetry))
        .env("BERTH_PAYMENTS__STRIPE_URL", stripe_url())
        .env("BERTH_PAYMENTS__STRIPE_SECRET_KEY", "sk_test_berth_local")
        .env("BERTH_PAYMENTS__WEBHOOK_SECRETS", secret)
        // Slow enough that charges are under way when it is killed; handed over quickly after.
        .env("BERTH_SAGAS__COLLECTION__CONCURRENCY", "2")
        .env("BERTH_SAGAS__COLLECTION__TAKEOVER_SECS", "3")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("berth serve starts");
    let base = format!("http://127.0.0.1:{}", ports.command);
    let http = reqwest::Client::new();
    let ready = eventually(Duration::from_secs(60), || {
        let (http, base) = (&http, &base);
        async move { http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    assert!(ready, "berth serve did not become ready");
    child
}

async fn count(billing: &Billing, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(&billing.env.pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collections_killed_mid_charge_charge_each_invoice_once() {
    let (mut billing, endpoint) = start(&[]).await;
    billing.rate("EUR", "4.9763").await;
    let mut drafts = Vec::new();
    for t in 0..TENANTS {
        let (id, token) = tenant(&billing, &format!("Killed {t}")).await;
        save_card(&billing, &token, "pm_card_visa").await;
        for n in 0..PER_TENANT {
            let lines = json!([line(&format!("Hosting {n}"), 1_000 + n as i64, "EUR", "1")]);
            drafts.push(billing.draft(&id, "invoice", "EUR", lines).await);
        }
    }
    billing.halt().await;

    let free = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ports = Ports { command: free(), query: free(), telemetry: free() };
    let hook = format!("http://127.0.0.1:{}/v1/webhooks/stripe", ports.command);
    stripe(
        reqwest::Method::POST,
        &format!("/v1/webhook_endpoints/{}", endpoint.id),
        &[("url", hook.as_str())],
    )
    .await;
    let mut child = serve(&billing, &ports, &endpoint.secret).await;
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}", ports.command);
    for id in &drafts {
        let response = http
            .post(format!("{base}/v1/invoices/{id}/issue"))
            .bearer_auth(&billing.operator)
            .json(&json!({}))
            .send()
            .await;
        assert_eq!(response.unwrap().status(), 202);
    }

    // Killed as soon as the first payments are recorded, while the rest are being charged;
    // twice over.
    let (mut kills, mut last) = (0, 0);
    for _ in 0..2 {
        let charging = eventually(Duration::from_secs(60), || async {
            let recorded = count(&billing, "InvoicePaymentReceived").await;
            recorded > last + 2 && recorded < drafts.len() as i64
        })
        .await;
        if !charging {
            break;
        }
        kill9(&mut child).await;
        kills += 1;
        last = count(&billing, "InvoicePaymentReceived").await;
        eprintln!("killed with {last} of {} payments recorded", drafts.len());
        child = serve(&billing, &ports, &endpoint.secret).await;
    }
    assert!(kills > 0, "the kill came too late to interrupt anything");

    let settled = eventually(Duration::from_secs(120), || async {
        count(&billing, "InvoiceSettled").await == drafts.len() as i64
    })
    .await;
    assert!(settled, "every invoice paid: {} of {}", count(&billing, "InvoiceSettled").await, drafts.len());
    for id in &drafts {
        assert_eq!(intents(id).await, (1, 1), "invoice {id}: exactly one PaymentIntent, succeeded");
    }
    assert_eq!(count(&billing, "InvoicePaymentReceived").await, drafts.len() as i64, "one payment each");
    kill9(&mut child).await;
    stop(billing, endpoint).await;
}
