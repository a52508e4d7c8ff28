//! The sealer as a worker of the sagas process: it needs the vault (its signing key is a
//! sealed secret), which that process holds. See `berth_eventstore::sealer`.

use berth_eventstore::sealer::{Sealer, SealerSettings};
use tokio_util::sync::CancellationToken;

use crate::context::SagaContext;
use crate::saga::Worker;

/// Seals the log as it grows.
pub struct Sealing(Sealer);

impl Worker for Sealing {
    const NAME: &'static str = "sealer";
    type Settings = SealerSettings;

    fn build(context: &SagaContext, settings: &SealerSettings) -> Self {
        Self(Sealer::new(context.pool.clone(), context.vault.clone(), context.feed.clone(), settings.clone()))
    }

    async fn run(self, shutdown: CancellationToken) {
        self.0.run(shutdown).await;
    }
}
