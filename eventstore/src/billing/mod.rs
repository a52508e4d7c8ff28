//! Billing's commands that span aggregates: issuing a document together with its number, and
//! subscribing together with a coupon's redemption.
//!
//! They live in the event store, not in a saga, because both the command API (an operator
//! issues an invoice, a tenant subscribes) and the sagas (the renewal saga issues the period's
//! invoice) run them, and this crate is the one both depend on — the same reason the vault
//! lives here.
//!
//! Each is a [`crate::unit_of_work::UnitOfWork`] decided on freshly loaded aggregates and
//! committed in one transaction. The aggregates whose version makes the result correct are
//! decided as loaded (`decide_loaded`): the series for gapless numbers, the invoice a credit
//! note corrects for "never more than what remains", the coupon for its redemption count. When
//! another writer got to one of them first, the whole unit is decided again, a bounded number
//! of times, and only then answered with a conflict.

mod batch;
mod issue;
mod payment;
mod sites;
mod subscribe;

pub use issue::{issue_document, IssueRequest, Issued};
pub use payment::{provider_payment_id, record_payment, PaymentRecorded, PaymentRequest};
pub use sites::create_site;
pub use subscribe::{choose_trial_plan, plan_by_code, subscribe, SubscribeRequest, Subscribed};

use berth_domain::billing::{DocumentKind, ExchangeRate, VatRateTable};
use berth_domain::error::{Refusal, Refused};
use berth_domain::exchange_rate::{ExchangeRates, ExchangeRatesError};
use berth_domain::ids::{InvoiceId, SubscriptionId, TenantId};
use berth_domain::invoice::{Invoice, InvoiceError};
use berth_domain::money::Currency;
use berth_domain::plan::PlanCode;
use berth_domain::subscription::Subscription;
use berth_domain::unique::UniqueScope;
use cqrs_es::Aggregate;
use time::Date;

use crate::error::StoreError;
use crate::metadata::CommandMetadata;
use crate::store::EventStore;
use crate::unit_of_work::UnitError;

/// Why a billing command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    /// An aggregate refused; the refusal keeps its type (`downcast_ref`).
    #[error("{0}")]
    Rejected(Refused),
    /// A unique value is held by someone else: the subscription period is invoiced already,
    /// or the tenant has a running subscription.
    #[error("{scope} `{value}` is already taken")]
    Taken {
        /// What kind of value.
        scope: String,
        /// The value.
        value: String,
    },
    /// Other writers kept winning the race; try again later.
    #[error("the aggregates were changed concurrently {attempts} times in a row")]
    Conflict {
        /// How many attempts were made.
        attempts: u32,
    },
    /// The caller's credential was revoked or changed since it was authenticated: nothing
    /// was written.
    #[error("the caller's credential was revoked or changed")]
    CredentialChanged,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BillingError {
    /// The refusal of aggregate type `aggregate`.
    pub(crate) fn refused(aggregate: &'static str, error: impl Refusal) -> Self {
        Self::Rejected(Refused::new(aggregate, error))
    }
}

/// One attempt's failure: a lost race is tried again, anything else is the answer.
pub(crate) enum Attempt {
    Lost,
    Failed(BillingError),
}

impl From<BillingError> for Attempt {
    fn from(error: BillingError) -> Self {
        Self::Failed(error)
    }
}

impl From<StoreError> for Attempt {
    fn from(error: StoreError) -> Self {
        Self::Failed(error.into())
    }
}

impl From<UnitError> for Attempt {
    fn from(error: UnitError) -> Self {
        match error {
            UnitError::Conflict => Self::Lost,
            UnitError::Rejected(refused) => Self::Failed(BillingError::Rejected(refused)),
            UnitError::Taken { scope, value } => Self::Failed(BillingError::Taken { scope, value }),
            UnitError::CredentialChanged => Self::Failed(BillingError::CredentialChanged),
            UnitError::Store(error) => Self::Failed(error.into()),
        }
    }
}

