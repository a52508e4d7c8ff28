//! Two hundred invoices issued at once through the command API while `berth serve` is killed
//! with SIGKILL and started again: every one ends issued, numbered exactly 1..200 in its
//! series, with no gap and no number used twice.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use time::OffsetDateTime;
use tokio::process::{Child, Command};

use super::{line, romanian_company, variables, Billing, START};
use crate::common::{eventually, kill9};

const COUNT: usize = 200;

/// `berth serve` as a child on free ports, on the tests' clock (shifted to [`START`]).
async fn serve(billing: &Billing) -> (Child, String) {
    let free = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (command, query, telemetry) = (free(), free(), free());
    let offset = (START - OffsetDateTime::now_utc()).whole_seconds();
    let child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("serve")
        .envs(variables(&billing.env))
        .env("BERTH_CONFIG", &billing.config)
        .env("BERTH_CLOCK__OFFSET_SECS", offset.to_string())
        .env("BERTH_COMMAND_API__ADDR", format!("127.0.0.1:{command}"))
        .env("BERTH_QUERY_API__ADDR", format!("127.0.0.1:{query}"))
        .env("BERTH_TELEMETRY__ADDR", format!("127.0.0.1:{telemetry}"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("berth serve starts");
    let base = format!("http://127.0.0.1:{command}");
    let http = reqwest::Client::new();
    let ready = eventually(Duration::from_secs(60), || {
        let (http, base) = (&http, &base);
        async move { http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    assert!(ready, "berth serve did not become ready");
    (child, base)
}

/// Issues `id` through `base`: `Some(true)` issued now, `Some(false)` issued before, `None`
/// when the server did not answer (it was killed). A race lost to the other issuers (409
/// `conflict`, "retry") is retried, as a client would.
async fn issue(http: &reqwest::Client, base: &str, operator: &str, id: &str) -> Option<bool> {
    let url = format!("{base}/v1/invoices/{id}/issue");
    loop {
        let response = http.post(&url).bearer_auth(operator).json(&json!({})).send().await.ok()?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.ok()?;
        match (status, body["type"].as_str()) {
            (StatusCode::ACCEPTED, _) => return Some(true),
            (StatusCode::CONFLICT, Some("https://berth.dev/problems/invoice-issued")) => return Some(false),
            (StatusCode::CONFLICT, _) => continue,
            _ => panic!("issuing {id} answered {status}: {body}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_issued_while_berth_serve_is_killed_are_numbered_without_gaps() {
    let mut billing = Billing::start().await;
    let (tenant, token) = billing.register("Many Invoices").await;
    billing.profile(&token, romanian_company("RON")).await;
    let mut drafts = Vec::with_capacity(COUNT);
    for n in 0..COUNT {
        let lines = json!([line(&format!("Găzduire {n}"), 1_000 + n as i64, "RON", "1")]);
        drafts.push(billing.draft(&tenant, "invoice", "RON", lines).await);
    }
    billing.halt().await;

    // All at once through a child berth serve, killed while they run.
    let (mut child, base) = serve(&billing).await;
    let http = reqwest::Client::new();
    let operator = billing.operator.clone();
    let answered = {
        let (http, base, operator) = (&http, &base, &operator);
        let issuing = futures::stream::iter(drafts.iter())
            .map(|id| async move { issue(http, base, operator, id).await })
            .buffer_unordered(32);
        let kill_after = COUNT / 3;
        let mut answered = 0usize;
        let mut issuing = Box::pin(issuing);
        while let Some(outcome) = issuing.next().await {
            if outcome.is_some() {
                answered += 1;
            }
            if answered == kill_after {
                kill9(&mut child).await;
            }
        }
        answered
    };
    assert!(answered < COUNT, "the kill came too late to interrupt anything");

    // Started again: every draft issued (a retry of one already issued is refused as such).
    let (_child, base) = serve(&billing).await;
    for id in &drafts {
        issue(&http, &base, &operator, id).await.expect("the restarted server answers");
    }
    let issued_events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'invoice' AND event_type = 'InvoiceIssued'",
    )
    .fetch_one(&billing.env.pool)
    .await
    .unwrap();
    assert_eq!(issued_events, COUNT as i64, "every draft issued exactly once");
    let pool = &billing.env.pool;
    let numbers = || async move {
        sqlx::query_scalar::<_, String>("SELECT number FROM proj_invoices.invoices WHERE number IS NOT NULL")
            .fetch_all(pool)
            .await
            .unwrap_or_default()
    };
    assert!(eventually(Duration::from_secs(30), || async { numbers().await.len() == COUNT }).await);
    let numbers = numbers().await;
    assert_eq!(numbers.len(), COUNT, "every draft issued exactly once");
    let distinct: BTreeSet<&String> = numbers.iter().collect();
    let expected: BTreeSet<String> = (1..=COUNT).map(|n| format!("BRT{n:06}")).collect();
    assert_eq!(distinct.len(), COUNT, "a number was used twice");
    assert_eq!(distinct.into_iter().cloned().collect::<BTreeSet<_>>(), expected, "numbers are 1..{COUNT}");
    billing.stop().await;
}
