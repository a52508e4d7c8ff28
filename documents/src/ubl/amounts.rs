//! BG-20, BG-23 and BG-22: document-level allowances, the VAT breakdown and the totals.

use berth_domain::billing::{IssuedDocument, LineTax};
use berth_domain::money::Money;

use super::xml::Xml;
use crate::format::decimal;

/// UNCL 5189 code 95: "Discount".
pub(super) const DISCOUNT_REASON_CODE: &str = "95";

/// Writes `name` as an amount with its `currencyID`.
pub(super) fn amount(xml: &mut Xml, name: &'static str, money: Money) {
    xml.leaf_with(name, &[("currencyID", money.currency().as_str())], &decimal(money));
}

/// Writes a `cac:TaxCategory` (or `cac:ClassifiedTaxCategory`) for `tax`, with the
/// exemption reason where no VAT is charged and `with_exemption` asks for it (only the VAT
/// breakdown carries it).
pub(super) fn tax_category(xml: &mut Xml, name: &'static str, tax: LineTax, with_exemption: bool) {
    xml.open(name, &[]);
    xml.leaf("cbc:ID", tax.category().code());
    xml.leaf("cbc:Percent", &tax.rate().to_string());
    if let (true, Some(exemption)) = (with_exemption, tax.category().exemption()) {
        xml.leaf("cbc:TaxExemptionReasonCode", exemption.code);
        xml.leaf("cbc:TaxExemptionReason", exemption.text);
    }
    xml.open("cac:TaxScheme", &[]).leaf("cbc:ID", "VAT").close();
    xml.close();
}

/// One `cac:AllowanceCharge` per VAT group a coupon reduces.
pub(super) fn allowances(xml: &mut Xml, document: &IssuedDocument) {
    for allowance in document.allowances() {
        xml.open("cac:AllowanceCharge", &[]);
        xml.leaf("cbc:ChargeIndicator", "false");
        xml.leaf("cbc:AllowanceChargeReasonCode", DISCOUNT_REASON_CODE);
        xml.leaf("cbc:AllowanceChargeReason", allowance.reason());
        amount(xml, "cbc:Amount", allowance.amount());
        tax_category(xml, "cac:TaxCategory", allowance.tax(), false);
        xml.close();
    }
}

/// The VAT total with its breakdown, and for a document not in lei, the VAT total in lei.
pub(super) fn tax_totals(xml: &mut Xml, document: &IssuedDocument) {
    xml.open("cac:TaxTotal", &[]);
    amount(xml, "cbc:TaxAmount", document.totals().vat_total);
    for subtotal in document.vat_breakdown() {
        xml.open("cac:TaxSubtotal", &[]);
        amount(xml, "cbc:TaxableAmount", subtotal.taxable());
        amount(xml, "cbc:TaxAmount", subtotal.vat());
        tax_category(xml, "cac:TaxCategory", subtotal.tax(), true);
        xml.close();
    }
    xml.close();
    if let Some(in_lei) = document.vat_in_lei() {
        // BT-111 stands alone: the breakdown is given once, in the document currency.
        xml.open("cac:TaxTotal", &[]);
        amount(xml, "cbc:TaxAmount", in_lei.vat_total);
        xml.close();
    }
}

/// BG-22, in schema order; the allowance total only when there is one.
pub(super) fn monetary_total(xml: &mut Xml, document: &IssuedDocument) {
    let totals = document.totals();
    xml.open("cac:LegalMonetaryTotal", &[]);
    amount(xml, "cbc:LineExtensionAmount", totals.line_net_total);
    amount(xml, "cbc:TaxExclusiveAmount", totals.tax_exclusive);
    amount(xml, "cbc:TaxInclusiveAmount", totals.tax_inclusive);
    if totals.allowance_total.amount_minor() > 0 {
        amount(xml, "cbc:AllowanceTotalAmount", totals.allowance_total);
    }
    amount(xml, "cbc:PayableAmount", totals.payable);
    xml.close();
}
