//! The sagas the `sagas` role runs.

use async_nats::jetstream;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What every saga needs to run.
#[derive(Clone)]
pub struct SagaContext {
    /// The database (event store and saga deadlines).
    pub pool: PgPool,
    /// JetStream, where sagas consume events.
    pub jetstream: jetstream::Context,
    /// The event stream's name.
    pub stream: String,
    /// The event subjects' prefix.
    pub subject_prefix: String,
}

/// Starts every registered saga on `tasks`. Provisioning, certificates, backups and billing
/// register here as they are built; today the list is empty, so the role only holds its place
/// in the process layout.
pub fn start_all(_context: &SagaContext, _tasks: &mut JoinSet<()>, _shutdown: &CancellationToken) -> usize {
    0
}
