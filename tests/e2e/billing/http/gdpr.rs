//! GDPR: a person erased by crypto-shredding. Their email is nowhere in a `pg_dump` of the
//! whole database, the tenant's export or the SSE replay; the organization's issued invoice
//! still renders with the buyer as it was, until the retention timer (moved by the test
//! clock) shreds that too; `berth audit verify` passes throughout. Before that, the person
//! downloads their data; bad requests are problem+json naming what is wrong.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::macros::datetime;
use uuid::Uuid;

use super::{line, romanian_company, Billing};
use crate::common::eventually;

/// `berth audit verify` on the billing world: whether it passed, and its report.
async fn audit_verify(billing: &Billing) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["audit", "verify"])
        .envs(super::variables(&billing.env))
        .env("BERTH_LOG__FILTER", "error")
        .output()
        .await
        .expect("run berth audit verify");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// `pg_dump` of the whole test database, as text.
fn pg_dump(billing: &Billing) -> String {
    let binary = [
        "/usr/lib/postgresql/15/bin/pg_dump",
        "/usr/lib/postgresql/16/bin/pg_dump",
        "/usr/lib/postgresql/17/bin/pg_dump",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .unwrap_or("pg_dump");
    let output =
        Command::new(binary).arg("--no-owner").arg(&billing.env.db_url).output().expect("pg_dump runs");
    assert!(output.status.success(), "pg_dump: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A body read as text from the query API.
async fn text(billing: &Billing, path: &str, token: &str) -> (StatusCode, String) {
    let response =
        billing.http.get(format!("{}{path}", billing.query)).bearer_auth(token).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

/// The text of the invoice's PDF as `pdftotext` reads it.
async fn pdf_text(billing: &Billing, id: &str, token: &str) -> String {
    let response = billing
        .http
        .get(format!("{}/v1/invoices/{id}/pdf", billing.query))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the PDF renders");
    let file =
        std::env::temp_dir().join(format!("berth-gdpr-{}-{}.pdf", billing.env.db_name, Uuid::now_v7()));
    std::fs::write(&file, response.bytes().await.unwrap()).unwrap();
    let output = Command::new("pdftotext").args(["-layout"]).arg(&file).arg("-").output().expect("pdftotext");
    std::fs::remove_file(&file).ok();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Reads the tenant's SSE stream from its start for `wait`: every `data` line.
async fn sse_replay(billing: &Billing, token: &str, wait: Duration) -> String {
    use futures::StreamExt;
    let response = billing
        .http
        .get(format!("{}/v1/events/stream", billing.query))
        .bearer_auth(token)
        .header("Last-Event-ID", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    let _ = tokio::time::timeout(wait, async {
        while let Some(Ok(chunk)) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    seen
}

fn problem(what: &str, (status, body): &(StatusCode, Value), code: StatusCode, names: &str) {
    assert_eq!(*status, code, "{what}: {body}");
    let text = body.to_string();
    assert!(text.contains(names), "{what}: the problem does not name `{names}`: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_erased_person_is_nowhere_and_the_invoice_keeps_its_buyer_until_retention_ends() {
    let billing = Billing::start().await;
    let (tenant, owner) = billing.register("Țesătoria").await;
    // A colleague joins; the organization's billing email is theirs.
    let email = format!("Ana.Popescu-{}@tesatoria.test", Uuid::now_v7().simple());
    let (status, invited) =
        billing.post("/v1/invitations", &owner, json!({"email": email, "role": "admin"})).await;
    assert_eq!(status, 202, "{invited}");
    let accepted = billing
        .http
        .post(format!("{}/v1/invitations/accept", billing.command))
        .json(&json!({"token": invited["token"], "email": email, "password": "another long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let joined: Value = accepted.json().await.unwrap();
    let (person, person_token) =
        (joined["user_id"].as_str().unwrap().to_owned(), joined["token"].as_str().unwrap().to_owned());
    let mut profile = romanian_company("RON");
    profile["email"] = json!(email);
    billing.profile(&owner, profile).await;
    let lines = json!([line("Găzduire Pro", 10_000, "RON", "1")]);
    let invoice = billing.draft(&tenant, "invoice", "RON", lines).await;
    let (status, issued) = billing.issue(&invoice, json!({})).await;
    assert_eq!(status, 202, "{issued}");
    let shown = billing.invoice(&invoice, &owner, &issued["version"]).await;
    assert_eq!(shown["document"]["buyer"]["email"], email.as_str(), "{shown}");

    // The log holds no plain address: only sealed envelopes.
    let plain: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE payload::text ILIKE '%' || $1 || '%'")
            .bind(&email)
            .fetch_one(&billing.env.pool)
            .await
            .unwrap();
    assert_eq!(plain, 0, "the email is in the log in plain text");

    // The person downloads their data.
    let (status, export) = billing.get("/v1/me/export", &person_token).await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["profile"]["email"], email.as_str(), "{export}");
    assert_eq!(export["profile"]["user_id"], person.as_str());
    assert!(
        export["memberships"].as_array().unwrap().iter().any(|m| m["tenant_id"] == tenant.as_str()),
        "{export}"
    );
    assert!(!export["credentials"].as_array().unwrap().is_empty(), "{export}");
    assert!(export["invitations"].to_string().contains(&email), "{export}");
    let (status, refused) = billing.get("/v1/me/export", &billing.operator).await;
    assert_eq!(status, 403, "an operator token is no person: {refused}");

    // Bad input, each named.
    let erase = |id: &str| format!("/v1/ops/people/{id}/erase");
    let unknown = Uuid::now_v7().to_string();
    problem(
        "an unknown person",
        &billing.post(&erase(&unknown), &billing.operator, json!({"reason": "ticket 1"})).await,
        StatusCode::NOT_FOUND,
        "person-unknown",
    );
    problem(
        "no reason",
        &billing.post(&erase(&person), &billing.operator, json!({})).await,
        StatusCode::BAD_REQUEST,
        "reason",
    );
    problem(
        "a blank reason",
        &billing.post(&erase(&person), &billing.operator, json!({"reason": "  "})).await,
        StatusCode::BAD_REQUEST,
        "reason",
    );
    let (_, me) = billing.get("/v1/me/export", &person_token).await;
    assert_eq!(me["profile"]["email"], email.as_str());
    let owner_id: String = sqlx::query_scalar(
        "SELECT user_id::text FROM memberships WHERE tenant_id = $1::uuid AND role = 'owner'",
    )
    .bind(&tenant)
    .fetch_one(&billing.env.pool)
    .await
    .unwrap();
    problem(
        "the sole owner",
        &billing.post(&erase(&owner_id), &billing.operator, json!({"reason": "ticket 2"})).await,
        StatusCode::CONFLICT,
        "sole-owner",
    );
    problem(
        "a tenant's token",
        &billing.post(&erase(&person), &owner, json!({"reason": "ticket 3"})).await,
        StatusCode::FORBIDDEN,
        "operator",
    );

    // Erased.
    let (status, erased) = billing
        .post(&erase(&person), &billing.operator, json!({"reason": "GDPR art. 17 request #114"}))
        .await;
    assert_eq!(status, 200, "{erased}");
    problem(
        "erased twice",
        &billing.post(&erase(&person), &billing.operator, json!({"reason": "again"})).await,
        StatusCode::CONFLICT,
        "already-erased",
    );
    // The person's session no longer works.
    let (status, _) = billing.get("/v1/me/export", &person_token).await;
    assert_eq!(status, 401);
    // Wait for every view to take in the erasure, then look everywhere.
    let caught_up = eventually(Duration::from_secs(30), || async {
        let behind: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM checkpoints c WHERE c.name LIKE 'projection:%'
                AND c.global_position < (SELECT max(global_position) FROM events)",
        )
        .fetch_one(&billing.env.pool)
        .await
        .unwrap();
        behind == 0
    })
    .await;
    assert!(caught_up, "the views did not catch up");
    let lower = email.to_lowercase();
    // A view's batch that opened the email just before the erasure may commit just after the
    // scrub; what counts is that nothing keeps it once the views are past the erasure.
    let scrubbed =
        eventually(Duration::from_secs(30), || async { !pg_dump(&billing).to_lowercase().contains(&lower) })
            .await;
    assert!(scrubbed, "pg_dump still holds the email");
    let dump = pg_dump(&billing);
    assert!(!dump.to_lowercase().contains(&lower), "pg_dump still holds the email");
    assert!(dump.contains("[erased]"));
    let (status, exported) = text(&billing, "/v1/exports/events", &owner).await;
    assert_eq!(status, 200);
    assert!(!exported.to_lowercase().contains(&lower), "the export still holds the email");
    assert!(exported.contains("[erased]"), "the export shows the erased fields");
    let replayed = sse_replay(&billing, &owner, Duration::from_secs(4)).await;
    assert!(replayed.contains("InvoiceIssued"), "the SSE replay replayed the log: {replayed}");
    assert!(!replayed.to_lowercase().contains(&lower), "the SSE replay still holds the email");
    let (status, tenant_view) = billing.get("/v1/members", &owner).await;
    assert_eq!(status, 200, "{tenant_view}");
    assert!(!tenant_view.to_string().to_lowercase().contains(&lower), "{tenant_view}");

    // The issued invoice keeps its buyer (under the retention key), minus the person's email.
    let shown = billing.read(&format!("/v1/invoices/{invoice}"), &owner).await;
    assert_eq!(shown["document"]["buyer"]["legal_name"], "Țesătoria Ștefănescu SRL", "{shown}");
    assert_eq!(shown["document"]["buyer"]["email"], "[erased]", "{shown}");
    let pdf = pdf_text(&billing, &invoice, &owner).await;
    assert!(pdf.contains("Ștefănescu") || pdf.contains("Stefanescu"), "the PDF shows the buyer:\n{pdf}");
    let (status, xml) = text(&billing, &format!("/v1/invoices/{invoice}/efactura.xml"), &owner).await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("Țesătoria Ștefănescu SRL"), "{xml}");
    let (ok, report) = audit_verify(&billing).await;
    assert!(ok, "audit verify after the erasure:\n{report}");

    // Ten years on, the retention timer shreds the buyer too.
    billing.clock_to(datetime!(2040-09-02 09:00 UTC));
    let shown = billing
        .until(&format!("/v1/invoices/{invoice}"), &owner, "the buyer shredded", |v| {
            v["document"]["buyer"]["legal_name"] == "[erased]"
        })
        .await;
    assert_eq!(shown["document"]["buyer"]["address"]["lines"][0], "[erased]", "{shown}");
    assert_eq!(shown["document"]["number"], issued_number(&shown), "the rest of the document stays");
    let pdf = pdf_text(&billing, &invoice, &owner).await;
    assert!(
        !pdf.contains("Ștefănescu") && !pdf.contains("Unirii"),
        "the PDF no longer shows the buyer:\n{pdf}"
    );
    let retention: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM subject_keys WHERE subject = 'retention:invoice:' || $1 AND sealed_key IS NULL",
    )
    .bind(&invoice)
    .fetch_one(&billing.env.pool)
    .await
    .unwrap();
    assert_eq!(retention, 1, "the retention key is destroyed");
    let caught_up = eventually(Duration::from_secs(30), || async {
        let behind: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM checkpoints c WHERE c.name LIKE 'projection:%'
                AND c.global_position < (SELECT max(global_position) FROM events)",
        )
        .fetch_one(&billing.env.pool)
        .await
        .unwrap();
        behind == 0
    })
    .await;
    assert!(caught_up);
    let (ok, report) = audit_verify(&billing).await;
    assert!(ok, "audit verify after the retention ended:\n{report}");
    billing.stop().await;
}

fn issued_number(shown: &Value) -> Value {
    shown["document"]["number"].clone()
}

/// `berth gdpr encrypt-existing` on the billing world: whether it passed, and its output.
async fn encrypt_existing(billing: &Billing) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["gdpr", "encrypt-existing", "--batch", "7"])
        .envs(super::variables(&billing.env))
        .env("BERTH_LOG__FILTER", "error")
        .output()
        .await
        .expect("run berth gdpr encrypt-existing");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_written_before_sealing_are_sealed_once_without_rewriting_history() {
    use berth_domain::email::Email;
    use berth_domain::ids::{TenantId, UserId};
    use berth_domain::name::DisplayName;
    use berth_domain::organization::{Organization, OrganizationCommand};
    use berth_domain::user::{User, UserCommand};
    use berth_eventstore::metadata::CommandMetadata;

    let billing = Billing::start().await;
    // Written the way a build before sealing wrote them: through a store without keys.
    let legacy = billing.env.store();
    let email = format!("old-{}@legacy.test", Uuid::now_v7().simple());
    let (user, tenant) = (UserId::from_uuid(Uuid::now_v7()), TenantId::from_uuid(Uuid::now_v7()));
    let meta = CommandMetadata::new(None, "system:test");
    let address = Email::parse(&email).unwrap();
    legacy
        .execute::<User>(
            &user.to_string(),
            UserCommand::Register { user_id: user, email: address.clone() },
            &meta,
            Default::default(),
        )
        .await
        .unwrap();
    let register = OrganizationCommand::Register {
        tenant_id: tenant,
        name: DisplayName::parse("Legacy SRL").unwrap(),
        owner: user,
        owner_email: address,
    };
    legacy
        .execute::<Organization>(
            &tenant.to_string(),
            register,
            &CommandMetadata::new(None, "system:test"),
            Default::default(),
        )
        .await
        .unwrap();
    let plain = |pool: sqlx::PgPool, email: String| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE payload::text LIKE '%' || $1 || '%'")
            .bind(email)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(plain(billing.env.pool.clone(), email.clone()).await, 2, "the legacy events hold the address");
    let hashes = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, Vec<u8>>("SELECT hash FROM events ORDER BY global_position")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    let before = hashes(billing.env.pool.clone()).await;

    let (ok, output) = encrypt_existing(&billing).await;
    assert!(ok, "encrypt-existing: {output}");
    assert!(output.contains("sealed the personal data of"), "{output}");
    assert_eq!(
        plain(billing.env.pool.clone(), email.clone()).await,
        0,
        "the address is still plain in the log"
    );
    // History is as it was: every event, its position and its stored hash.
    let after = hashes(billing.env.pool.clone()).await;
    assert_eq!(&after[..before.len()], &before[..], "stored hashes changed");
    let attested: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'LegacyPayloadsSealed'")
            .fetch_one(&billing.env.pool)
            .await
            .unwrap();
    assert!(attested >= 1, "the log does not attest the re-encoding");
    // Read back through the keys, the address is there; the audit passes.
    let vault = berth_eventstore::vault::Vault::new(&billing.env.master_key).unwrap();
    let keyed = billing.env.store().with_keys(berth_eventstore::personal::Keys::new(
        billing.env.pool.clone(),
        vault,
        10,
    ));
    let loaded = keyed.load_full::<User>(&user.to_string()).await.unwrap();
    assert_eq!(loaded.aggregate.email().map(Email::as_str), Some(email.as_str()));
    let (ok, report) = audit_verify(&billing).await;
    assert!(ok, "audit verify after re-encoding:\n{report}");
    // Run again: nothing left to do.
    let (ok, output) = encrypt_existing(&billing).await;
    assert!(ok && output.contains("of 0 events"), "{output}");

    // A re-encoded payload changed by hand is still found.
    let edited: uuid::Uuid = sqlx::query_scalar(
        "UPDATE events SET payload = jsonb_set(payload, '{Registered,user_id}', to_jsonb($1::text))
          WHERE aggregate_type = 'user' AND aggregate_id = $2 RETURNING event_id",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(user.to_string())
    .fetch_one(&billing.env.pool)
    .await
    .unwrap();
    let (ok, report) = audit_verify(&billing).await;
    assert!(!ok && report.contains(&edited.to_string()), "the edit was not found:\n{report}");
    billing.stop().await;
}
