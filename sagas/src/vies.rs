//! VAT-id checks against VIES, the EU's VAT Information Exchange System, behind a trait.
//!
//! VIES cannot be reached from here, so the real client is not written yet; [`FakeVies`]
//! answers the way VIES does. VIES asks the member state's own registry: an id it knows is
//! valid (with the name and address registered for it, where the state shares them), an id it
//! does not know is invalid, and a member state whose service is down answers with a fault
//! (`MS_UNAVAILABLE`), as does VIES itself when overloaded (`MS_MAX_CONCURRENT_REQ`,
//! `GLOBAL_MAX_CONCURRENT_REQ`) or slow (`TIMEOUT`). A fault is not an answer: the id stays
//! unverified and the check is tried again later — it is never recorded as invalid, and an
//! unverified id never gets reverse charge.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use berth_domain::billing::VatId;
use berth_domain::billing_profile::{BillingProfile, BillingProfileCommand, BillingProfileError};
use berth_domain::ids::TenantId;
use berth_eventstore::error::StoreError;
use berth_eventstore::execute::{ExecuteError, RetryPolicy};
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::store::EventStore;
use futures::future::BoxFuture;
use time::OffsetDateTime;

/// What VIES said about an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViesAnswer {
    /// Registered; the name the member state has for it, where it shares it.
    Valid {
        /// The registered name.
        name: Option<String>,
    },
    /// Not registered.
    Invalid,
}

/// Why VIES gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViesError {
    /// The member state's service or VIES is down, overloaded or slow (`MS_UNAVAILABLE`,
    /// `SERVICE_UNAVAILABLE`, `MS_MAX_CONCURRENT_REQ`, `GLOBAL_MAX_CONCURRENT_REQ`, `TIMEOUT`).
    #[error("VIES could not answer ({0}); try again later")]
    Unavailable(&'static str),
    /// VIES refused the request as malformed (`INVALID_INPUT`).
    #[error("VIES refused the request as malformed")]
    InvalidInput,
}

/// A VAT-id registry (VIES, or a stand-in).
pub trait VatRegistry: Send + Sync + 'static {
    /// Asks about `vat_id`.
    fn check<'a>(&'a self, vat_id: &'a VatId) -> BoxFuture<'a, Result<ViesAnswer, ViesError>>;
}

/// A VIES that knows the ids it is told about and whose member states can be taken down.
#[derive(Debug, Default)]
pub struct FakeVies {
    registered: Mutex<HashMap<String, Option<String>>>,
    down: Mutex<HashSet<String>>,
    calls: AtomicUsize,
}

impl FakeVies {
    /// A registry that knows no id.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `vat_id` (normalised, like `DE123456789`) under `name`.
    pub fn register(&self, vat_id: &str, name: Option<&str>) {
        self.registered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(vat_id.to_owned(), name.map(str::to_owned));
    }

    /// Makes the member state with VAT prefix `prefix` (`DE`, `EL`) answer `MS_UNAVAILABLE`.
    pub fn take_down(&self, prefix: &str) {
        self.down.lock().unwrap_or_else(|p| p.into_inner()).insert(prefix.to_owned());
    }

    /// Brings the member state back.
    pub fn bring_up(&self, prefix: &str) {
        self.down.lock().unwrap_or_else(|p| p.into_inner()).remove(prefix);
    }

    /// How many checks were asked for.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl VatRegistry for FakeVies {
    fn check<'a>(&'a self, vat_id: &'a VatId) -> BoxFuture<'a, Result<ViesAnswer, ViesError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let prefix = &vat_id.as_str()[..2];
            if self.down.lock().unwrap_or_else(|p| p.into_inner()).contains(prefix) {
                return Err(ViesError::Unavailable("MS_UNAVAILABLE"));
            }
            let registered = self.registered.lock().unwrap_or_else(|p| p.into_inner());
            Ok(match registered.get(vat_id.as_str()) {
                Some(name) => ViesAnswer::Valid { name: name.clone() },
                None => ViesAnswer::Invalid,
            })
        })
    }
}

/// How a check of a tenant's VAT id ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VatCheck {
    /// The profile has no VAT id: nothing to check.
    NoVatId,
    /// VIES confirmed it, and that is recorded.
    Verified,
    /// VIES says it is not registered, and that is recorded.
    Rejected,
}

/// Why a check did not end with an answer recorded.
#[derive(Debug, thiserror::Error)]
pub enum VatCheckError {
    /// VIES gave no answer: try again later.
    #[error(transparent)]
    Vies(#[from] ViesError),
    /// The profile refused (it does not exist).
    #[error(transparent)]
    Refused(BillingProfileError),
    /// Storage failed or kept conflicting: try again later.
    #[error("{0}")]
    Store(String),
}

impl From<StoreError> for VatCheckError {
    fn from(error: StoreError) -> Self {
        Self::Store(error.to_string())
    }
}

/// Checks the VAT id of `tenant`'s billing profile with `registry` and records the answer at
/// `now` under `metadata`. A fault records nothing.
pub async fn check_vat_id(
    store: &EventStore,
    registry: &dyn VatRegistry,
    tenant: TenantId,
    now: OffsetDateTime,
    metadata: &CommandMetadata,
    retry: RetryPolicy,
) -> Result<VatCheck, VatCheckError> {
    let id = tenant.to_string();
    let profile = store.load::<BillingProfile>(&id).await?.aggregate;
    let Some(vat_id) = profile.vat_id().cloned() else { return Ok(VatCheck::NoVatId) };
    let valid = matches!(registry.check(&vat_id).await?, ViesAnswer::Valid { .. });
    let command = BillingProfileCommand::RecordVatCheck { vat_id, valid, checked_at: now };
    match store.execute::<BillingProfile>(&id, command, metadata, retry).await {
        Ok(_) => Ok(if valid { VatCheck::Verified } else { VatCheck::Rejected }),
        Err(ExecuteError::Rejected(refusal)) => Err(VatCheckError::Refused(refusal)),
        Err(other) => Err(VatCheckError::Store(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_fake_knows_registered_ids_and_faults_for_a_state_that_is_down() {
        let vies = FakeVies::new();
        vies.register("DE123456789", Some("Example GmbH"));
        let known = VatId::parse("DE123456789").unwrap();
        let unknown = VatId::parse("DE987654321").unwrap();
        assert_eq!(vies.check(&known).await, Ok(ViesAnswer::Valid { name: Some("Example GmbH".into()) }));
        assert_eq!(vies.check(&unknown).await, Ok(ViesAnswer::Invalid));
        vies.take_down("DE");
        assert_eq!(vies.check(&known).await, Err(ViesError::Unavailable("MS_UNAVAILABLE")));
        vies.bring_up("DE");
        assert!(vies.check(&known).await.is_ok());
        assert_eq!(vies.calls(), 4);
    }
}
