//! Below the lines: coupon allowances, VAT per rate, totals, the VAT in lei, legal mentions
//! and notes, and how to pay.

use berth_domain::billing::{IssuedDocument, PaymentMeans, VatCategory};
use berth_domain::money::Money;

use super::canvas::{Canvas, Face, MARGIN, PAGE_WIDTH};
use super::items::rate_ro;
use crate::format::{amount_ro, date_ro};

const SIZE: f32 = 9.0;
const LEADING: f32 = 12.5;
const RIGHT: f32 = PAGE_WIDTH - MARGIN;
const LABEL_X: f32 = 300.0;

/// Draws everything after the lines table.
pub(super) fn draw(canvas: &mut Canvas<'_>, document: &IssuedDocument) {
    let currency = document.currency();
    if !document.allowances().is_empty() {
        canvas.ensure(LEADING * (document.allowances().len() as f32 + 1.0));
        for allowance in document.allowances() {
            let tax = allowance.tax();
            let text = format!(
                "Reducere / Discount: {} (TVA / VAT {} {}%)",
                allowance.reason(),
                tax.category().code(),
                rate_ro(tax.rate().to_string())
            );
            canvas.text(Face::Regular, SIZE, MARGIN, canvas.y + SIZE, &text);
            canvas.text_right(
                Face::Regular,
                SIZE,
                RIGHT,
                canvas.y + SIZE,
                &format!("−{}", amount_ro(allowance.amount())),
            );
            canvas.y += LEADING;
        }
        canvas.y += 6.0;
    }
    vat_breakdown(canvas, document);
    totals(canvas, document, currency.as_str());
    mentions(canvas, document);
    payment(canvas, document);
}

fn vat_breakdown(canvas: &mut Canvas<'_>, document: &IssuedDocument) {
    let rows = document.vat_breakdown();
    canvas.ensure(LEADING * (rows.len() as f32 + 2.0) + 10.0);
    canvas.shade(MARGIN, canvas.y, RIGHT - MARGIN, 14.0);
    let y = canvas.y + 10.0;
    canvas.text(Face::Bold, SIZE, MARGIN + 2.0, y, "Cota TVA / VAT rate");
    canvas.text_right(Face::Bold, SIZE, 420.0, y, "Bază / Taxable amount");
    canvas.text_right(Face::Bold, SIZE, RIGHT - 2.0, y, "TVA / VAT");
    canvas.y += 18.0;
    for subtotal in rows {
        let tax = subtotal.tax();
        let label = match tax.category() {
            VatCategory::Standard => format!("TVA {}% (S)", rate_ro(tax.rate().to_string())),
            VatCategory::ReverseCharge => "Taxare inversă / Reverse charge (AE) 0%".to_owned(),
            VatCategory::OutsideEu => "Neimpozabil în UE / Outside the EU (G) 0%".to_owned(),
        };
        let y = canvas.y + SIZE;
        canvas.text(Face::Regular, SIZE, MARGIN + 2.0, y, &label);
        canvas.text_right(Face::Regular, SIZE, 420.0, y, &amount_ro(subtotal.taxable()));
        canvas.text_right(Face::Regular, SIZE, RIGHT - 2.0, y, &amount_ro(subtotal.vat()));
        canvas.y += LEADING;
    }
    canvas.rule(MARGIN, RIGHT, canvas.y, 0.5);
    canvas.y += 10.0;
}

fn totals(canvas: &mut Canvas<'_>, document: &IssuedDocument, currency: &str) {
    let t = document.totals();
    let mut rows: Vec<(&str, Money, Face)> =
        vec![("Total linii / Sum of lines", t.line_net_total, Face::Regular)];
    if t.allowance_total.amount_minor() > 0 {
        rows.push(("Reduceri / Discounts", t.allowance_total, Face::Regular));
    }
    rows.push(("Total fără TVA / Total excluding VAT", t.tax_exclusive, Face::Regular));
    rows.push(("Total TVA / Total VAT", t.vat_total, Face::Regular));
    rows.push(("Total cu TVA / Total including VAT", t.tax_inclusive, Face::Regular));
    rows.push(("Total de plată / Amount due", t.payable, Face::Bold));
    canvas.ensure(LEADING * (rows.len() as f32 + 2.0));
    for (label, amount, face) in rows {
        let y = canvas.y + SIZE;
        canvas.text(face, SIZE, LABEL_X, y, label);
        canvas.text_right(face, SIZE, RIGHT, y, &format!("{} {currency}", amount_ro(amount)));
        canvas.y += LEADING;
    }
    if let Some(in_lei) = document.vat_in_lei() {
        let rate = in_lei.rate.to_string().replace('.', ",");
        let text = format!(
            "TVA în lei / VAT in RON: {} RON (curs / rate {rate} RON/{currency} din {})",
            amount_ro(in_lei.vat_total),
            date_ro(in_lei.rate.date())
        );
        canvas.text_right(Face::Regular, SIZE, RIGHT, canvas.y + SIZE, &text);
        canvas.y += LEADING;
    }
    canvas.y += 10.0;
}

/// The legal mentions and notes, each wrapped to the page width.
fn mentions(canvas: &mut Canvas<'_>, document: &IssuedDocument) {
    if document.notes().is_empty() {
        return;
    }
    canvas.ensure(LEADING * 2.0);
    canvas.text(Face::Bold, SIZE, MARGIN, canvas.y + SIZE, "Mențiuni / Notes");
    canvas.y += LEADING;
    for note in document.notes() {
        for line in canvas.wrap(Face::Regular, SIZE, RIGHT - MARGIN, note) {
            canvas.ensure(LEADING);
            canvas.text(Face::Regular, SIZE, MARGIN, canvas.y + SIZE, &line);
            canvas.y += LEADING;
        }
    }
    canvas.y += 8.0;
}

fn payment(canvas: &mut Canvas<'_>, document: &IssuedDocument) {
    let lines = match document.payment() {
        PaymentMeans::BankTransfer { iban, bank_name } => {
            let mut lines = vec![
                "Plată prin transfer bancar / Payment by bank transfer".to_owned(),
                format!("Beneficiar / Payee: {}", document.seller().legal_name()),
                format!("IBAN: {}", iban.grouped()),
            ];
            if let Some(bank) = bank_name {
                lines.push(format!("Banca / Bank: {bank}"));
            }
            lines.push(format!("Referință plată / Payment reference: {}", document.number()));
            lines
        }
        PaymentMeans::Card { card } => {
            let mut lines = vec!["Plată cu cardul / Payment by card".to_owned()];
            if let Some(card) = card {
                lines.push(format!("Card: {} **** {}", card.network(), card.last_four()));
            }
            lines
        }
    };
    canvas.ensure(LEADING * (lines.len() as f32 + 1.0));
    canvas.text(Face::Bold, SIZE, MARGIN, canvas.y + SIZE, "Plata / Payment");
    canvas.y += LEADING;
    for line in lines {
        canvas.text(Face::Regular, SIZE, MARGIN, canvas.y + SIZE, &line);
        canvas.y += LEADING;
    }
}
