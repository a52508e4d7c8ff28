//! DNS records as a zone holds them: owner names inside the zone, types, TTLs and values, each
//! parsed from the zone-file presentation format and kept in the canonical form PowerDNS
//! stores, so that what Berth wrote and what the server answers compare as equal text.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain_name::DomainName;

/// Why a record name, type, TTL or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The owner name is not a DNS name.
    #[error("`{0}` is not a valid record name")]
    BadName(String),
    /// The owner name is outside the zone.
    #[error("`{name}` is outside the zone {zone}")]
    OutsideZone {
        /// The name as given.
        name: String,
        /// The zone.
        zone: String,
    },
    /// A type Berth does not manage.
    #[error("unsupported record type `{0}`; expected A, AAAA, CNAME, MX, TXT, SRV or CAA")]
    UnknownType(String),
    /// A TTL out of bounds.
    #[error("the TTL must be between {min} and {max} seconds")]
    Ttl {
        /// The shortest.
        min: u32,
        /// The longest.
        max: u32,
    },
    /// A value that does not fit its type.
    #[error("not a valid {rtype} value: {reason}")]
    BadValue {
        /// The type.
        rtype: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// No values, or too many.
    #[error("a record set holds 1 to {max} values")]
    Count {
        /// The most.
        max: usize,
    },
    /// A CNAME record set with more than one value.
    #[error("a CNAME record set holds exactly one value")]
    CnameCount,
    /// A CNAME at the zone's apex, which always holds SOA and NS records.
    #[error("a CNAME cannot sit at the zone's apex, beside its SOA and NS records")]
    CnameAtApex,
}

/// The record types a tenant manages (SOA and NS belong to the platform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Alias to another name.
    Cname,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Service location.
    Srv,
    /// Certification authority authorization.
    Caa,
}

impl RecordType {
    /// Every type, in the order the APIs list them.
    pub const ALL: [Self; 7] = [Self::A, Self::Aaaa, Self::Cname, Self::Mx, Self::Txt, Self::Srv, Self::Caa];

    /// The type's name (`AAAA`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Cname => "CNAME",
            Self::Mx => "MX",
            Self::Txt => "TXT",
            Self::Srv => "SRV",
            Self::Caa => "CAA",
        }
    }

    /// The type named `name` (any case).
    pub fn parse(name: &str) -> Result<Self, RecordError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| RecordError::UnknownType(name.to_owned()))
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record's owner name: the zone's apex or a name below it, lower-case ASCII without the
/// final dot. Labels may hold underscores (`_dmarc`, `_sip._tcp`) and the first may be `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordName(String);

impl RecordName {
    /// Reads `input` for `zone`: `@` is the apex; a name ending in a dot, or in the zone's
    /// name, is absolute and must be inside the zone; anything else is relative to it.
    pub fn parse(input: &str, zone: &DomainName) -> Result<Self, RecordError> {
        let lowered = input.trim().to_ascii_lowercase();
        let bad = || RecordError::BadName(input.to_owned());
        let zone_name = zone.as_str();
        let full = if lowered == "@" {
            zone_name.to_owned()
        } else if let Some(absolute) = lowered.strip_suffix('.') {
            absolute.to_owned()
        } else if lowered == zone_name || lowered.ends_with(&format!(".{zone_name}")) {
            lowered.clone()
        } else {
            format!("{lowered}.{zone_name}")
        };
        if full.len() > 253 || full.is_empty() {
            return Err(bad());
        }
        for (i, label) in full.split('.').enumerate() {
            let ok_chars = label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let wildcard = i == 0 && label == "*";
            if !wildcard && (label.is_empty() || label.len() > 63 || !ok_chars || label.starts_with('-')) {
                return Err(bad());
            }
        }
        if full != zone_name && !full.ends_with(&format!(".{zone_name}")) {
            return Err(RecordError::OutsideZone { name: input.to_owned(), zone: zone_name.to_owned() });
        }
        Ok(Self(full))
    }

