//! Certificate commands, and the rules that decide them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::event::{CertificateEvent as E, IssuedCertificate};
use super::{Certificate, CertificateError, CertificateNames, FailureCode, Pending, Reason};
use crate::ids::{SiteId, TenantId};

/// What can be asked of a site's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateCommand {
    /// Issue a certificate for `names` (a repeat while the same is under way changes nothing;
    /// an automatic request is only ever a first one).
    Request {
        /// The site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// What it is to cover.
        names: CertificateNames,
        /// HSTS on the site's HTTPS answers.
        hsts: bool,
        /// Why.
        reason: Reason,
    },
    /// Start renewing (the renewal timer's command, due at `now`).
    Renew {
        /// When it was due.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Try a failed attempt again (the retry timer's command).
    Retry {
        /// The attempt that failed.
        attempt: u32,
    },
    /// Record that the CA issued attempt `attempt`'s certificate.
    RecordIssued {
        /// The attempt.
        attempt: u32,
        /// The certificate.
        certificate: IssuedCertificate,
        /// When renewal is to start.
        #[serde(with = "time::serde::rfc3339")]
        renew_at: OffsetDateTime,
        /// How long it took, in milliseconds.
        took_ms: u64,
    },
    /// Record that attempt `attempt` failed, at `now`; the next starts at `retry_at`.
    RecordFailure {
        /// The attempt.
        attempt: u32,
        /// What failed, for programs.
        code: FailureCode,
        /// What failed, for people.
        reason: String,
        /// When it failed.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
        /// When to try again.
        #[serde(with = "time::serde::rfc3339")]
        retry_at: OffsetDateTime,
    },
    /// Record that the node serves the certificate `serial`.
    RecordInstalled {
        /// Its serial.
        serial: String,
        /// How long it took, in milliseconds.
        took_ms: u64,
    },
    /// Record that the node could not install `serial`; try again at `retry_at`.
    RecordInstallFailed {
        /// Its serial.
        serial: String,
        /// Why.
        reason: String,
        /// When to try again.
        #[serde(with = "time::serde::rfc3339")]
        retry_at: OffsetDateTime,
    },
    /// Install `serial` again (the install retry timer's command).
    RetryInstall {
        /// Its serial.
        serial: String,
    },
    /// Change what the next attempt covers, without starting one.
    SetNames {
        /// The names.
        names: CertificateNames,
    },
    /// Tell the tenant that the certificate expiring at `not_after` has `days_left` days to
    /// go (an expiry notice timer's command; a renewed or retired certificate, or a threshold
    /// already told, gets nothing).
    NoticeExpiry {
        /// When the certificate the timer was set for expires.
        #[serde(with = "time::serde::rfc3339")]
        not_after: OffsetDateTime,
        /// The threshold: 30, 14 or 7.
        days_left: u32,
    },
    /// The site is gone.
    Retire,
}

/// The days before expiry at which a failing renewal is told to the tenant.
pub const WARNING_DAYS: [u32; 3] = [30, 14, 7];

/// The most names one certificate covers (Let's Encrypt's limit is 100).
pub const MAX_NAMES: usize = 100;

