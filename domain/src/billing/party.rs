//! The seller and the buyer of a document: `Party` and its `PostalAddress`.
//!
//! A party is checked once, when it is built, against what an e-invoice needs: a name, a
//! street line and a city; in Romania a county code (ISO 3166-2:RO, `RO-CJ`), and in Bucharest
//! the sector as the city (`SECTOR1`..`SECTOR6`), which is how CIUS-RO wants Bucharest
//! addresses (BR-RO-100, BR-RO-110). A person has no VAT id.

use serde::{Deserialize, Serialize};

use super::country::CountryCode;
use super::text::{checked, TextError};
use super::vat_id::VatId;
use crate::email::Email;

/// The ISO 3166-2:RO codes of Romania's counties and of Bucharest (`RO-B`).
const ROMANIAN_COUNTIES: [&str; 42] = [
    "RO-AB", "RO-AG", "RO-AR", "RO-B", "RO-BC", "RO-BH", "RO-BN", "RO-BR", "RO-BT", "RO-BV", "RO-BZ",
    "RO-CJ", "RO-CL", "RO-CS", "RO-CT", "RO-CV", "RO-DB", "RO-DJ", "RO-GJ", "RO-GL", "RO-GR", "RO-HD",
    "RO-HR", "RO-IF", "RO-IL", "RO-IS", "RO-MH", "RO-MM", "RO-MS", "RO-NT", "RO-OT", "RO-PH", "RO-SB",
    "RO-SJ", "RO-SM", "RO-SV", "RO-TL", "RO-TM", "RO-TR", "RO-VL", "RO-VN", "RO-VS",
];

/// Bucharest's sectors, which stand in for the city in a Bucharest address.
const BUCHAREST_SECTORS: [&str; 6] = ["SECTOR1", "SECTOR2", "SECTOR3", "SECTOR4", "SECTOR5", "SECTOR6"];

/// Why a party or an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartyError {
    /// A text field is empty, too long or holds control characters.
    #[error(transparent)]
    Text(#[from] TextError),
    /// No street line, or more than three.
    #[error("an address has one to three street lines")]
    AddressLines,
    /// A Romanian address without a valid county code.
    #[error(
        "a Romanian address needs its county as an ISO 3166-2:RO code (like RO-CJ, or RO-B for Bucharest)"
    )]
    RomanianCounty,
    /// A Bucharest address whose city is not a sector.
    #[error("a Bucharest (RO-B) address gives its sector as the city: SECTOR1 to SECTOR6")]
    BucharestSector,
    /// A VAT id from another country than the address.
    #[error("the VAT id was issued in {vat_id}, but the address is in {address}")]
    VatIdCountry {
        /// The VAT id's country.
        vat_id: CountryCode,
        /// The address's country.
        address: CountryCode,
    },
}

/// A postal address as e-invoices carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    lines: Vec<String>,
    city: String,
    postal_code: Option<String>,
    subdivision: Option<String>,
    country: CountryCode,
}

impl PostalAddress {
    /// Checks an address: one to three street lines (the first up to 150 characters, the
    /// others 100), a city (50), an optional postal code (20), the country subdivision (required
    /// in Romania) and the country.
    pub fn new(
        lines: &[&str],
        city: &str,
        postal_code: Option<&str>,
        subdivision: Option<&str>,
        country: CountryCode,
    ) -> Result<Self, PartyError> {
        if lines.is_empty() || lines.len() > 3 {
            return Err(PartyError::AddressLines);
        }
        let lines = lines
            .iter()
            .enumerate()
            .map(|(i, line)| checked("an address line", line, if i == 0 { 150 } else { 100 }))
            .collect::<Result<Vec<_>, _>>()?;
        let city = checked("the city", city, 50)?;
        let postal_code = postal_code.map(|p| checked("the postal code", p, 20)).transpose()?;
        let subdivision = subdivision.map(|s| checked("the country subdivision", s, 50)).transpose()?;
        if country == CountryCode::ROMANIA {
            match subdivision.as_deref() {
                Some(code) if ROMANIAN_COUNTIES.contains(&code) => {}
                _ => return Err(PartyError::RomanianCounty),
            }
            if subdivision.as_deref() == Some("RO-B") && !BUCHAREST_SECTORS.contains(&city.as_str()) {
                return Err(PartyError::BucharestSector);
            }
        }
        Ok(Self { lines, city, postal_code, subdivision, country })
    }

    /// The street lines, one to three.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The city (in Bucharest, the sector).
    pub fn city(&self) -> &str {
        &self.city
    }

    /// The postal code.
    pub fn postal_code(&self) -> Option<&str> {
        self.postal_code.as_deref()
    }

    /// The country subdivision (a Romanian county code in Romania).
    pub fn subdivision(&self) -> Option<&str> {
        self.subdivision.as_deref()
    }

