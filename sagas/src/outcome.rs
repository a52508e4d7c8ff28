//! Reporting a saga's outcome as a command, the same way for every saga: a refusal means the
//! state moved on (the site was deleted meanwhile, say) and is an answer, not an error; a
//! storage failure or a lost race is retried with the event, never read as a refusal.

use berth_domain::aggregate::Consequences;
use berth_eventstore::append::SideWrite;
use berth_eventstore::execute::{ExecuteError, RetryPolicy};
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::steps::Outcome;
use berth_eventstore::store::EventStore;

/// Runs `command` on the aggregate `id` as a saga's outcome, with `side_writes` in the same
/// commit.
pub async fn record<A: Consequences>(
    store: &EventStore,
    retry: RetryPolicy,
    id: &str,
    command: A::Command,
    meta: &CommandMetadata,
    side_writes: &[SideWrite],
) -> Outcome {
    match store.execute_with::<A>(id, command, meta, retry, side_writes).await {
        Ok(_) => Outcome::Done,
        Err(ExecuteError::Rejected(refusal)) => {
            tracing::debug!(%refusal, aggregate = A::TYPE, id, "outcome not recorded: the state moved on");
            Outcome::Done
        }
        Err(error) => Outcome::later(error),
    }
}

/// A step's early end, as `?` carries it: an [`Outcome`] other than done.
pub type Step<T> = Result<T, Outcome>;

/// Makes a [`record`]ed outcome a [`Step`], so that "done" goes on and anything else returns.
pub fn step(outcome: Outcome) -> Step<()> {
    match outcome {
        Outcome::Done => Ok(()),
        other => Err(other),
    }
}
