//! Issuing an invoice, credit note or proforma with the next number of its series, in one
//! commit: the document's `Issued`, the series' `NumberTaken`, and for a credit note the
//! `Credited` on its invoice, for an invoice from a proforma the proforma's `Invoiced`.

use berth_domain::billing::{
    DocumentKind, DocumentNumber, ExchangeRate, InvoiceReference, Party, PaymentMeans, VatIdStatus,
    VatRateTable,
};
use berth_domain::billing_profile::BillingProfile;
use berth_domain::ids::InvoiceId;
use berth_domain::invoice::{Invoice, InvoiceCommand, InvoiceError, IssueTerms};
use berth_domain::seller::{Seller, SELLER_ID};
use berth_domain::series::{NumberSeries, SeriesCommand, SeriesPrefix};
use cqrs_es::Aggregate;
use time::Date;
use tracing::instrument;

use super::{already_done, batch, Attempt, BillingError};
use crate::execute::{backoff, RetryPolicy};
use crate::metadata::CommandMetadata;
use crate::store::{EventStore, Loaded};
use crate::unit_of_work::UnitOfWork;

/// What issuing a draft needs besides the draft.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The draft.
    pub invoice_id: InvoiceId,
    /// The issue date (the caller's clock).
    pub issue_date: Date,
    /// When payment is due (invoices and proformas; none for a credit note).
    pub due_date: Option<Date>,
    /// The date of supply, if not the issue date. A credit note always takes its invoice's.
    pub supply_date: Option<Date>,
    /// Lei per unit of the document's currency, for a document not in RON.
    pub exchange_rate: Option<ExchangeRate>,
    /// The VAT rates in force.
    pub rates: VatRateTable,
}

/// An issued document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// Its number.
    pub number: DocumentNumber,
    /// The document aggregate's version after issuing.
    pub version: i64,
    /// True when this repeated a command that had issued it already.
    pub duplicate: bool,
}

/// Issues the draft `request.invoice_id` under `metadata`, deciding again up to
/// `retry.max_attempts` times when another document took the series' next number first.
#[instrument(skip_all, fields(invoice_id = %request.invoice_id, command_id = %metadata.command_id))]
pub async fn issue_document(
    store: &EventStore,
    request: &IssueRequest,
    metadata: &CommandMetadata,
    retry: RetryPolicy,
) -> Result<Issued, BillingError> {
    let id = request.invoice_id.to_string();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_issue(store, request, metadata).await {
            Ok(issued) => return Ok(issued),
            Err(Attempt::Lost) if attempt < retry.max_attempts => {
                tokio::time::sleep(backoff(retry.base_delay, attempt)).await;
            }
            Err(Attempt::Lost) => return Err(BillingError::Conflict { attempts: attempt }),
            Err(Attempt::Failed(BillingError::Rejected(refused))) => {
                // A repeat of a command that succeeded is refused by the issued document;
                // its first outcome is the answer.
                return match already_done(store, metadata, Invoice::TYPE, &id).await? {
                    Some(version) => {
                        let invoice = store.load::<Invoice>(&id).await?.aggregate;
                        let number = invoice.document().map(|d| d.number().clone());
                        match number {
                            Some(number) => Ok(Issued { number, version, duplicate: true }),
                            None => Err(BillingError::Rejected(refused)),
                        }
                    }
                    None => Err(BillingError::Rejected(refused)),
                };
            }
            Err(Attempt::Failed(error)) => return Err(error),
        }
    }
}

async fn try_issue(
    store: &EventStore,
    request: &IssueRequest,
    metadata: &CommandMetadata,
) -> Result<Issued, Attempt> {
    let prepared = prepare(store, request, metadata).await?;
    batch::issue(store, prepared).await
}

/// Everything issuing one document reads but its series, and what it decided from it.
#[derive(Clone)]
pub(super) struct Prepared {
    pub id: String,
    pub request: IssueRequest,
    /// The command's metadata, in the document's tenant.
    pub metadata: CommandMetadata,
    pub draft: Loaded<Invoice>,
    pub kind: DocumentKind,
    pub from_proforma: Option<InvoiceId>,
    /// The invoice a credit note corrects, as loaded.
    pub corrected: Option<(InvoiceId, Loaded<Invoice>)>,
    pub seller: Party,
    pub payment: PaymentMeans,
    pub buyer: Party,
    pub buyer_vat: VatIdStatus,
    pub supply_date: Date,
    pub reference: Option<InvoiceReference>,
    pub prefix: SeriesPrefix,
}

impl Prepared {
    /// The key of its series' turn.
    pub fn series_key(&self) -> String {
        format!("{}:{}", NumberSeries::TYPE, self.prefix.as_str())
    }
}