pub(super) fn decide(cert: &Certificate, command: CertificateCommand) -> Result<Vec<E>, CertificateError> {
    if cert.retired {
        return match command {
            CertificateCommand::Retire => Ok(Vec::new()),
            _ => Err(CertificateError::Retired),
        };
    }
    match command {
        CertificateCommand::Request { site_id, tenant_id, names, hsts, reason } => {
            if names.all().len() > MAX_NAMES {
                return Err(CertificateError::TooManyNames(MAX_NAMES));
            }
            let under_way = cert
                .pending
                .as_ref()
                .is_some_and(|_| cert.names.as_ref() == Some(&names) && cert.hsts == hsts);
            let automatic_again =
                reason == Reason::Automatic && (cert.current.is_some() || cert.pending.is_some());
            if under_way || automatic_again {
                return Ok(Vec::new());
            }
            Ok(vec![E::IssuanceRequested {
                site_id,
                tenant_id,
                attempt: cert.attempts + 1,
                names,
                hsts,
                reason,
            }])
        }
        CertificateCommand::Renew { .. } => Ok(match (&cert.current, &cert.pending) {
            (Some(_), None) => again(cert, Reason::Renewal).into_iter().collect(),
            _ => Vec::new(),
        }),
        CertificateCommand::Retry { attempt } => {
            let failed_last = cert.last_failure.as_ref().is_some_and(|f| f.attempt == attempt);
            Ok(if cert.pending.is_none() && failed_last && attempt == cert.attempts {
                again(cert, Reason::Retry).into_iter().collect()
            } else {
                Vec::new()
            })
        }
        CertificateCommand::RecordIssued { attempt, certificate, renew_at, took_ms } => {
            current_attempt(cert, attempt)?;
            Ok(vec![E::Issued { attempt, certificate, renew_at, took_ms }])
        }
        CertificateCommand::RecordFailure { attempt, code, reason, now, retry_at } => {
            current_attempt(cert, attempt)?;
            let mut events = vec![E::IssuanceFailed { attempt, code, reason: reason.clone(), retry_at }];
            if let Some(live) = &cert.current {
                let days_left = u32::try_from((live.not_after - now).whole_days().max(0)).unwrap_or(0);
                let crossed: Vec<u32> = WARNING_DAYS.into_iter().filter(|t| days_left <= *t).collect();
                if let Some(most_urgent) = crossed.iter().copied().filter(|t| !cert.warned.contains(t)).min()
                {
                    events.push(E::RenewalWarningDue {
                        days_left: most_urgent,
                        not_after: live.not_after,
                        reason,
                    });
                }
            }
            Ok(events)
        }
        CertificateCommand::RecordInstalled { serial, took_ms } => Ok(match &cert.current {
            Some(live) if live.serial == serial && !live.installed => vec![E::Installed { serial, took_ms }],
            _ => Vec::new(),
        }),
        CertificateCommand::RecordInstallFailed { serial, reason, retry_at } => Ok(match &cert.current {
            Some(live) if live.serial == serial && !live.installed => {
                vec![E::InstallFailed { serial, reason, retry_at }]
            }
            _ => Vec::new(),
        }),
        CertificateCommand::RetryInstall { serial } => Ok(match &cert.current {
            Some(live) if live.serial == serial && !live.installed => vec![E::InstallRetried { serial }],
            _ => Vec::new(),
        }),
        CertificateCommand::SetNames { names } => Ok(match &cert.names {
            Some(current) if *current != names => vec![E::NamesChanged { names }],
            _ => Vec::new(),
        }),
        CertificateCommand::NoticeExpiry { not_after, days_left } => {
            let same = cert.current.as_ref().is_some_and(|live| live.not_after == not_after);
            // An attempt under way ends renewed (no notice needed) or failed (the failure
            // warns about every threshold it finds crossed).
            Ok(if same && cert.pending.is_none() && !cert.warned.contains(&days_left) {
                vec![E::ExpiryNoticeDue { days_left, not_after }]
            } else {
                Vec::new()
            })
        }
        CertificateCommand::Retire => Ok(vec![E::Retired]),
    }
}

/// A new attempt for the names last asked for.
fn again(cert: &Certificate, reason: Reason) -> Option<E> {
    let (Some(site_id), Some(tenant_id), Some(names)) = (cert.site_id, cert.tenant_id, cert.names.clone())
    else {
        return None;
    };
    Some(E::IssuanceRequested {
        site_id,
        tenant_id,
        attempt: cert.attempts + 1,
        names,
        hsts: cert.hsts,
        reason,
    })
}

fn current_attempt(cert: &Certificate, attempt: u32) -> Result<&Pending, CertificateError> {
    cert.pending.as_ref().filter(|p| p.attempt == attempt).ok_or(CertificateError::StaleAttempt(attempt))
}
