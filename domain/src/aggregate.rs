//! What Berth asks of every aggregate beyond cqrs-es's `Aggregate`: its refusals are typed
//! ([`Refusal`]), and it declares what its events imply outside themselves: the unique values
//! they take or give back and the timers they schedule or cancel. The event store carries
//! those out in the same transaction as the events, so nothing that calls for them can forget
//! them.

use cqrs_es::Aggregate;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Refusal;
use crate::event::Versioned;
use crate::timer::TimerChange;
use crate::unique::UniqueChange;

/// An aggregate as Berth runs it.
pub trait Consequences:
    Aggregate<Services = (), Error: Refusal, Command: Clone + Serialize + DeserializeOwned, Event: Versioned>
{
    /// The unique values `event` takes or gives back; `self` is the state after the command.
    fn uniques(&self, _event: &Self::Event) -> Vec<UniqueChange> {
        Vec::new()
    }

    /// The tenant this aggregate belongs to, for aggregates a tenant owns (`None` before it
    /// exists, and for platform aggregates). A command made *within* a tenant is refused as
    /// not found when this is another tenant or nobody.
    fn owner(&self) -> Option<uuid::Uuid> {
        None
    }

    /// The timers `event` schedules or cancels on this aggregate (`id`).
    fn timers(_id: &str, _event: &Self::Event) -> Vec<TimerChange<Self::Command>> {
        Vec::new()
    }
}
