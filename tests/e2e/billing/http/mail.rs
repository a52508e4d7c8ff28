//! The invoice mail: an issued invoice goes to the tenant's billing address once, with the
//! same PDF the query API serves attached, even when its event is delivered again.

use std::time::Duration;

use serde_json::json;

use super::{line, romanian_company, Billing, BERTH_TOML};
use crate::common::eventually;
use crate::mail::{attachment, messages_to, raw_message, unique_address, wait_for_messages};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_invoice_is_mailed_once_to_the_billing_address_with_its_pdf_even_when_delivered_again() {
    // Arrange: a tenant whose billing profile names an address of this test's own.
    let mut billing = Billing::start().await;
    let (tenant, token) = billing.register("Mailed").await;
    let address = unique_address("facturi");
    let mut profile = romanian_company("RON");
    profile["email"] = json!(address);
    billing.profile(&token, profile).await;
    let id =
        billing.draft(&tenant, "invoice", "RON", json!([line("Găzduire Pro", 10_000, "RON", "2")])).await;

    // Act
    let (status, answer) = billing.issue(&id, json!({})).await;
    assert_eq!(status, 202, "{answer}");

    // Assert: one mail, to the billing address, with the PDF the query API serves.
    let mails = wait_for_messages(&address, 1, Duration::from_secs(60)).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let number =
        billing.invoice(&id, &token, &answer["version"]).await["number"].as_str().unwrap().to_owned();
    let filename = format!("{number}.pdf");
    assert_eq!(mails[0]["subject"], format!("Invoice {number} from Berth Găzduire SRL"));
    assert_eq!(mails[0]["attachments"], json!([{"filename": filename, "content_type": "application/pdf"}]));
    let served = billing
        .http
        .get(format!("{}/v1/invoices/{id}/pdf", billing.query))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let attached = attachment(&raw_message(mails[0]["id"].as_str().unwrap()).await, &filename);
    assert!(attached.starts_with(b"%PDF-"), "not a PDF");
    assert_eq!(attached, served.to_vec(), "the attachment is the PDF the query API serves");

    // Delivered again: the saga forgets what it processed and its consumer starts over from
    // the stream's first event when Berth starts again.
    billing.halt().await;
    sqlx::query("DELETE FROM consumer_processed WHERE consumer = 'saga_invoice_mail'")
        .execute(&billing.env.pool)
        .await
        .unwrap();
    let stream = billing.env.jetstream.get_stream(&billing.env.stream.name).await.unwrap();
    stream.delete_consumer("saga_invoice_mail").await.unwrap();
    billing.restart_with(BERTH_TOML).await;
    let handled_again = eventually(Duration::from_secs(60), || async {
        let again: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM consumer_processed p JOIN events e ON e.event_id = p.event_id
              WHERE p.consumer = 'saga_invoice_mail' AND e.aggregate_id = $1 AND e.event_type = 'InvoiceIssued'",
        )
        .bind(&id)
        .fetch_one(&billing.env.pool)
        .await
        .unwrap();
        again == 1
    })
    .await;
    assert!(handled_again, "the issued event was not handled again");
    let queued: Vec<(String, String)> =
        sqlx::query_as("SELECT key, status FROM mail_outbox").fetch_all(&billing.env.pool).await.unwrap();
    assert_eq!(queued, [(format!("invoice-issued:{id}"), "sent".to_owned())]);
    assert_eq!(messages_to(&address).await.len(), 1, "mailed twice");
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoice_for_a_billing_profile_without_an_e_mail_goes_to_the_owners() {
    // Arrange: a tenant registered by an owner of this test's own, whose profile has no e-mail.
    let billing = Billing::start().await;
    let owner = unique_address("owner");
    let body = json!({"name": "No e-mail", "email": owner, "password": "a long enough password"});
    let response =
        billing.http.post(format!("{}/v1/auth/register", billing.command)).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let registered: serde_json::Value = response.json().await.unwrap();
    let (tenant, token) = (registered["tenant_id"].as_str().unwrap(), registered["token"].as_str().unwrap());
    let mut profile = romanian_company("RON");
    profile.as_object_mut().unwrap().remove("email");
    billing.profile(token, profile).await;
    let id = billing.draft(tenant, "invoice", "RON", json!([line("Găzduire Pro", 10_000, "RON", "1")])).await;

    // Act
    let (status, answer) = billing.issue(&id, json!({})).await;
    assert_eq!(status, 202, "{answer}");

    // Assert
    let mails = wait_for_messages(&owner, 1, Duration::from_secs(60)).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0]["attachments"][0]["content_type"], "application/pdf");
    billing.stop().await;
}
