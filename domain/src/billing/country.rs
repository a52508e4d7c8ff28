//! `CountryCode`: an ISO 3166-1 alpha-2 country, and which of them are EU member states.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a country code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountryError {
    /// Not an assigned ISO 3166-1 alpha-2 code.
    #[error("`{0}` is not an ISO 3166-1 alpha-2 country code (two capital letters, like RO)")]
    Unknown(String),
}

/// The officially assigned ISO 3166-1 alpha-2 codes, the list e-invoices are checked against.
const ISO_3166_ALPHA_2: &str = "\
     AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS \
     BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE \
     EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM \
     HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC \
     LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA \
     NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
     SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO \
     TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// The 27 EU member states, by ISO code (Greece is `GR` here; its VAT ids say `EL`).
const EU_MEMBERS: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// An ISO 3166-1 alpha-2 country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Romania, the seller's country.
    pub const ROMANIA: CountryCode = CountryCode(*b"RO");

    /// Checks a code against the ISO list (upper case only, as documents carry it).
    pub fn parse(code: &str) -> Result<Self, CountryError> {
        let known = code.len() == 2
            && code.bytes().all(|b| b.is_ascii_uppercase())
            && ISO_3166_ALPHA_2.split(' ').any(|c| c == code);
        match code.as_bytes() {
            [a, b] if known => Ok(Self([*a, *b])),
            _ => Err(CountryError::Unknown(code.to_owned())),
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }

    /// Whether the country is an EU member state.
    pub fn is_eu(&self) -> bool {
        EU_MEMBERS.contains(&self.as_str())
    }

    /// The prefix of this country's VAT ids: the ISO code, except `EL` for Greece.
    pub fn vat_prefix(&self) -> &str {
        if self.as_str() == "GR" {
            "EL"
        } else {
            self.as_str()
        }
    }

    /// The EU member states.
    pub fn eu_members() -> impl Iterator<Item = CountryCode> {
        EU_MEMBERS.iter().map(|c| CountryCode([c.as_bytes()[0], c.as_bytes()[1]]))
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CountryCode {
    type Error = CountryError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_iso_codes_and_the_eu() {
        assert!(CountryCode::parse("RO").unwrap().is_eu());
        assert!(CountryCode::parse("DE").unwrap().is_eu());
        assert!(!CountryCode::parse("US").unwrap().is_eu());
        assert!(!CountryCode::parse("GB").unwrap().is_eu());
        assert!(!CountryCode::parse("CH").unwrap().is_eu());
        assert_eq!(CountryCode::parse("GR").unwrap().vat_prefix(), "EL");
        assert_eq!(CountryCode::eu_members().count(), 27);
        assert!(CountryCode::eu_members().all(|c| CountryCode::parse(c.as_str()) == Ok(c)));
    }

    #[test]
    fn rejects_unassigned_and_malformed_codes() {
        for bad in ["ro", "ROU", "R", "", "XX", "EL", "UK", "1A", "R O"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad}");
        }
    }
}
