//! BG-25: one invoice or credit note line.

use berth_domain::billing::DocumentLine;

use super::amounts::{amount, tax_category, DISCOUNT_REASON_CODE};
use super::xml::Xml;
use super::Flavour;

/// Writes a `cac:InvoiceLine` or `cac:CreditNoteLine`.
pub(super) fn line(xml: &mut Xml, line: &DocumentLine, flavour: Flavour) {
    xml.open(flavour.line, &[]);
    xml.leaf("cbc:ID", &line.position().to_string());
    xml.leaf_with(flavour.quantity, &[("unitCode", line.unit().code())], &line.quantity().to_string());
    amount(xml, "cbc:LineExtensionAmount", line.net());
    if let Some(period) = line.period() {
        xml.open("cac:InvoicePeriod", &[]);
        xml.leaf("cbc:StartDate", &period.start().to_string());
        xml.leaf("cbc:EndDate", &period.end().to_string());
        xml.close();
    }
    if let Some(discount) = line.discount() {
        xml.open("cac:AllowanceCharge", &[]);
        xml.leaf("cbc:ChargeIndicator", "false");
        xml.leaf("cbc:AllowanceChargeReasonCode", DISCOUNT_REASON_CODE);
        xml.leaf("cbc:AllowanceChargeReason", "Reducere / Discount");
        amount(xml, "cbc:Amount", discount);
        amount(xml, "cbc:BaseAmount", line.gross());
        xml.close();
    }
    xml.open("cac:Item", &[]);
    xml.leaf("cbc:Name", line.description());
    tax_category(xml, "cac:ClassifiedTaxCategory", line.tax(), false);
    xml.close();
    xml.open("cac:Price", &[]);
    amount(xml, "cbc:PriceAmount", line.unit_price());
    xml.close();
    xml.close();
}
