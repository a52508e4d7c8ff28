//! The invoice mail: every issued document (invoice, credit note, proforma) is mailed to the
//! tenant's billing address (the buyer's e-mail on the document, else the billing profile's,
//! else the owners') with its PDF attached, the same PDF the query API serves. Keyed by
//! the document's id, so it goes out once however often the event is delivered.

use std::sync::Arc;
use std::time::Duration;

use berth_documents::PdfRenderer;
use berth_domain::billing::{DocumentKind, IssuedDocument};
use berth_domain::event::Event;
use berth_domain::ids::TenantId;
use berth_domain::invoice::{Invoice, InvoiceEvent};
use berth_eventstore::recorded::Recorded;
use berth_eventstore::store::EventStore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;

use crate::context::SagaContext;
use crate::mail::catalog::INVOICE_ISSUED;
use crate::mail::{amount, queue, recent, recipients, Attachment, Outbox, OutgoingMail};
use crate::saga::{Outcome, Saga, Tuning};

/// The invoice mail saga (consumes invoice events).
pub struct InvoiceMail {
    pool: PgPool,
    store: EventStore,
    outbox: Outbox,
    pdf: Arc<Result<PdfRenderer, String>>,
    max_age_hours: u64,
}

/// `[sagas.invoice_mail]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InvoiceMailSettings {
    /// Documents mailed at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
    /// Events recorded longer ago than this many hours are not mailed about (0: any age).
    pub max_age_hours: u64,
}

impl Default for InvoiceMailSettings {
    fn default() -> Self {
        Self { concurrency: 4, takeover_secs: 60, max_age_hours: 168 }
    }
}

impl Saga for InvoiceMail {
    const NAME: &'static str = "invoice_mail";
    const AGGREGATES: &'static [&'static str] = &["invoice"];
    type Settings = InvoiceMailSettings;

    fn build(context: &SagaContext, settings: &InvoiceMailSettings) -> Self {
        Self {
            pool: context.pool.clone(),
            store: context.store.clone(),
            outbox: context.mail.outbox.clone(),
            max_age_hours: settings.max_age_hours,
            pdf: context.pdf.clone(),
        }
    }

    fn tuning(settings: &InvoiceMailSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(event.event, Event::Invoice(InvoiceEvent::Issued { .. }))
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Event::Invoice(InvoiceEvent::Issued { document }) = &event.event else { return Outcome::Done };
        if !recent(event.recorded_at, self.max_age_hours) {
            tracing::info!(invoice_id = %event.aggregate_id, "issued too long ago to mail (sagas.invoice_mail.max_age_hours)");
            return Outcome::Done;
        }
        match self.mail(event, document).await {
            Ok(()) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }
}

impl InvoiceMail {
    #[tracing::instrument(skip_all, fields(invoice_id = %event.aggregate_id))]
    async fn mail(&self, event: &Recorded, document: &IssuedDocument) -> Result<(), Outcome> {
        let tenant = match event.tenant_id {
            Some(tenant) => TenantId::from_uuid(tenant),
            None => {
                let invoice =
                    self.store.load::<Invoice>(&event.aggregate_id).await.map_err(Outcome::later)?;
                invoice
                    .aggregate
                    .tenant_id()
                    .ok_or_else(|| Outcome::Failed("the invoice has no tenant".into()))?
            }
        };
        // The billing e-mail the document was issued with (the profile's at that moment, so a
        // view that has not caught up with a profile set just before cannot misdirect it).
        let to = match document.buyer().email() {
            Some(email) => vec![email.to_string()],
            None => recipients::billing_emails(&self.pool, tenant).await.map_err(Outcome::later)?,
        };
        if to.is_empty() {
            // The identity view has not caught up with the tenant yet.
            return Err(Outcome::RetryLater(format!(
                "no billing address or owner known for tenant {tenant}"
            )));
        }
        let renderer = self.pdf.as_ref().as_ref().map_err(Outcome::later)?;
        let pdf = renderer.render(document).map_err(|e| Outcome::Failed(format!("the PDF: {e}")))?;
        let number = document.number().to_string();
        let context = json!({
            "kind": kind(document.kind()),
            "number": number,
            "issue_date": document.issue_date().to_string(),
            "due_date": document.due_date().map(|d| d.to_string()),
            "total": amount(document.totals().payable),
            "buyer_name": document.buyer().legal_name(),
            "seller_name": document.seller().legal_name(),
        });
        let mail = OutgoingMail {
            key: format!("invoice-issued:{}", event.aggregate_id),
            tenant_id: Some(tenant),
            to,
            template: INVOICE_ISSUED,
            context,
            attachments: vec![Attachment {
                filename: format!("{number}.pdf"),
                content_type: "application/pdf".to_owned(),
                bytes: pdf,
            }],
        };
        queue(&self.outbox, &self.pool, mail).await
    }
}

/// The document's kind, as the mail names it.
fn kind(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Invoice => "Invoice",
        DocumentKind::CreditNote => "Credit note",
        DocumentKind::Proforma => "Proforma invoice",
    }
}
