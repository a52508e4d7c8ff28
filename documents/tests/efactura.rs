//! Every fiscal document Berth issues passes the official e-Factura validation kit: the
//! UBL 2.1 schemas, the EN 16931 rules and the CIUS-RO rules, all three. The kit is found
//! through `BERTH_EFACTURA_KIT` (default `<repo>/../shared/efactura`); a missing kit fails
//! the tests, it never skips them.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use berth_documents::{render_ubl, UblError};

/// The validator installs its Python environment on first use; one run at a time keeps two
/// first runs from installing into the same place at once.
static VALIDATOR: Mutex<()> = Mutex::new(());

/// The kit folder named by `variable` (the value of `BERTH_EFACTURA_KIT`), or the default
/// beside the repository; an error naming the variable and the path when it has no validator.
fn kit_at(variable: Option<std::ffi::OsString>) -> Result<PathBuf, String> {
    let kit = match variable {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/efactura"),
    };
    let script = kit.join("validate");
    if script.is_file() {
        Ok(kit)
    } else {
        Err(format!(
            "the e-Factura validation kit is missing: no {} (set BERTH_EFACTURA_KIT to the folder that holds `validate`)",
            script.display()
        ))
    }
}

fn kit() -> PathBuf {
    kit_at(std::env::var_os("BERTH_EFACTURA_KIT")).unwrap_or_else(|message| panic!("{message}"))
}

/// Writes the document's UBL to a temporary folder and runs the full validator on it once.
fn assert_valid(name: &str) {
    let xml = render_ubl(&common::document(name)).expect("a fiscal document renders");
    let dir = std::env::temp_dir().join(format!("berth-efactura-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.xml"));
    std::fs::write(&file, &xml).unwrap();
    let script = kit().join("validate");
    let output = {
        let _turn = VALIDATOR.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Command::new(&script)
            .arg(&file)
            .output()
            .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()))
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{name} failed e-Factura validation ({}):\n{stdout}\n{stderr}\n--- {} ---\n{xml}",
        output.status,
        file.display()
    );
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn romanian_b2b_invoice_is_valid() {
    assert_valid("ro-b2b");
}

#[test]
fn romanian_b2c_invoice_to_a_person_without_ids_is_valid() {
    assert_valid("ro-b2c");
}

#[test]
fn eu_reverse_charge_invoice_is_valid() {
    assert_valid("eu-reverse-charge");
}

#[test]
fn eu_consumer_oss_invoice_is_valid() {
    assert_valid("eu-consumer-oss");
}

#[test]
fn invoice_to_a_buyer_outside_the_eu_is_valid() {
    assert_valid("outside-eu");
}

#[test]
fn multi_rate_invoice_is_valid() {
    assert_valid("multi-rate");
}

#[test]
fn invoice_with_a_coupon_and_a_line_discount_is_valid() {
    assert_valid("coupon");
}

#[test]
fn credit_note_is_valid() {
    assert_valid("credit-note");
}

#[test]
fn card_paid_invoice_is_valid() {
    assert_valid("card-payment");
}

#[test]
fn long_invoice_is_valid() {
    assert_valid("many-lines");
}

#[test]
fn a_proforma_has_no_e_factura_form() {
    assert_eq!(render_ubl(&common::document("proforma")), Err(UblError::NotFiscal));
}

#[test]
fn a_credit_note_refers_to_the_invoice_it_corrects() {
    let xml = render_ubl(&common::document("credit-note")).unwrap();
    assert!(xml.contains("<CreditNote xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2\""));
    assert!(xml.contains("<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>"));
    let reference = "<cac:InvoiceDocumentReference>\n      <cbc:ID>BRT000123</cbc:ID>\n      <cbc:IssueDate>2025-10-01</cbc:IssueDate>";
    assert!(xml.contains(reference), "{xml}");
}

#[test]
fn a_missing_kit_fails_naming_the_variable_and_the_path() {
    let message = kit_at(Some("/nonexistent/efactura-kit".into())).unwrap_err();
    assert!(message.contains("BERTH_EFACTURA_KIT"), "{message}");
    assert!(message.contains("/nonexistent/efactura-kit/validate"), "{message}");
}

#[test]
fn text_is_escaped() {
    let xml = render_ubl(&common::document("eu-reverse-charge")).unwrap();
    assert!(xml.contains("<cbc:RegistrationName>Müller &lt;Hosting&gt; GmbH</cbc:RegistrationName>"));
    let xml = render_ubl(&common::document("ro-b2b")).unwrap();
    assert!(xml.contains("Țesătoria Ștefănescu &amp; Fiii SRL"));
}