    /// The country.
    pub fn country(&self) -> CountryCode {
        self.country
    }
}

/// Whether a party is an organisation or a natural person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    /// A company or other organisation.
    Company,
    /// A natural person.
    Person,
}

impl PartyKind {
    /// Both kinds.
    pub const ALL: [Self; 2] = [Self::Company, Self::Person];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Company => "company",
            Self::Person => "person",
        }
    }
}

/// A seller or a buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    kind: PartyKind,
    legal_name: String,
    address: PostalAddress,
    vat_id: Option<VatId>,
    registration: Option<String>,
    email: Option<Email>,
}

impl Party {
    /// A company: its legal name (up to 200 characters), address, VAT id if it has one,
    /// trade register number (`J40/12345/2020`) or other registration id, and billing email.
    pub fn company(
        legal_name: &str,
        address: PostalAddress,
        vat_id: Option<VatId>,
        registration: Option<&str>,
        email: Option<Email>,
    ) -> Result<Self, PartyError> {
        if let Some(id) = &vat_id {
            if id.country() != address.country() {
                return Err(PartyError::VatIdCountry { vat_id: id.country(), address: address.country() });
            }
        }
        Ok(Self {
            kind: PartyKind::Company,
            legal_name: checked("the legal name", legal_name, 200)?,
            address,
            vat_id,
            registration: registration.map(|r| checked("the registration number", r, 100)).transpose()?,
            email,
        })
    }

    /// A person: name, address, an optional personal id (a Romanian CNP) and email.
    pub fn person(
        name: &str,
        address: PostalAddress,
        personal_id: Option<&str>,
        email: Option<Email>,
    ) -> Result<Self, PartyError> {
        Ok(Self {
            kind: PartyKind::Person,
            legal_name: checked("the name", name, 200)?,
            address,
            vat_id: None,
            registration: personal_id.map(|r| checked("the personal id", r, 100)).transpose()?,
            email,
        })
    }

    /// Company or person.
    pub fn kind(&self) -> PartyKind {
        self.kind
    }

    /// The legal name (a person's full name).
    pub fn legal_name(&self) -> &str {
        &self.legal_name
    }

    /// The postal address.
    pub fn address(&self) -> &PostalAddress {
        &self.address
    }

    /// The VAT id; never present for a person.
    pub fn vat_id(&self) -> Option<&VatId> {
        self.vat_id.as_ref()
    }

    /// The trade register number or other registration id (a person's CNP, if given).
    pub fn registration(&self) -> Option<&str> {
        self.registration.as_deref()
    }

    /// The billing email.
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ro_address(county: &str, city: &str) -> Result<PostalAddress, PartyError> {
        PostalAddress::new(
            &["Str. Memorandumului 28"],
            city,
            Some("400114"),
            Some(county),
            CountryCode::ROMANIA,
        )
    }

    #[test]
    fn romanian_addresses_need_a_county_and_bucharest_a_sector() {
        assert!(ro_address("RO-CJ", "Cluj-Napoca").is_ok());
        assert_eq!(ro_address("CJ", "Cluj-Napoca"), Err(PartyError::RomanianCounty));
        assert_eq!(ro_address("RO-B", "București"), Err(PartyError::BucharestSector));
        assert!(ro_address("RO-B", "SECTOR3").is_ok());
        let no_county = PostalAddress::new(&["x"], "Iași", None, None, CountryCode::ROMANIA);
        assert_eq!(no_county, Err(PartyError::RomanianCounty));
    }

    #[test]
    fn address_fields_are_bounded() {
        let de = CountryCode::parse("DE").unwrap();
        assert_eq!(PostalAddress::new(&[], "Berlin", None, None, de), Err(PartyError::AddressLines));
        let long_city = "x".repeat(51);
        assert!(matches!(
            PostalAddress::new(&["Hauptstr. 1"], &long_city, None, None, de),
            Err(PartyError::Text(TextError::TooLong { max: 50, .. }))
        ));
        assert!(matches!(
            PostalAddress::new(&["Haupt\u{7}str. 1"], "Berlin", None, None, de),
            Err(PartyError::Text(TextError::Control { .. }))
        ));
    }

    #[test]
    fn a_company_vat_id_matches_its_country() {
        let address = ro_address("RO-CJ", "Cluj-Napoca").unwrap();
        let de_id = VatId::parse("DE123456789").unwrap();
        let refused = Party::company("Șerban Țăranu SRL", address.clone(), Some(de_id), None, None);
        assert!(matches!(refused, Err(PartyError::VatIdCountry { .. })));
        let ro_id = VatId::parse("RO18547290").unwrap();
        let company = Party::company("Șerban Țăranu SRL", address, Some(ro_id), Some("J12/345/2020"), None);
        assert_eq!(company.unwrap().registration(), Some("J12/345/2020"));
    }
}
