//! BG-4 and BG-7: the seller and the buyer.

use berth_domain::billing::Party;

use super::xml::Xml;

/// Which side of the document a party is on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Seller,
    Buyer,
}

/// ANAF's placeholder for a buyer who gave no identifier: thirteen zeros, the length of a
/// Romanian personal numeric code (CNP). CIUS-RO wants a buyer identifier (BR-RO-120) on
/// every taxed document, and a consumer often has none to give.
const NO_BUYER_ID: &str = "0000000000000";

/// Writes `cac:Party` for `party`.
pub(super) fn party(xml: &mut Xml, party: &Party, role: Role) {
    xml.open("cac:Party", &[]);
    let address = party.address();
    xml.open("cac:PostalAddress", &[]);
    let lines = address.lines();
    xml.leaf("cbc:StreetName", &lines[0]);
    if let Some(second) = lines.get(1) {
        xml.leaf("cbc:AdditionalStreetName", second);
    }
    xml.leaf("cbc:CityName", address.city());
    if let Some(postal_code) = address.postal_code() {
        xml.leaf("cbc:PostalZone", postal_code);
    }
    if let Some(subdivision) = address.subdivision() {
        xml.leaf("cbc:CountrySubentity", subdivision);
    }
    if let Some(third) = lines.get(2) {
        xml.open("cac:AddressLine", &[]).leaf("cbc:Line", third).close();
    }
    xml.open("cac:Country", &[]).leaf("cbc:IdentificationCode", address.country().as_str()).close();
    xml.close();
    if let Some(vat_id) = party.vat_id() {
        xml.open("cac:PartyTaxScheme", &[]);
        xml.leaf("cbc:CompanyID", vat_id.as_str());
        xml.open("cac:TaxScheme", &[]).leaf("cbc:ID", "VAT").close();
        xml.close();
    }
    xml.open("cac:PartyLegalEntity", &[]);
    xml.leaf("cbc:RegistrationName", party.legal_name());
    match (party.registration(), role, party.vat_id()) {
        (Some(registration), _, _) => {
            xml.leaf("cbc:CompanyID", registration);
        }
        (None, Role::Buyer, None) => {
            xml.leaf("cbc:CompanyID", NO_BUYER_ID);
        }
        (None, _, _) => {}
    }
    xml.close();
    if let Some(email) = party.email() {
        xml.open("cac:Contact", &[]).leaf("cbc:ElectronicMail", email.as_str()).close();
    }
    xml.close();
}
