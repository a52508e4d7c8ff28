//! UBL 2.1 for e-Factura: an `Invoice` (type code 380) or a `CreditNote` (381).
//!
//! Elements are written in the order the UBL 2.1 schemas define, with the EN 16931 business
//! terms Berth's documents carry and the CIUS-RO customization id. Amounts come from the
//! document as they are (two decimals, `currencyID` on each); nothing is recomputed here.
//!
//! A proforma is refused: it is not a fiscal document in Romania and must not be reported
//! to e-Factura, whose CIUS-RO rule BR-RO-020 accepts only the invoice type codes 380, 384,
//! 389 and 751 (a UBL proforma would be type code 325, which EN 16931 alone allows). Its PDF
//! is what a buyer receives.

mod amounts;
mod lines;
mod party;
mod xml;

use berth_domain::billing::{DocumentKind, IssuedDocument, PaymentMeans};

use self::xml::Xml;

/// The CIUS-RO specification identifier (BT-24) e-Factura expects.
pub const CIUS_RO_CUSTOMIZATION_ID: &str =
    "urn:cen.eu:en16931:2017#compliant#urn:efactura.mfinante.ro:CIUS-RO:1.0.1";

const NS_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const NS_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";

/// Why a document has no UBL form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UblError {
    /// A proforma is not a fiscal document and is not sent to e-Factura.
    #[error("a proforma is not a fiscal document and has no e-Factura form; send its PDF")]
    NotFiscal,
}

/// Which of the two UBL document types, and the names that differ between them.
#[derive(Clone, Copy)]
pub(crate) struct Flavour {
    root: &'static str,
    namespace: &'static str,
    type_code_element: &'static str,
    type_code: &'static str,
    pub(crate) line: &'static str,
    pub(crate) quantity: &'static str,
}

const INVOICE: Flavour = Flavour {
    root: "Invoice",
    namespace: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    type_code_element: "cbc:InvoiceTypeCode",
    type_code: "380",
    line: "cac:InvoiceLine",
    quantity: "cbc:InvoicedQuantity",
};

const CREDIT_NOTE: Flavour = Flavour {
    root: "CreditNote",
    namespace: "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    type_code_element: "cbc:CreditNoteTypeCode",
    type_code: "381",
    line: "cac:CreditNoteLine",
    quantity: "cbc:CreditedQuantity",
};

/// Renders a document as e-Factura UBL XML: an invoice as `Invoice`, a credit note as
/// `CreditNote` with a `BillingReference` to the invoice it corrects.
pub fn render_ubl(document: &IssuedDocument) -> Result<String, UblError> {
    let flavour = match document.kind() {
        DocumentKind::Invoice => INVOICE,
        DocumentKind::CreditNote => CREDIT_NOTE,
        DocumentKind::Proforma => return Err(UblError::NotFiscal),
    };
    let mut xml = Xml::new();
    xml.open(flavour.root, &[("xmlns", flavour.namespace), ("xmlns:cac", NS_CAC), ("xmlns:cbc", NS_CBC)]);
    header(&mut xml, document, flavour);
    xml.open("cac:AccountingSupplierParty", &[]);
    party::party(&mut xml, document.seller(), party::Role::Seller);
    xml.close();
    xml.open("cac:AccountingCustomerParty", &[]);
    party::party(&mut xml, document.buyer(), party::Role::Buyer);
    xml.close();
    xml.open("cac:Delivery", &[]).leaf("cbc:ActualDeliveryDate", &document.supply_date().to_string()).close();
    payment_means(&mut xml, document);
    amounts::allowances(&mut xml, document);
    amounts::tax_totals(&mut xml, document);
    amounts::monetary_total(&mut xml, document);
    for line in document.lines() {
        lines::line(&mut xml, line, flavour);
    }
    xml.close();
    Ok(xml.finish())
}

/// BT-24 to BT-7: identity, dates, type, notes, currencies, period, preceding invoice.
fn header(xml: &mut Xml, document: &IssuedDocument, flavour: Flavour) {
    xml.leaf("cbc:UBLVersionID", "2.1");
    xml.leaf("cbc:CustomizationID", CIUS_RO_CUSTOMIZATION_ID);
    xml.leaf("cbc:ID", &document.number().to_string());
    xml.leaf("cbc:IssueDate", &document.issue_date().to_string());
    if let (DocumentKind::Invoice, Some(due)) = (document.kind(), document.due_date()) {
        // A credit note carries its due date in PaymentMeans instead (UBL has no DueDate there).
        xml.leaf("cbc:DueDate", &due.to_string());
    }
    xml.leaf(flavour.type_code_element, flavour.type_code);
    for note in document.notes() {
        xml.leaf("cbc:Note", note);
    }
    xml.leaf("cbc:DocumentCurrencyCode", document.currency().as_str());
    if document.vat_in_lei().is_some() {
        xml.leaf("cbc:TaxCurrencyCode", "RON");
    }
    if let Some(period) = document.period() {
        xml.open("cac:InvoicePeriod", &[]);
        xml.leaf("cbc:StartDate", &period.start().to_string());
        xml.leaf("cbc:EndDate", &period.end().to_string());
        xml.close();
    }
    if let Some(reference) = document.corrects() {
        xml.open("cac:BillingReference", &[]).open("cac:InvoiceDocumentReference", &[]);
        xml.leaf("cbc:ID", &reference.number.to_string());
        xml.leaf("cbc:IssueDate", &reference.issue_date.to_string());
        xml.close().close();
    }
}

/// BG-16: the means code, the document number as the payment reference, and the account.
fn payment_means(xml: &mut Xml, document: &IssuedDocument) {
    xml.open("cac:PaymentMeans", &[]);
    xml.leaf("cbc:PaymentMeansCode", document.payment().code());
    if let (DocumentKind::CreditNote, Some(due)) = (document.kind(), document.due_date()) {
        xml.leaf("cbc:PaymentDueDate", &due.to_string());
    }
    xml.leaf("cbc:PaymentID", &document.number().to_string());
    match document.payment() {
        PaymentMeans::BankTransfer { iban, .. } => {
            xml.open("cac:PayeeFinancialAccount", &[]).leaf("cbc:ID", iban.as_str()).close();
        }
        PaymentMeans::Card { card: Some(card) } => {
            xml.open("cac:CardAccount", &[]);
            xml.leaf("cbc:PrimaryAccountNumberID", card.last_four());
            xml.leaf("cbc:NetworkID", card.network());
            xml.close();
        }
        PaymentMeans::Card { card: None } => {}
    }
    xml.close();
}
