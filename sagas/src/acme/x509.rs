//! Reading an issued certificate chain: the first certificate's serial, issuer, names and
//! validity.

use berth_domain::certificate::{ChallengeMethod, IssuedCertificate};
use time::OffsetDateTime;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode, DecodePem};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

/// subjectAltName (RFC 5280, 4.2.1.6).
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// A chain that does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the issued chain does not read: {0}")]
pub struct ChainError(String);

/// The first certificate of `chain` (PEM), as the domain records it.
pub fn leaf(
    chain: &str,
    key_id: uuid::Uuid,
    method: ChallengeMethod,
) -> Result<IssuedCertificate, ChainError> {
    let end = "-----END CERTIFICATE-----";
    let first = chain
        .find(end)
        .map(|at| &chain[..at + end.len()])
        .ok_or_else(|| ChainError("no certificate".into()))?;
    let certificate = Certificate::from_pem(first.trim()).map_err(|e| ChainError(e.to_string()))?;
    let tbs = &certificate.tbs_certificate;
    let time = |t: x509_cert::time::Time| {
        let seconds = i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| ChainError(e.to_string()))
    };
    let serial: String = tbs.serial_number.as_bytes().iter().map(|b| format!("{b:02X}")).collect();
    let mut names = Vec::new();
    for extension in tbs.extensions.iter().flatten() {
        if extension.extn_id == SUBJECT_ALT_NAME {
            let san = SubjectAltName::from_der(extension.extn_value.as_bytes())
                .map_err(|e| ChainError(e.to_string()))?;
            names.extend(san.0.into_iter().filter_map(|name| match name {
                GeneralName::DnsName(dns) => Some(dns.to_string()),
                _ => None,
            }));
        }
    }
    Ok(IssuedCertificate {
        serial,
        issuer: tbs.issuer.to_string(),
        names,
        not_before: time(tbs.validity.not_before)?,
        not_after: time(tbs.validity.not_after)?,
        key_id,
        method,
    })
}
