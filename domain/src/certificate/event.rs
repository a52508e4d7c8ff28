//! Certificate events: a public, versioned contract (a released variant is never reshaped; a
//! change gets a new version and an upcaster).

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{CertificateNames, ChallengeMethod, FailureCode, Reason};
use crate::ids::{SiteId, TenantId};

/// A certificate as the CA issued it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCertificate {
    /// Its serial number, in hexadecimal.
    pub serial: String,
    /// Its issuer's distinguished name.
    pub issuer: String,
    /// The names it covers (`*.example.com` for a wildcard).
    pub names: Vec<String>,
    /// Valid from.
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// Valid until.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The sealed secret holding its private key and chain (never in an event).
    pub key_id: uuid::Uuid,
    /// How its names were validated.
    pub method: ChallengeMethod,
}

/// Something that happened to a site's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateEvent {
    /// A certificate was asked for (a first one, a reissue, a renewal or a retry).
    IssuanceRequested {
        /// The site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// Which attempt this is, from 1, over the certificate's whole life.
        attempt: u32,
        /// What it is to cover.
        names: CertificateNames,
        /// Whether the site's HTTPS answers carry HSTS.
        hsts: bool,
        /// Why.
        reason: Reason,
    },
    /// The CA issued the certificate of `attempt`.
    Issued {
        /// The attempt.
        attempt: u32,
        /// The certificate.
        certificate: IssuedCertificate,
        /// When renewal starts.
        #[serde(with = "time::serde::rfc3339")]
        renew_at: OffsetDateTime,
        /// How long issuance took, in milliseconds.
        took_ms: u64,
    },
    /// Attempt `attempt` failed; it is tried again at `retry_at`.
    IssuanceFailed {
        /// The attempt.
        attempt: u32,
        /// What failed, for programs.
        code: FailureCode,
        /// What failed, for people.
        reason: String,
        /// When the next attempt starts.
        #[serde(with = "time::serde::rfc3339")]
        retry_at: OffsetDateTime,
    },
    /// The site's node serves the certificate (the one before served until now).
    Installed {
        /// The certificate's serial.
        serial: String,
        /// How long installing took, in milliseconds.
        took_ms: u64,
    },
    /// The node could not install the certificate; it is tried again at `retry_at`.
    InstallFailed {
        /// The certificate's serial.
        serial: String,
        /// Why.
        reason: String,
        /// When it is tried again.
        #[serde(with = "time::serde::rfc3339")]
        retry_at: OffsetDateTime,
    },
    /// Installing is tried again.
    InstallRetried {
        /// The certificate's serial.
        serial: String,
    },
    /// Renewal keeps failing and the live certificate expires in `days_left` days or fewer:
    /// the tenant is to be told (a mail outbox turns this into mail).
    RenewalWarningDue {
        /// The threshold crossed: 30, 14 or 7.
        days_left: u32,
        /// When the live certificate expires.
        #[serde(with = "time::serde::rfc3339")]
        not_after: OffsetDateTime,
        /// Why the last attempt failed.
        reason: String,
    },
    /// The live certificate reached `days_left` days before expiry and renewal has not
    /// started yet (an expiry notice timer): the tenant is to be told.
    ExpiryNoticeDue {
        /// The threshold reached: 30, 14 or 7.
        days_left: u32,
        /// When the live certificate expires.
        #[serde(with = "time::serde::rfc3339")]
        not_after: OffsetDateTime,
    },
    /// What the next attempt is to cover changed (a custom domain was taken off the site); the
    /// certificate in use keeps its names until then.
    NamesChanged {
        /// What the next attempt covers.
        names: CertificateNames,
    },
    /// The site is gone: no more issuing or renewing.
    Retired,
}

impl DomainEvent for CertificateEvent {
    fn event_type(&self) -> String {
        match self {
            Self::IssuanceRequested { .. } => "CertificateIssuanceRequested",
            Self::Issued { .. } => "CertificateIssued",
            Self::IssuanceFailed { .. } => "CertificateIssuanceFailed",
            Self::Installed { .. } => "CertificateInstalled",
            Self::InstallFailed { .. } => "CertificateInstallFailed",
            Self::InstallRetried { .. } => "CertificateInstallRetried",
            Self::RenewalWarningDue { .. } => "CertificateRenewalWarningDue",
            Self::ExpiryNoticeDue { .. } => "CertificateExpiryNoticeDue",
            Self::NamesChanged { .. } => "CertificateNamesChanged",
            Self::Retired => "CertificateRetired",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for CertificateEvent {}
