//! The certificate expiry notice: when a certificate reaches 30, 14 or 7 days before expiry
//! unrenewed (its expiry notice timer, or a failing renewal's warning), the tenant's owners are
//! mailed, once per certificate, expiry and threshold. A certificate renewed or retired since
//! the event gets no mail.

use berth_domain::aggregate::Consequences;
use berth_domain::certificate::{Certificate, CertificateEvent};
use berth_domain::event::Event;
use berth_domain::ids::TenantId;
use berth_eventstore::recorded::Recorded;
use serde_json::json;
use time::OffsetDateTime;

use crate::context::SagaContext;
use crate::mail::catalog::CERTIFICATE_EXPIRING;
use crate::mail::{recipients, NoticeSettings, Notifier, OutgoingMail};
use crate::saga::{Outcome, Saga, Tuning};

/// The certificate notice saga (consumes certificate events).
pub struct CertificateMail {
    notices: Notifier,
}

impl Saga for CertificateMail {
    const NAME: &'static str = "certificate_mail";
    const AGGREGATES: &'static [&'static str] = &["certificate"];
    type Settings = NoticeSettings;

    fn build(context: &SagaContext, settings: &NoticeSettings) -> Self {
        Self { notices: Notifier::new(context, settings) }
    }

    fn tuning(settings: &NoticeSettings) -> Tuning {
        settings.tuning()
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            event.event,
            Event::Certificate(
                CertificateEvent::ExpiryNoticeDue { .. } | CertificateEvent::RenewalWarningDue { .. }
            )
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let (days_left, not_after, reason) = match &event.event {
            Event::Certificate(CertificateEvent::ExpiryNoticeDue { days_left, not_after }) => {
                (*days_left, *not_after, None)
            }
            Event::Certificate(CertificateEvent::RenewalWarningDue { days_left, not_after, reason }) => {
                (*days_left, *not_after, Some(reason.as_str()))
            }
            _ => return Outcome::Done,
        };
        if !self.notices.recent(event.recorded_at) {
            tracing::info!(site_id = %event.aggregate_id, "told too long ago to mail (sagas.certificate_mail.max_age_hours)");
            return Outcome::Done;
        }
        match self.notice(event, days_left, not_after, reason).await {
            Ok(()) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }
}

impl CertificateMail {
    #[tracing::instrument(skip_all, fields(site_id = %event.aggregate_id, days_left))]
    async fn notice(
        &self,
        event: &Recorded,
        days_left: u32,
        not_after: OffsetDateTime,
        reason: Option<&str>,
    ) -> Result<(), Outcome> {
        let certificate = self
            .notices
            .store
            .load::<Certificate>(&event.aggregate_id)
            .await
            .map_err(Outcome::later)?
            .aggregate;
        let still_live = certificate.current().is_some_and(|live| live.not_after == not_after);
        let Some(names) = certificate.names().filter(|_| still_live && !certificate.retired()) else {
            return Ok(()); // renewed or retired since: nothing to tell
        };
        let tenant = match event.tenant_id.or_else(|| certificate.owner()) {
            Some(tenant) => TenantId::from_uuid(tenant),
            None => return Err(Outcome::Failed("the certificate has no tenant".into())),
        };
        let to = recipients::owner_emails(&self.notices.pool, tenant).await.map_err(Outcome::later)?;
        if to.is_empty() {
            return Err(Outcome::RetryLater(format!("no owner known for tenant {tenant}")));
        }
        let mail = OutgoingMail {
            key: format!(
                "certificate-expiring:{}:{}:{days_left}",
                event.aggregate_id,
                not_after.unix_timestamp()
            ),
            tenant_id: Some(tenant),
            to,
            template: CERTIFICATE_EXPIRING,
            context: json!({
                "domain": names.primary.as_str(),
                "days_left": days_left,
                "not_after": not_after.date().to_string(),
                "reason": reason,
            }),
            attachments: Vec::new(),
        };
        self.notices.queue(mail).await
    }
}
