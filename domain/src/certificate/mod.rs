//! The certificate aggregate: a site's TLS certificate, keyed by the site's id.
//!
//! An issuance is asked for (by the tenant, automatically for a new site, by the renewal
//! timer or by a retry), carried out by the certificates saga against an ACME CA, and ends
//! issued or failed. An issued certificate is installed on the site's node; the one before it
//! serves until then. Renewal starts on a durable timer before expiry; a failed attempt is
//! tried again on another, with backoff; while renewal keeps failing the tenant is warned at
//! 30, 14 and 7 days before the live certificate expires. Thresholds the certificate reaches
//! before its renewal starts have timers of their own (expiry notices), so the tenant hears
//! of each threshold once whether or not renewal is failing. The private key and chain are a
//! sealed secret, referred to by id.

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;
mod values;

pub use command::{CertificateCommand, MAX_NAMES, WARNING_DAYS};
pub use error::CertificateError;
pub use event::{CertificateEvent, IssuedCertificate};
pub use values::{CertificateNames, ChallengeMethod, FailureCode, Reason};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{SiteId, TenantId};
use crate::timer::{TimerChange, TimerKey};

/// The attempt under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Its number.
    pub attempt: u32,
    /// Why it was started.
    pub reason: Reason,
}

/// The last failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// Its number.
    pub attempt: u32,
    /// What failed.
    pub code: FailureCode,
}

/// The latest issued certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    /// Its serial.
    pub serial: String,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// The sealed key and chain.
    pub key_id: uuid::Uuid,
    /// Whether the node serves it yet.
    pub installed: bool,
}

/// The certificate's state, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    site_id: Option<SiteId>,
    tenant_id: Option<TenantId>,
    names: Option<CertificateNames>,
    hsts: bool,
    attempts: u32,
    pending: Option<Pending>,
    last_failure: Option<Failure>,
    current: Option<Live>,
    warned: Vec<u32>,
    retired: bool,
    #[serde(default)]
    failures: u32,
}

impl Certificate {
    /// The attempt under way, if any.
    pub fn pending(&self) -> Option<&Pending> {
        self.pending.as_ref()
    }

    /// The latest issued certificate, if any.
    pub fn current(&self) -> Option<&Live> {
        self.current.as_ref()
    }

    /// The names last asked for.
    pub fn names(&self) -> Option<&CertificateNames> {
        self.names.as_ref()
    }

    /// Whether HTTPS answers carry HSTS.
    pub fn hsts(&self) -> bool {
        self.hsts
    }

    /// Whether the site is gone.
    pub fn retired(&self) -> bool {
        self.retired
    }

    /// Whether any certificate was ever asked for.
    pub fn exists(&self) -> bool {
        self.site_id.is_some()
    }

    /// Attempts that failed in a row since the last issued certificate.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// The timers of the certificate of `site` (aggregate id): renewal, retry and reinstall.
pub fn timer(purpose: &'static str, id: &str) -> TimerKey {
    TimerKey::parse(&format!("{purpose}:{id}")).unwrap_or_else(|_| {
        TimerKey::for_id(purpose, uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, id.as_bytes()))
    })
}

const RENEWAL: &str = "certificate-renewal";
const RETRY: &str = "certificate-retry";
const INSTALL: &str = "certificate-install";

/// The expiry notice timer of threshold `days` (30, 14, 7) of the certificate `id`.
pub fn notice_timer(days: u32, id: &str) -> TimerKey {
    let purpose = match days {
        30 => "certificate-notice-30",
        14 => "certificate-notice-14",
        _ => "certificate-notice-7",
    };
    timer(purpose, id)
}

/// The expiry notice timers a newly issued certificate sets: one per threshold that falls
/// after it is valid and before its renewal starts (from then on a failing renewal warns);
/// the other thresholds' timers, left from the certificate before, are cancelled.
fn notice_timers(
    id: &str,
    certificate: &IssuedCertificate,
    renew_at: OffsetDateTime,
) -> Vec<TimerChange<CertificateCommand>> {
    WARNING_DAYS
        .into_iter()
        .map(|days| {
            let key = notice_timer(days, id);
            let due_at = certificate.not_after - time::Duration::days(i64::from(days));
            if due_at > certificate.not_before && due_at < renew_at {
                let command =
                    CertificateCommand::NoticeExpiry { not_after: certificate.not_after, days_left: days };
                TimerChange::Schedule { key, due_at, command }
            } else {
                TimerChange::Cancel { key }
            }
        })
        .collect()
}

