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

mod issue;
mod subscribe;

pub use issue::{issue_document, IssueRequest, Issued};
pub use subscribe::{plan_by_code, subscribe, SubscribeRequest};

use berth_domain::error::{Refusal, Refused};

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
