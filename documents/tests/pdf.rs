//! Every document renders as a PDF whose text `pdftotext` can read back, diacritics
//! included: the number, the parties, each line, the VAT per rate, the totals and the legal
//! mentions.

mod common;

use std::path::Path;
use std::process::Command;

use berth_documents::pdf::{PdfError, PdfRenderer};

/// Renders `name`, writes it to a temporary folder and returns what `pdftotext` reads.
fn text_of(name: &str) -> String {
    let renderer = PdfRenderer::with_dejavu().unwrap_or_else(|e| panic!("{e}"));
    let pdf = renderer.render(&common::document(name)).unwrap();
    let dir = std::env::temp_dir().join(format!("berth-pdf-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.pdf"));
    std::fs::write(&file, &pdf).unwrap();
    let output = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("pdftotext could not run ({e}); install poppler-utils"));
    assert!(
        output.status.success(),
        "pdftotext failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
    String::from_utf8(output.stdout).unwrap()
}

fn assert_has(text: &str, wanted: &[&str]) {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for w in wanted {
        assert!(flat.contains(w), "`{w}` not found in the PDF text:\n{text}");
    }
}

#[test]
fn romanian_b2b_invoice_shows_every_mention() {
    // Hosting 149.99 + backup 2 × 25.50 = 51.00: net 200.99; VAT 21% = 42.2079 → 42.21; 243.20.
    let text = text_of("ro-b2b");
    assert_has(
        &text,
        &[
            "Factură / Invoice",
            "Nr. BRT000123",
            "Seria BRT nr. 000123",
            "Data emiterii / Issue date: 01.10.2025",
            "Data livrării / Date of supply: 30.09.2025",
            "Data scadenței / Due date: 15.10.2025",
            "Berth Găzduire & Servicii SRL",
            "Cod TVA / VAT ID: RO18547290",
            "J12/3456/2020",
            "Țesătoria Ștefănescu & Fiii SRL",
            "Cod TVA / VAT ID: RO14399840",
            "SECTOR3",
            "Găzduire web Business — septembrie 2025",
            "Backup zilnic & restaurare",
            "TVA 21% (S) 200,99 42,21",
            "Total fără TVA / Total excluding VAT 200,99 RON",
            "Total TVA / Total VAT 42,21 RON",
            "Total de plată / Amount due 243,20 RON",
            "IBAN: RO49 AAAA 1B31 0075 9384 0000",
        ],
    );
}

#[test]
fn a_person_with_diacritics_in_the_name_survives_text_extraction() {
    let text = text_of("ro-b2c");
    assert_has(&text, &["Ioana-Ștefania Țîrcă-Mânăstireanu", "Str. Lăpușneanu 5", "Iași", "Nr. BRT000124"]);
}

#[test]
fn reverse_charge_shows_both_vat_ids_the_mention_and_the_vat_in_lei() {
    let text = text_of("eu-reverse-charge");
    assert_has(
        &text,
        &[
            "Cod TVA / VAT ID: RO18547290",
            "Cod TVA / VAT ID: DE123456789",
            "Müller <Hosting> GmbH",
            "Taxare inversă / Reverse charge (art. 196 Directiva 2006/112/CE)",
            "Taxare inversă / Reverse charge (AE) 0% 250,00 0,00",
            "Total de plată / Amount due 250,00 EUR",
            "TVA în lei / VAT in RON: 0,00 RON",
        ],
    );
}

#[test]
fn multi_rate_invoice_shows_vat_per_rate() {
    // 19%: 3 × 10.02 + 10.02 = 40.08 → 7.6152 → 7.62; 9%: 2 × 4.05 = 8.10 → 0.729 → 0.73;
    // 5%: 3 × 0.90 = 2.70 → 0.135 → 0.14. Net 50.88, VAT 8.49, total 59.37.
    let text = text_of("multi-rate");
    assert_has(
        &text,
        &["TVA 5% (S) 2,70 0,14", "TVA 9% (S) 8,10 0,73", "TVA 19% (S) 40,08 7,62", "Amount due 59,37 RON"],
    );
}

#[test]
fn coupon_and_line_discount_are_shown() {
    // Backup 51.00 − 15% = 7.65 → 43.35; net 193.34; coupon 10% = 19.334 → 19.33;
    // taxable 174.01; VAT 36.5421 → 36.54; total 210.55.
    let text = text_of("coupon");
    assert_has(
        &text,
        &[
            "Reducere / Discount: −7,65 din / of 51,00",
            "Cupon BUNVENIT10 (−10%)",
            "−19,33",
            "TVA 21% (S) 174,01 36,54",
            "Amount due 210,55 RON",
        ],
    );
}

#[test]
fn credit_note_names_the_invoice_it_corrects() {
    // 55.00 at 21% = 11.55; total 66.55.
    let text = text_of("credit-note");
    assert_has(
        &text,
        &[
            "Notă de credit / Credit note",
            "Nr. BRT000130",
            "Corectează factura / Corrects invoice: BRT000123 din 01.10.2025",
            "TVA 21% (S) 55,00 11,55",
            "Amount due 66,55 RON",
        ],
    );
}

#[test]
fn outside_eu_and_oss_documents_show_their_treatment() {
    let text = text_of("outside-eu");
    assert_has(&text, &["Neimpozabil în UE / Outside the EU (G) 0% 120,00 0,00", "Amount due 120,00 USD"]);
    // 9.99 EUR at the French 20%: 1.998 → 2.00; total 11.99.
    let text = text_of("eu-consumer-oss");
    assert_has(&text, &["Élodie Lefèvre", "TVA 20% (S) 9,99 2,00", "Amount due 11,99 EUR"]);
}

#[test]
fn card_payment_and_proforma_are_labelled() {
    assert_has(&text_of("card-payment"), &["Plată cu cardul / Payment by card", "VISA **** 4242"]);
    assert_has(
        &text_of("proforma"),
        &["Factură proformă / Proforma invoice", "Nr. PRO000001", "not a tax invoice"],
    );
}

#[test]
fn a_long_invoice_runs_over_pages_with_numbered_footers() {
    // 70 × 149.99 = 10,499.30; VAT 21% = 2,204.853 → 2,204.85; total 12,704.15.
    let text = text_of("many-lines");
    // pdftotext ends every page with a form feed.
    let pages = text.matches('\u{c}').count();
    assert!(pages >= 2, "{text}");
    assert_has(
        &text,
        &[
            "Găzduire site nr. 70",
            &format!("Pagina 1 din {pages} / Page 1 of {pages}"),
            &format!("Pagina {pages} din {pages} / Page {pages} of {pages}"),
            "TVA 21% (S) 10.499,30 2.204,85",
            "Amount due 12.704,15 RON",
        ],
    );
    // The table header is repeated on every page that continues the lines.
    assert!(text.matches("Unit price").count() >= pages - 1, "{text}");
}

#[test]
fn a_missing_font_is_an_error_naming_its_path() {
    let missing = Path::new("/nonexistent/fonts/NoSuchFont.ttf");
    match PdfRenderer::from_font_files(missing, missing) {
        Err(error @ PdfError::FontMissing { .. }) => {
            assert!(error.to_string().contains("/nonexistent/fonts/NoSuchFont.ttf"), "{error}");
        }
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("a missing font must be an error"),
    }
}

#[test]
fn the_fixtures_cover_every_kind() {
    assert_eq!(common::documents().len(), 11);
}
