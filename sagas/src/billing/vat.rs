//! The VIES saga: when a billing profile gets a VAT id that is not verified, asks the VAT-id
//! registry about it and records the answer. A fault (the member state's service down) records
//! nothing and is tried again later; until VIES confirms it, the id gets no reverse charge.
//!
//! VIES itself cannot be reached from here, so the registry is the fake in `vies`, which knows
//! the ids its settings list: valid ones (`known_valid`) and invalid ones (`known_invalid`);
//! about any other id it answers as a member state that is down. A client of the real VIES
//! service goes behind the same `VatRegistry` trait.

use std::sync::Arc;
use std::time::Duration;

use berth_domain::billing_profile::{BillingProfileEvent, VatVerification};
use berth_domain::event::Event;
use berth_domain::ids::TenantId;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};

use crate::context::SagaContext;
use crate::node::saga_metadata;
use crate::saga::{Outcome, Saga, Tuning};
use crate::vies::{check_vat_id, FakeVies, VatCheckError, VatRegistry, ViesError};

/// The VIES saga (consumes billing profile events).
pub struct VatCheck {
    context: SagaContext,
    registry: Arc<dyn VatRegistry>,
}

/// `[sagas.vies]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VatCheckSettings {
    /// VAT ids the registry confirms (`DE123456789`).
    pub known_valid: Vec<String>,
    /// VAT ids the registry says are not registered.
    pub known_invalid: Vec<String>,
}

impl Saga for VatCheck {
    const NAME: &'static str = "vies";
    const AGGREGATES: &'static [&'static str] = &["billing_profile"];
    type Settings = VatCheckSettings;

    fn build(context: &SagaContext, settings: &VatCheckSettings) -> Self {
        let fake = FakeVies::new();
        for id in &settings.known_valid {
            fake.register(id, None);
        }
        fake.refuse(&settings.known_invalid);
        Self { context: context.clone(), registry: Arc::new(fake) }
    }

    fn tuning(_: &VatCheckSettings) -> Tuning {
        Tuning { concurrency: 4, takeover: Duration::from_secs(30) }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            &event.event,
            Event::BillingProfile(BillingProfileEvent::Set { party, vat: VatVerification::Unverified, .. })
                if party.vat_id().is_some()
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(tenant) = event.aggregate_uuid().map(TenantId::from_uuid) else {
            return Outcome::Failed(format!("`{}` is not a tenant id", event.aggregate_id));
        };
        let meta = saga_metadata(event, Self::NAME, "check");
        let now = self.context.clock.now();
        match check_vat_id(&self.context.store, &*self.registry, tenant, now, &meta, self.context.retry).await
        {
            Ok(_) | Err(VatCheckError::Refused(_)) => Outcome::Done,
            Err(VatCheckError::Vies(ViesError::InvalidInput)) => {
                Outcome::Failed("VIES refused the request".into())
            }
            Err(error) => Outcome::later(error),
        }
    }
}