    /// The name of a record this aggregate makes itself (a site's address, an ACME challenge),
    /// checked like any other.
    pub fn under(prefix: &str, name: &DomainName, zone: &DomainName) -> Result<Self, RecordError> {
        let full = if prefix.is_empty() { format!("{name}.") } else { format!("{prefix}.{name}.") };
        Self::parse(&full, zone)
    }

    /// The name, without the final dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the zone's apex.
    pub fn is_apex(&self, zone: &DomainName) -> bool {
        self.0 == zone.as_str()
    }
}

impl fmt::Display for RecordName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record set's time to live, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Ttl(u32);

impl Ttl {
    /// The shortest TTL accepted.
    pub const MIN: u32 = 60;
    /// The longest TTL accepted (one day).
    pub const MAX: u32 = 86_400;

    /// Checks a TTL.
    pub fn new(seconds: u32) -> Result<Self, RecordError> {
        if (Self::MIN..=Self::MAX).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(RecordError::Ttl { min: Self::MIN, max: Self::MAX })
        }
    }

    /// The seconds.
    pub const fn seconds(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Ttl {
    type Error = RecordError;
    fn try_from(value: u32) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Ttl> for u32 {
    fn from(value: Ttl) -> Self {
        value.0
    }
}

/// One value of a record, in canonical presentation form (`10 mail.example.com.`,
/// `"v=spf1 -all"`, `0 issue "letsencrypt.org"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordValue(String);

impl RecordValue {
    /// Parses `input` as a value of `rtype`, in zone-file presentation form. TXT text may be
    /// given bare (one string) or as quoted strings; CAA values quoted or bare.
    pub fn parse(rtype: RecordType, input: &str) -> Result<Self, RecordError> {
        super::value::parse(rtype, input).map(Self)
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every value of one name and type, with their TTL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRecordSet")]
pub struct RecordSet {
    name: RecordName,
    #[serde(rename = "type")]
    rtype: RecordType,
    ttl: Ttl,
    values: Vec<RecordValue>,
}

/// A record set as stored, checked again when read back.
#[derive(Deserialize)]
struct RawRecordSet {
    name: RecordName,
    #[serde(rename = "type")]
    rtype: RecordType,
    ttl: Ttl,
    values: Vec<String>,
}

impl TryFrom<RawRecordSet> for RecordSet {
    type Error = RecordError;
    fn try_from(raw: RawRecordSet) -> Result<Self, Self::Error> {
        let values = raw.values.iter().map(|v| RecordValue::parse(raw.rtype, v)).collect::<Result<_, _>>()?;
        Self::new(raw.name, raw.rtype, raw.ttl, values)
    }
}

impl RecordSet {
    /// The most values one set holds.
    pub const MAX_VALUES: usize = 100;

    /// A set of `values`, sorted and without repeats.
    pub fn new(
        name: RecordName,
        rtype: RecordType,
        ttl: Ttl,
        mut values: Vec<RecordValue>,
    ) -> Result<Self, RecordError> {
        values.sort();
        values.dedup();
        if values.is_empty() || values.len() > Self::MAX_VALUES {
            return Err(RecordError::Count { max: Self::MAX_VALUES });
        }
        if rtype == RecordType::Cname && values.len() != 1 {
            return Err(RecordError::CnameCount);
        }
        Ok(Self { name, rtype, ttl, values })
    }

    /// The owner name.
    pub fn name(&self) -> &RecordName {
        &self.name
    }

    /// The type.
    pub fn rtype(&self) -> RecordType {
        self.rtype
    }

    /// The TTL.
    pub fn ttl(&self) -> Ttl {
        self.ttl
    }

    /// The values, sorted.
    pub fn values(&self) -> &[RecordValue] {
        &self.values
    }

    /// The key a zone keeps it under: name and type.
    pub fn key(&self) -> String {
        key(&self.name, self.rtype)
    }
}

/// The key of the set of `name` and `rtype` in a zone.
pub fn key(name: &RecordName, rtype: RecordType) -> String {
    format!("{name} {rtype}")
}
