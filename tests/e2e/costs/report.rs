//! The monthly cost and capacity report: once a month has ended on the test clock, the
//! operators' address gets it once, as a PDF and two CSV files holding the month's tables.

use std::time::Duration;

use berth_domain::php::SiteKind;
use time::macros::datetime;

use super::fleet::{placed_site, ready_node, QUIET};
use crate::billing::http::{Billing, BERTH_TOML, START};
use crate::mail::{attachment, raw_message, unique_address, wait_for_messages};

/// A text attachment, as lettre writes it: base64, quoted-printable or as it is.
fn text_part(raw: &str, filename: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let part = raw
        .split("\n--")
        .find(|p| p.contains(&format!("filename=\"{filename}\"")))
        .unwrap_or_else(|| panic!("no {filename}"));
    let (headers, body) = part.split_once("\n\n").unwrap();
    let headers = headers.to_ascii_lowercase();
    if headers.contains("content-transfer-encoding: base64") {
        return String::from_utf8(attachment(&raw, filename)).unwrap();
    }
    let body = body.trim_end_matches('\n');
    if !headers.contains("quoted-printable") {
        return format!("{body}\n");
    }
    let joined = body.replace("=\n", "");
    let mut out = Vec::new();
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 3 <= bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    format!("{}\n", String::from_utf8(out).unwrap().trim_end_matches('\n'))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_ended_month_is_mailed_to_the_operators_once_as_pdf_and_csv() {
    // Arrange: a node at 40.00 EUR with a tenant's WordPress site; the clock in September 2030.
    let to = unique_address("costs");
    let toml = format!("{BERTH_TOML}\n[sagas.cost_report]\nto = [\"{to}\"]\ninterval_secs = 1\n");
    let billing = Billing::start_at(&toml, QUIET, START).await;
    let node = ready_node(&billing, "report-a", "fsn1", (4, 8192, 80), 4_000).await;
    let (tenant, _) = billing.register("Reported").await;
    placed_site(&billing.env.store(), tenant.parse().unwrap(), SiteKind::Wordpress, node).await;
    // August has ended: its report goes out at once (the fleet as it stands).
    let august = wait_for_messages(&to, 1, Duration::from_secs(60)).await;
    assert_eq!(august[0]["subject"], "Berth cost and capacity report, 2030-08", "{}", august[0]);

    // Act: September ends.
    billing.clock_to(datetime!(2030-10-01 00:00:05 UTC));

    // Assert: one more mail, for September, with the tables attached.
    let messages = wait_for_messages(&to, 2, Duration::from_secs(60)).await;
    let september = &messages[1];
    assert_eq!(september["subject"], "Berth cost and capacity report, 2030-09");
    let raw = raw_message(september["id"].as_str().unwrap()).await;
    let csv = text_part(&raw, "tenants-2030-09.csv");
    // (1/8 + 1/16 + 1/8) / 3 of 40.00 = 4.17; no revenue in the month.
    assert_eq!(csv, format!("tenant,plan,sites,compute,storage,bandwidth,cost,revenue,margin\n{tenant},starter,1,4.17,0.00,0.00,4.17,0.00,-4.17\n"));
    let capacity = text_part(&raw, "capacity-2030-09.csv");
    assert!(capacity.contains("fsn1,cpu,millicores,4000,500,3500,"), "{capacity}");
    let pdf = attachment(&raw, "costs-2030-09.pdf");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let dir = std::env::temp_dir().join(format!("berth-costs-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("report.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    std::fs::remove_dir_all(&dir).ok();
    let text = String::from_utf8_lossy(&text.stdout);
    for want in [
        "Berth cost and capacity report, 2030-09",
        "Cost by category",
        "compute",
        "40.00",
        "Margin by plan",
        "Capacity",
    ] {
        assert!(text.contains(want), "the PDF lacks {want:?}:\n{text}");
    }
    // One mail per month, whichever round got there: the month is the outbox key.
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM mail_outbox WHERE key LIKE 'cost-report:%' ORDER BY key")
            .fetch_all(&billing.env.pool)
            .await
            .unwrap();
    assert_eq!(keys, ["cost-report:2030-08", "cost-report:2030-09"]);
    billing.stop().await;
}
