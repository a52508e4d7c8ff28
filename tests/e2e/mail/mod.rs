//! Outgoing mail end to end, against the local SMTP sink (deploy/peers.d/smtp_sink.py) and
//! real PostgreSQL and NATS: the outbox's idempotency, delivery while the server is away,
//! giving up, two sagas processes sharing one outbox, and certificate expiry notices on a
//! test clock. (The invoice mail is with the billing tests.) The sink is shared with other
//! tests and other work on this machine: every test reads only the mail sent to addresses of
//! its own, and never deletes anything.

mod backups;
mod certificates;
mod outbox;
mod startup;

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use crate::common::eventually;
pub use crate::common::sink_address;

fn api_url() -> String {
    std::env::var("BERTH_DEV_SMTP_API_URL").unwrap_or_else(|_| "http://127.0.0.1:58025".to_owned())
}

/// An address no other test sends to.
pub fn unique_address(tag: &str) -> String {
    format!("{tag}-{}@mail.test", Uuid::now_v7().simple())
}

/// Every message the sink holds, oldest first (other tests' too: filter by recipient).
async fn all_messages() -> Vec<Value> {
    reqwest::get(format!("{}/messages", api_url()))
        .await
        .expect("the SMTP sink's API (deploy/peers up)")
        .json()
        .await
        .expect("the sink's message list")
}

fn sent_to(message: &Value, address: &str) -> bool {
    message["envelope_to"].as_array().is_some_and(|to| to.iter().any(|t| t == address))
}

/// The messages the sink holds for `address` (an envelope recipient), oldest first.
pub async fn messages_to(address: &str) -> Vec<Value> {
    all_messages().await.into_iter().filter(|m| sent_to(m, address)).collect()
}

/// The messages the sink holds for each of `addresses`, from one look.
pub async fn messages_to_each(addresses: &[String]) -> Vec<Vec<Value>> {
    let all = all_messages().await;
    addresses.iter().map(|a| all.iter().filter(|m| sent_to(m, a)).cloned().collect()).collect()
}

/// Waits until the sink holds at least `count` messages for `address`; them.
pub async fn wait_for_messages(address: &str, count: usize, within: Duration) -> Vec<Value> {
    let arrived = eventually(within, || async { messages_to(address).await.len() >= count }).await;
    let messages = messages_to(address).await;
    assert!(arrived, "{} of {count} messages to {address} within {within:?}", messages.len());
    messages
}

/// The message `id` exactly as the sink received it.
pub async fn raw_message(id: &str) -> String {
    reqwest::get(format!("{}/messages/{id}", api_url())).await.unwrap().text().await.unwrap()
}

/// The content of the attachment `filename` in a raw message (base64, as lettre writes it).
pub fn attachment(raw: &str, filename: &str) -> Vec<u8> {
    use base64::Engine as _;
    let raw = raw.replace("\r\n", "\n");
    let part = raw
        .split("\n--")
        .find(|part| part.contains(&format!("filename=\"{filename}\"")))
        .unwrap_or_else(|| panic!("no attachment {filename} in\n{raw}"));
    let (_, body) = part.split_once("\n\n").expect("the attachment's headers end");
    let encoded: String = body.lines().take_while(|l| !l.is_empty()).collect();
    base64::engine::general_purpose::STANDARD.decode(encoded.trim()).expect("base64")
}