/// Loads what issuing reads besides the series, side by side; the series' turn then covers only
/// reading the series, deciding and committing.
async fn prepare(
    store: &EventStore,
    request: &IssueRequest,
    metadata: &CommandMetadata,
) -> Result<Prepared, Attempt> {
    let id = request.invoice_id.to_string();
    let draft = store.load::<Invoice>(&id).await?;
    let invoice = &draft.aggregate;
    let (Some(kind), Some(tenant)) = (invoice.kind(), invoice.tenant_id()) else {
        return Err(BillingError::refused(Invoice::TYPE, InvoiceError::NotFound).into());
    };
    let (corrects, from_proforma) = (invoice.corrects(), invoice.from_proforma());
    // An operator's command names no tenant; the document's events belong to its tenant (its
    // audit trail and event stream show them), and so do its number's and its corrections'.
    let mut metadata = metadata.clone();
    metadata.tenant_id.get_or_insert(tenant.as_uuid());
    // A credit note takes the buyer, treatment and date of supply of the invoice it corrects;
    // anything else the tenant's billing profile as it is now.
    let basis = async {
        match corrects {
            Some(original) => {
                store.load::<Invoice>(&original.to_string()).await.map(|l| Basis::Corrects(Box::new(l)))
            }
            None => store
                .load::<BillingProfile>(&tenant.to_string())
                .await
                .map(|p| Basis::Profile(Box::new(p.aggregate))),
        }
    };
    let (seller, basis) = tokio::try_join!(store.load::<Seller>(SELLER_ID), basis)?;
    let seller = seller.aggregate;
    let (seller_party, payment) = seller.details().map_err(|e| BillingError::refused(Seller::TYPE, e))?;
    let prefix = seller.series_for(kind).map_err(|e| BillingError::refused(Seller::TYPE, e))?.clone();
    let (corrected, buyer, buyer_vat, supply_date, reference) = match (basis, corrects) {
        (Basis::Corrects(loaded), Some(original)) => {
            let basis =
                loaded.aggregate.correction_basis().map_err(|e| BillingError::refused(Invoice::TYPE, e))?;
            (
                Some((original, *loaded)),
                basis.buyer,
                basis.buyer_vat,
                basis.supply_date,
                Some(basis.reference),
            )
        }
        (Basis::Profile(profile), _) => {
            let (party, status) =
                profile.buyer().map_err(|e| BillingError::refused(BillingProfile::TYPE, e))?;
            (None, party.clone(), status, request.supply_date.unwrap_or(request.issue_date), None)
        }
        (Basis::Corrects(_), None) => unreachable!("a correction basis is loaded only for a credit note"),
    };
    Ok(Prepared {
        id,
        request: request.clone(),
        metadata,
        draft,
        kind,
        from_proforma,
        corrected,
        seller: seller_party.clone(),
        payment: payment.clone(),
        buyer,
        buyer_vat,
        supply_date,
        reference,
        prefix,
    })
}

/// Decides issuing `prepared` with the next number of `series` into `unit`, and moves `series`
/// past that number. A refusal leaves `series` as it was.
pub(super) async fn stage(
    unit: &mut UnitOfWork<'_>,
    prepared: Prepared,
    series: &mut Loaded<NumberSeries>,
) -> Result<DocumentNumber, Attempt> {
    let Prepared { id, request, draft, kind, from_proforma, corrected, .. } = prepared;
    let number = series
        .aggregate
        .next_number(kind, request.issue_date)
        .map_err(|e| BillingError::refused(NumberSeries::TYPE, e))?;
    let terms = IssueTerms {
        number: number.clone(),
        issue_date: request.issue_date,
        due_date: request.due_date,
        supply_date: prepared.supply_date,
        seller: prepared.seller,
        payment: prepared.payment,
        buyer: prepared.buyer,
        buyer_vat: prepared.buyer_vat,
        rates: request.rates.clone(),
        exchange_rate: request.exchange_rate,
        corrects: prepared.reference,
    };
    // The same pure function the `Issue` command runs: the credit note's total, to record on
    // its invoice in the same commit.
    let document = draft.aggregate.freeze(&terms).map_err(|e| BillingError::refused(Invoice::TYPE, e))?;
    unit.decide_loaded::<Invoice>(&id, draft, InvoiceCommand::Issue { terms: Box::new(terms) }).await?;
    if let Some((original, loaded)) = corrected {
        let credit = InvoiceCommand::RecordCredit {
            credit_note: request.invoice_id,
            number: number.clone(),
            amount: document.totals().payable,
        };
        unit.decide_loaded::<Invoice>(&original.to_string(), loaded, credit).await?;
    }
    if let Some(proforma) = from_proforma {
        let invoiced = InvoiceCommand::MarkInvoiced { invoice: request.invoice_id };
        unit.decide::<Invoice>(&proforma.to_string(), invoiced).await?;
    }
    let take = SeriesCommand::TakeNumber {
        number: number.clone(),
        document: request.invoice_id,
        kind,
        issue_date: request.issue_date,
    };
    unit.decide_in_place::<NumberSeries>(prepared.prefix.as_str(), series, take).await?;
    Ok(number)
}

/// Commits one staged issue alone (its turn held), answering a concurrent repeat with its
/// first outcome.
pub(super) async fn commit_alone(
    store: &EventStore,
    unit: UnitOfWork<'_>,
    id: &str,
    kind: DocumentKind,
    number: DocumentNumber,
    metadata: &CommandMetadata,
) -> Result<Issued, Attempt> {
    let outcome = unit.commit(metadata).await?;
    if outcome.duplicate {
        // The same command committed meanwhile (a concurrent repeat): its number is the one.
        let invoice = store.load::<Invoice>(id).await?.aggregate;
        let number = invoice.document().map(|d| d.number().clone()).unwrap_or(number);
        return Ok(Issued { number, version: outcome.version, duplicate: true });
    }
    counted(kind);
    Ok(Issued { number, version: outcome.version, duplicate: false })
}

/// Counts an issued document.
pub(super) fn counted(kind: DocumentKind) {
    metrics::counter!("berth_documents_issued_total", "kind" => kind_label(kind)).increment(1);
}

/// What a document's buyer comes from.
enum Basis {
    /// The invoice a credit note corrects.
    Corrects(Box<Loaded<Invoice>>),
    /// The tenant's billing profile.
    Profile(Box<BillingProfile>),
}

fn kind_label(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Invoice => "invoice",
        DocumentKind::CreditNote => "credit_note",
        DocumentKind::Proforma => "proforma",
    }
}
