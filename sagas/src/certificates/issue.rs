//! One issuance attempt: choose how the CA checks the names, open the order, answer its
//! challenges, take the certificate, clear the answers, and record what came of it. The key
//! and chain are sealed in the vault in the same commit as the `Issued` event that names them.

use std::net::IpAddr;
use std::time::Instant;

use berth_domain::certificate::{
    Certificate, CertificateCommand, CertificateNames, ChallengeMethod, FailureCode,
};
use berth_domain::ids::{SiteId, TenantId};
use berth_domain::site::Placement;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::recorded::Recorded;
use time::Duration;
use zeroize::Zeroizing;

use super::{elapsed_ms, Certificates, SAGA};
use crate::acme::{x509, CaError, IssuedPem};
use crate::node::saga_metadata;
use crate::outcome::{record, step, Step};
use crate::saga::Outcome;

/// How an attempt ended when it did not issue.
pub(super) enum Attempt {
    /// Record it as a failure and try again later.
    Failed(FailureCode, String),
    /// Leave it to a redelivery (Berth's own storage failed).
    Later(Outcome),
}

impl From<CaError> for Attempt {
    fn from(error: CaError) -> Self {
        match error {
            CaError::Storage(reason) => Self::Later(Outcome::RetryLater(reason)),
            other => Self::Failed(other.code(), other.to_string()),
        }
    }
}

impl Certificates {
    #[tracing::instrument(skip_all, fields(site_id = %site_id, attempt))]
    pub(super) async fn issue(&self, event: &Recorded, site_id: SiteId, attempt: u32) -> Step<()> {
        let certificate = self.load(site_id).await?;
        let (Some(pending), Some(names)) = (certificate.pending(), certificate.names()) else {
            return Ok(());
        };
        if pending.attempt != attempt {
            return Ok(());
        }
        let started = Instant::now();
        let id = site_id.to_string();
        let meta = saga_metadata(event, SAGA, &format!("outcome:{attempt}"));
        match self.obtain(event, site_id, names, attempt).await {
            Ok((pem, method)) => self.issued(&certificate, &id, attempt, pem, method, started, &meta).await,
            Err(Attempt::Later(outcome)) => Err(outcome),
            Err(Attempt::Failed(code, reason)) => {
                self.fail(&certificate, &id, attempt, code, reason, &meta).await
            }
        }
    }

    /// Records the certificate, its key and chain sealed in the same commit.
    #[expect(clippy::too_many_arguments, reason = "one attempt's outcome, passed on as it is")]
    async fn issued(
        &self,
        certificate: &Certificate,
        id: &str,
        attempt: u32,
        pem: IssuedPem,
        method: ChallengeMethod,
        started: Instant,
        meta: &CommandMetadata,
    ) -> Step<()> {
        let key_id = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("certificate-key:{id}:{attempt}").as_bytes(),
        );
        let issued = match x509::leaf(&pem.chain, key_id, method) {
            Ok(issued) => issued,
            Err(error) => {
                return self
                    .fail(certificate, id, attempt, FailureCode::Unknown, error.to_string(), meta)
                    .await
            }
        };
        let lifetime = issued.not_after - issued.not_before;
        let before = Duration::days(i64::from(self.settings.renew_before_days));
        // Never sooner than a third of its life from now: a certificate that expires sooner
        // than this clock expects (clock skew, a short-lived CA) is not renewed in a loop.
        let renew_at = (issued.not_after - before).max(self.clock.now() + lifetime / 3);
        let bundle = Zeroizing::new(format!("{}\n{}", pem.key.as_str(), pem.chain));
        let sealed = self.work.vault.seal(key_id, "certificate", bundle.as_bytes());
        metrics::histogram!("berth_certificate_issue_seconds", "method" => method.as_str())
            .record(started.elapsed().as_secs_f64());
        tracing::info!(serial = %issued.serial, not_after = %issued.not_after, method = method.as_str(), "certificate issued");
        let command = CertificateCommand::RecordIssued {
            attempt,
            certificate: issued,
            renew_at,
            took_ms: elapsed_ms(started),
        };
        step(record::<Certificate>(&self.work.store, self.work.retry, id, command, meta, &[sealed]).await)
    }

    async fn fail(
        &self,
        certificate: &Certificate,
        id: &str,
        attempt: u32,
        code: FailureCode,
        reason: String,
        meta: &CommandMetadata,
    ) -> Step<()> {
        tracing::warn!(code = code.as_str(), reason, "certificate attempt failed");
        metrics::counter!("berth_certificate_failures_total", "code" => code.as_str()).increment(1);
        let now = self.clock.now();
        let retry_at = self.retry_at(certificate.failures());
        let command = CertificateCommand::RecordFailure { attempt, code, reason, now, retry_at };
        step(record::<Certificate>(&self.work.store, self.work.retry, id, command, meta, &[]).await)
    }

    /// The certificate, or why not.
    async fn obtain(
        &self,
        event: &Recorded,
        site_id: SiteId,
        names: &CertificateNames,
        attempt: u32,
    ) -> Result<(IssuedPem, ChallengeMethod), Attempt> {
        let site = self.site(site_id).await.map_err(Attempt::Later)?;
        let (Some(placement), Some(tenant)) = (site.node(), site.tenant_id()) else {
            return Err(Attempt::Failed(FailureCode::NotPlaced, "the site is not on a node yet".to_owned()));
        };
        let all = names.all();
        let method = self.method(names, &all, placement, tenant).await?;
        let order = self.ca.order(&all, method).await?;
        // What a failed presentation put up already is left: an answer nobody asks for.
        let presented = self.present(event, attempt, &order, method, placement, tenant).await?;
        let issued = self.ca.finish(&order, method).await;
        self.clear(event, attempt, presented).await;
        Ok((issued?, method))
    }

    /// HTTP-01 when every name resolves to the site's node; DNS-01 when every name lies in a
    /// zone Berth serves for the tenant (always so for a wildcard).
    async fn method(
        &self,
        names: &CertificateNames,
        all: &[String],
        placement: &Placement,
        tenant: TenantId,
    ) -> Result<ChallengeMethod, Attempt> {
        let mut not_pointed = Vec::new();
        if !names.wildcard {
            let node: Option<IpAddr> = placement.address.parse().ok();
            for name in all {
                let addresses = self.resolver.addresses(name).await.unwrap_or_default();
                if node.is_none_or(|node| !addresses.contains(&node)) {
                    not_pointed.push(name.clone());
                }
            }
            if not_pointed.is_empty() {
                return Ok(ChallengeMethod::Http01);
            }
        }
        for name in all {
            let base = name.strip_prefix("*.").unwrap_or(name);
            if self.zone_of(base, tenant).await.map_err(Attempt::Later)?.is_none() {
                let why = if names.wildcard {
                    format!("a wildcard needs DNS-01, and {base} is in no zone Berth serves for the tenant")
                } else {
                    format!(
                        "{} must resolve to the site's node ({}) or lie in a zone Berth serves",
                        not_pointed.join(", "),
                        placement.address
                    )
                };
                return Err(Attempt::Failed(FailureCode::NotPointed, why));
            }
        }
        Ok(ChallengeMethod::Dns01)
    }
}
