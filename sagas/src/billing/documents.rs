//! The documents the billing saga makes: their ids, derived from the subscription and what
//! they bill, so a redelivered event finds the document it made before; a draft made once;
//! and issuing it, where every way that can end is an outcome.

use berth_domain::billing::{DocumentKind, IssuedDocument, Quantity, RateCategory, ServicePeriod, UnitCode};
use berth_domain::billing_profile::BillingProfileError;
use berth_domain::ids::{InvoiceId, SubscriptionId, TenantId};
use berth_domain::invoice::{DraftLine, Invoice, InvoiceCommand, InvoiceError};
use berth_domain::money::Money;
use berth_eventstore::billing::{issue_document, issue_request, BillingError, BillingPolicy};
use berth_eventstore::execute::{ExecuteError, RetryPolicy};
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::steps::Outcome;
use berth_eventstore::store::EventStore;
use time::Date;
use uuid::Uuid;

/// A document the saga makes for `subscription`: `what` and what it is about (a period's first
/// day, an event's sequence) name it.
pub fn document_id(what: &str, subscription: SubscriptionId, about: impl std::fmt::Display) -> InvoiceId {
    InvoiceId::from_uuid(Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("berth:billing:{what}:{subscription}:{about}").as_bytes(),
    ))
}

/// One line for `description`, `amount` once, over `period`.
pub fn one_line(description: &str, amount: Money, period: ServicePeriod) -> Result<DraftLine, InvoiceError> {
    let one = Quantity::units(1).map_err(|e| InvoiceError::Line(e.to_string()))?;
    DraftLine::new(description, one, UnitCode::Each, amount, RateCategory::Standard, Some(period))
}

/// What the saga needs to make and issue documents.
pub struct Issuer<'a> {
    /// The store.
    pub store: &'a EventStore,
    /// When documents are due.
    pub policy: &'a BillingPolicy,
    /// How hard to retry a lost race.
    pub retry: RetryPolicy,
    /// Today, by the clock.
    pub today: Date,
}

impl Issuer<'_> {
    /// Creates the draft `create` (a `CreateDraft`) unless the document exists already.
    pub async fn draft(
        &self,
        id: InvoiceId,
        create: InvoiceCommand,
        meta: &CommandMetadata,
    ) -> Result<(), Outcome> {
        let existing = self.store.load::<Invoice>(&id.to_string()).await.map_err(Outcome::later)?;
        if existing.aggregate.kind().is_some() {
            return Ok(());
        }
        match self.store.execute::<Invoice>(&id.to_string(), create, meta, self.retry).await {
            Ok(_) | Err(ExecuteError::Rejected(InvoiceError::AlreadyExists)) => Ok(()),
            Err(ExecuteError::Rejected(refusal)) => Err(Outcome::Failed(format!("draft {id}: {refusal}"))),
            Err(error) => Err(Outcome::later(error)),
        }
    }

    /// Issues the draft `id`: done when it is issued (now or before), and when the tenant has
    /// no billing profile yet (the draft waits for an operator to issue it); later when the
    /// exchange rate of the day is not recorded yet, or storage failed.
    pub async fn issue(&self, id: InvoiceId, meta: &CommandMetadata) -> Outcome {
        let request = match issue_request(self.store, id, self.today, None, None, None, self.policy).await {
            Ok(request) => request,
            Err(error) => return self.settle(id, error),
        };
        match issue_document(self.store, &request, meta, self.retry).await {
            Ok(_) => Outcome::Done,
            Err(error) => self.settle(id, error),
        }
    }

    fn settle(&self, id: InvoiceId, error: BillingError) -> Outcome {
        match error {
            BillingError::Rejected(refused) => {
                if refused.downcast_ref::<BillingProfileError>() == Some(&BillingProfileError::NotFound) {
                    tracing::warn!(invoice = %id, "the tenant has no billing profile: the draft waits to be issued");
                    return Outcome::Done;
                }
                if matches!(refused.downcast_ref::<InvoiceError>(), Some(InvoiceError::Issued { .. })) {
                    return Outcome::Done;
                }
                if refused.code() == "exchange-rate-missing" {
                    return Outcome::later(refused);
                }
                Outcome::Failed(format!("issuing {id}: {refused}"))
            }
            // Another invoice bills the period already.
            BillingError::Taken { scope, .. } if scope == "invoice-period" => Outcome::Done,
            other => Outcome::later(other),
        }
    }
}

/// The draft of `kind` for `tenant` in `lines`' currency.
pub fn create(
    id: InvoiceId,
    tenant: TenantId,
    kind: DocumentKind,
    lines: Vec<DraftLine>,
    corrects: Option<InvoiceId>,
) -> Option<InvoiceCommand> {
    let currency = lines.first()?.unit_price().currency();
    Some(InvoiceCommand::CreateDraft {
        invoice_id: id,
        tenant_id: tenant,
        kind,
        currency,
        lines,
        coupon: None,
        billing: None,
        corrects,
        from_proforma: None,
    })
}

/// What `document` bills after its discounts, as a share of its lines' worth: `amount` of a
/// line price credited back is worth `amount × net / lines`, rounded half-up.
pub fn after_discount(amount: Money, document: &IssuedDocument) -> Option<Money> {
    let totals = document.totals();
    let (net, lines) = (totals.tax_exclusive.amount_minor(), totals.line_net_total.amount_minor());
    if lines == 0 {
        return None;
    }
    let scaled = (i128::from(amount.amount_minor()) * i128::from(net) * 2 + i128::from(lines))
        / (2 * i128::from(lines));
    Money::new(i64::try_from(scaled).ok()?, amount.currency()).ok().filter(|m| m.amount_minor() > 0)
}
