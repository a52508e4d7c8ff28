//! What a saga is: a process manager that consumes typed events and answers each with an
//! [`Outcome`]; and what a worker is: a long-running loop that is not driven by events (timer
//! firing, node health probes). Both declare a name and typed settings, and are listed once in
//! [`crate::registry`].

use std::future::Future;
use std::time::Duration;

use berth_eventstore::recorded::Recorded;
pub use berth_eventstore::steps::Outcome;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::context::SagaContext;

/// Settings a saga or worker reads from its own section, `[sagas.<name>]` (every field has a
/// default; unknown keys are refused at start).
pub trait SagaSettings: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static {}

impl<T: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static> SagaSettings for T {}

/// How the runtime drives a saga's consumer.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// Events worked on at once by one process.
    pub concurrency: usize,
    /// How long a step may go without a sign of life before another process takes it over.
    pub takeover: Duration,
}

/// A process manager driven by events.
pub trait Saga: Send + Sync + Sized + 'static {
    /// Its name: the durable consumer is `saga_<name>`, its settings `[sagas.<name>]`.
    const NAME: &'static str;
    /// The aggregate types whose events it consumes.
    const AGGREGATES: &'static [&'static str];
    /// Its settings.
    type Settings: SagaSettings;

    /// Builds the saga for one process.
    fn build(context: &SagaContext, settings: &Self::Settings) -> Self;

    /// How its consumer is driven, from its settings.
    fn tuning(settings: &Self::Settings) -> Tuning;

    /// Whether it acts on `event` (the others are acknowledged untouched).
    fn wants(&self, event: &Recorded) -> bool;

    /// Handles one event: done, retry later, or failed with a reason.
    fn handle<'a>(&'a self, event: &'a Recorded) -> impl Future<Output = Outcome> + Send + 'a;
}

/// Work that runs on its own schedule rather than per event.
pub trait Worker: Send + Sync + Sized + 'static {
    /// Its name; its settings are `[sagas.<name>]`.
    const NAME: &'static str;
    /// Its settings.
    type Settings: SagaSettings;

    /// Builds the worker for one process.
    fn build(context: &SagaContext, settings: &Self::Settings) -> Self;

    /// Runs until `shutdown`.
    fn run(self, shutdown: CancellationToken) -> impl Future<Output = ()> + Send;
}