impl crate::aggregate::Consequences for Certificate {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }

    fn timers(id: &str, event: &CertificateEvent) -> Vec<TimerChange<CertificateCommand>> {
        use CertificateEvent as E;
        match event {
            // A retry's own request must not cancel the timer that fires it: the cancel would
            // change the timer before it is marked fired, and the firing would never commit.
            E::IssuanceRequested { reason: Reason::Retry, .. } => Vec::new(),
            E::IssuanceRequested { .. } => vec![TimerChange::Cancel { key: timer(RETRY, id) }],
            E::Issued { renew_at, certificate, .. } => {
                let mut changes = vec![TimerChange::Schedule {
                    key: timer(RENEWAL, id),
                    due_at: *renew_at,
                    command: CertificateCommand::Renew { now: *renew_at },
                }];
                changes.extend(notice_timers(id, certificate, *renew_at));
                changes
            }
            E::IssuanceFailed { attempt, retry_at, .. } => vec![TimerChange::Schedule {
                key: timer(RETRY, id),
                due_at: *retry_at,
                command: CertificateCommand::Retry { attempt: *attempt },
            }],
            E::InstallFailed { serial, retry_at, .. } => vec![TimerChange::Schedule {
                key: timer(INSTALL, id),
                due_at: *retry_at,
                command: CertificateCommand::RetryInstall { serial: serial.clone() },
            }],
            E::Installed { .. } => vec![TimerChange::Cancel { key: timer(INSTALL, id) }],
            E::Retired => {
                let mut changes: Vec<_> =
                    [RENEWAL, RETRY, INSTALL].map(|p| TimerChange::Cancel { key: timer(p, id) }).to_vec();
                changes.extend(WARNING_DAYS.map(|days| TimerChange::Cancel { key: notice_timer(days, id) }));
                changes
            }
            E::InstallRetried { .. }
            | E::RenewalWarningDue { .. }
            | E::ExpiryNoticeDue { .. }
            | E::NamesChanged { .. } => Vec::new(),
        }
    }
}

impl Aggregate for Certificate {
    const TYPE: &'static str = "certificate";
    type Command = CertificateCommand;
    type Event = CertificateEvent;
    type Error = CertificateError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CertificateCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CertificateError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: CertificateEvent) {
        use CertificateEvent as E;
        match event {
            E::IssuanceRequested { site_id, tenant_id, attempt, names, hsts, reason } => {
                self.site_id = Some(site_id);
                self.tenant_id = Some(tenant_id);
                self.names = Some(names);
                self.hsts = hsts;
                self.attempts = attempt;
                self.pending = Some(Pending { attempt, reason });
            }
            E::Issued { certificate, .. } => {
                self.pending = None;
                self.last_failure = None;
                self.failures = 0;
                self.warned.clear();
                self.current = Some(Live {
                    serial: certificate.serial,
                    not_after: certificate.not_after,
                    key_id: certificate.key_id,
                    installed: false,
                });
            }
            E::IssuanceFailed { attempt, code, .. } => {
                self.failures += 1;
                self.pending = None;
                self.last_failure = Some(Failure { attempt, code });
            }
            E::RenewalWarningDue { days_left, .. } | E::ExpiryNoticeDue { days_left, .. } => {
                // Warned at this threshold means warned at every wider one as well.
                let wider: Vec<u32> = WARNING_DAYS
                    .into_iter()
                    .filter(|t| *t >= days_left && !self.warned.contains(t))
                    .collect();
                self.warned.extend(wider);
            }
            E::Installed { .. } => {
                if let Some(live) = self.current.as_mut() {
                    live.installed = true;
                }
            }
            E::NamesChanged { names } => self.names = Some(names),
            E::InstallFailed { .. } | E::InstallRetried { .. } => {}
            E::Retired => {
                self.retired = true;
                self.pending = None;
            }
        }
    }
}
