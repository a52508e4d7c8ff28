//! Documents through the API: an issued invoice refuses every change, naming why; a credit
//! note for more than what remains is 422; the PDF opens with `pdftotext` and shows its
//! number, totals and VAT; the e-Factura XML served passes the official checks.

use std::path::PathBuf;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{line, romanian_company, Billing};

/// The e-Factura kit's `validate`: `BERTH_EFACTURA_KIT`, by default `<repo>/../shared/efactura`.
fn kit() -> PathBuf {
    let kit = match std::env::var_os("BERTH_EFACTURA_KIT") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/efactura"),
    };
    let script = kit.join("validate");
    assert!(
        script.is_file(),
        "the e-Factura validation kit is missing: no {} (set BERTH_EFACTURA_KIT to the folder that holds `validate`)",
        script.display()
    );
    script
}

/// An issued invoice for a Romanian company: 2 × 100.00 RON and 1 × 49.99 RON at 21%.
async fn issued(billing: &Billing) -> (String, String, Value) {
    let (tenant, token) = billing.register("Documents").await;
    billing.profile(&token, romanian_company("RON")).await;
    let lines = json!([line("Găzduire Pro", 10_000, "RON", "2"), line("Domeniu .ro", 4_999, "RON", "1")]);
    let id = billing.draft(&tenant, "invoice", "RON", lines).await;
    let (status, answer) = billing.issue(&id, json!({})).await;
    assert_eq!(status, 202, "{answer}");
    (id, token, answer)
}

fn refused_as_issued(what: &str, (status, body): &(StatusCode, Value)) {
    assert_eq!(*status, StatusCode::CONFLICT, "{what}: {body}");
    assert_eq!(body["type"], "https://berth.dev/problems/invoice-issued", "{what}: {body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("issued")), "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_invoice_refuses_every_change_naming_why() {
    let billing = Billing::start().await;
    let (id, _, _) = issued(&billing).await;
    // The document's own events: the sagas go on with their work (its collection, its mail).
    let own = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM events WHERE aggregate_type = 'invoice' AND aggregate_id = $1",
        )
        .bind(&id)
        .fetch_one(&billing.env.pool)
        .await
        .unwrap()
    };
    let before = own().await;
    let ops = &billing.operator;
    let add = billing.post(&format!("/v1/invoices/{id}/lines"), ops, line("Extra", 100, "RON", "1")).await;
    refused_as_issued("a new line", &add);
    let remove = billing.send(Method::DELETE, &format!("/v1/invoices/{id}/lines/1"), ops, None).await;
    refused_as_issued("removing a line", &remove);
    let notes = billing
        .send(Method::PUT, &format!("/v1/invoices/{id}/notes"), ops, Some(json!({"notes": ["x"]})))
        .await;
    refused_as_issued("notes", &notes);
    refused_as_issued(
        "discarding",
        &billing.send(Method::DELETE, &format!("/v1/invoices/{id}"), ops, None).await,
    );
    refused_as_issued("issuing again", &billing.issue(&id, json!({})).await);
    assert_eq!(own().await, before, "nothing was appended to the document");
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credit_note_for_more_than_what_remains_is_422_and_takes_no_number() {
    let billing = Billing::start().await;
    let (id, token, _) = issued(&billing).await;
    let ops = &billing.operator;
    // 100.00 of the 249.99 credited; 149.99 remain.
    let partial = json!({"lines": [line("Găzduire Pro", 10_000, "RON", "1")], "notes": ["one month back"]});
    let (status, credited) = billing.post(&format!("/v1/invoices/{id}/credit-notes"), ops, partial).await;
    assert_eq!(status, 202, "{credited}");
    assert_eq!(credited["number"], "BRTCN000001", "{credited}");
    // 150.00 more is 0.01 too much.
    let too_much = json!({"lines": [line("Găzduire Pro", 15_000, "RON", "1")]});
    let (status, refused) = billing.post(&format!("/v1/invoices/{id}/credit-notes"), ops, too_much).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused["detail"].as_str().is_some_and(|d| d.contains("remain")), "{refused}");
    // The rest, exactly, goes through, and takes the next number: the refusal took none.
    let rest =
        json!({"lines": [line("Găzduire Pro", 10_000, "RON", "1"), line("Domeniu .ro", 4_999, "RON", "1")]});
    let (status, credited) = billing.post(&format!("/v1/invoices/{id}/credit-notes"), ops, rest).await;
    assert_eq!(status, 202, "{credited}");
    assert_eq!(credited["number"], "BRTCN000002", "{credited}");
    // What credit notes took off counts with VAT: all of 302.49.
    let invoice = billing
        .until(&format!("/v1/invoices/{id}"), &token, "fully credited", |d| d["credited_minor"] == 30_249)
        .await;
    assert_eq!(invoice["number"], "BRT000001");
    billing.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pdf_and_the_e_factura_xml_served_show_the_invoice_and_pass_the_checks() {
    let script = kit();
    let billing = Billing::start().await;
    let (id, token, answer) = issued(&billing).await;
    billing.invoice(&id, &token, &answer["version"]).await;
    let dir = std::env::temp_dir().join(format!("berth-http-documents-{}", billing.env.db_name));
    std::fs::create_dir_all(&dir).unwrap();

    let pdf = billing
        .http
        .get(format!("{}/v1/invoices/{id}/pdf", billing.query))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let file = dir.join("invoice.pdf");
    std::fs::write(&file, pdf.bytes().await.unwrap()).unwrap();
    let text =
        Command::new("pdftotext").args(["-layout"]).arg(&file).arg("-").output().expect("pdftotext runs");
    assert!(text.status.success(), "pdftotext: {}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8_lossy(&text.stdout);
    // 249.99 RON; VAT 21% of it, 52.4979 → 52.50; 302.49 in all.
    for shown in ["BRT000001", "RO18547290", "RO14399840", "249,99", "52,50", "302,49", "21"] {
        assert!(text.contains(shown), "the PDF does not show {shown}:\n{text}");
    }

    let xml = billing
        .http
        .get(format!("{}/v1/invoices/{id}/efactura.xml", billing.query))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 200);
    let file = dir.join("invoice.xml");
    std::fs::write(&file, xml.bytes().await.unwrap()).unwrap();
    let output =
        Command::new(&script).arg(&file).output().unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "e-Factura validation failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
    billing.stop().await;
}