/// The tenant's running subscription (in a trial or a paid period), found through its claim on
/// the write side, where a view could lag.
pub async fn running_subscription(
    store: &EventStore,
    tenant: TenantId,
) -> Result<Option<(SubscriptionId, Subscription)>, StoreError> {
    let owner = store.unique_owner(UniqueScope::TenantSubscription, &tenant.to_string()).await?;
    let Some(id) =
        owner.as_deref().and_then(|o| o.strip_prefix("subscription:")).and_then(|i| i.parse().ok())
    else {
        return Ok(None);
    };
    let id = SubscriptionId::from_uuid(id);
    let subscription = store.load::<Subscription>(&id.to_string()).await?.aggregate;
    Ok(subscription.is_running().then_some((id, subscription)))
}

/// How a provider bills: the trial a new tenant starts with and when payment is due.
#[derive(Debug, Clone)]
pub struct BillingPolicy {
    /// The plan whose trial registration starts (`None`: registration starts none).
    pub trial_plan: Option<PlanCode>,
    /// The currency of that trial (the tenant may choose another before it ends).
    pub trial_currency: Currency,
    /// Days from an invoice's or proforma's issue to its due date.
    pub payment_terms_days: u16,
    /// Days after a card's first failed charge that each retry runs (`[1, 3, 7]`).
    pub dunning_days: Vec<u16>,
    /// Days after the first failed charge (or, without a card, after the due date) that the
    /// tenant's sites are suspended if the document is still unpaid.
    pub grace_days: u16,
}

impl BillingPolicy {
    /// When a document issued on `issue_date` of `kind` is due (a credit note never is).
    pub fn due_date(&self, kind: DocumentKind, issue_date: Date) -> Option<Date> {
        (kind != DocumentKind::CreditNote)
            .then(|| issue_date + time::Duration::days(i64::from(self.payment_terms_days)))
    }
}

/// The request that issues the draft `invoice_id` on `issue_date`, due by `policy` unless
/// `due_date` says otherwise, at `exchange_rate` or else: for a credit note its invoice's
/// rate, for anything else not in lei the rate recorded for the issue date.
pub async fn issue_request(
    store: &EventStore,
    invoice_id: InvoiceId,
    issue_date: Date,
    due_date: Option<Date>,
    supply_date: Option<Date>,
    exchange_rate: Option<ExchangeRate>,
    policy: &BillingPolicy,
) -> Result<IssueRequest, BillingError> {
    let draft = store.load::<Invoice>(&invoice_id.to_string()).await?.aggregate;
    let (Some(kind), Some(currency)) = (draft.kind(), draft.currency()) else {
        return Err(BillingError::refused(Invoice::TYPE, InvoiceError::NotFound));
    };
    let rate = match (exchange_rate, currency.as_str() == "RON", draft.corrects()) {
        (_, true, _) => None,
        (Some(rate), false, _) => Some(rate),
        (None, false, Some(original)) => {
            let original = store.load::<Invoice>(&original.to_string()).await?.aggregate;
            original.document().and_then(|d| d.vat_in_lei()).map(|v| v.rate)
        }
        (None, false, None) => {
            Some(exchange_rate_on(store, currency, issue_date).await?.ok_or_else(|| {
                BillingError::refused(
                    ExchangeRates::TYPE,
                    ExchangeRatesError::NoRate { currency: currency.as_str().to_owned(), date: issue_date },
                )
            })?)
        }
    };
    Ok(IssueRequest {
        invoice_id,
        issue_date,
        due_date: due_date.or_else(|| policy.due_date(kind, issue_date)),
        supply_date,
        exchange_rate: rate,
        rates: VatRateTable::builtin().clone(),
    })
}

/// The rate to lei recorded for `currency` for the latest day on or before `date`.
pub async fn exchange_rate_on(
    store: &EventStore,
    currency: Currency,
    date: Date,
) -> Result<Option<ExchangeRate>, StoreError> {
    Ok(store.load::<ExchangeRates>(currency.as_str()).await?.aggregate.on(date))
}

/// Whether `metadata`'s command already succeeded on `aggregate_type` `aggregate_id`: a repeat
/// whose aggregate now refuses it (the invoice is issued) gets the first outcome back.
pub(crate) async fn already_done(
    store: &EventStore,
    metadata: &CommandMetadata,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Option<i64>, StoreError> {
    let recorded = store.recorded_outcome(metadata.command_id).await?;
    Ok(recorded
        .filter(|r| r.aggregate_type == aggregate_type && r.aggregate_id == aggregate_id)
        .map(|r| r.version))
}
