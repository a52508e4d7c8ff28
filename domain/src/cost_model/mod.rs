//! The cost model aggregate (platform-level, one stream, [`COST_MODEL_ID`]): what running the
//! platform costs beyond the nodes' own monthly prices, which live on each node — storage per
//! GB-month for backups, a price per GB transferred, a fixed monthly overhead — and the monthly
//! budget of each cost category with the share of it that warns.
//!
//! How those prices become a tenant's cost is a pure policy in [`share`]; how the fleet's
//! capacity runs out is in [`crate::capacity`].

pub mod share;
mod terms;
#[cfg(test)]
mod tests;

pub use terms::{Budget, CostCategory, CostTerms, CostTermsError};

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::error::{Refusal, RefusalKind};

/// The id of the one cost model stream.
pub const COST_MODEL_ID: &str = "platform";

/// What can be asked of the cost model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CostModelCommand {
    /// Replace the model with `terms`.
    Set {
        /// The prices and budgets, checked.
        terms: CostTerms,
    },
}

/// Something that happened to the cost model: a public, versioned contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CostModelEvent {
    /// The model was set (the whole of it: prices, overhead, budgets).
    Set {
        /// The prices and budgets.
        terms: CostTerms,
    },
}

impl DomainEvent for CostModelEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Set { .. } => "CostModelSet",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::Set { .. } => "1",
        }
        .to_owned()
    }
}

impl crate::event::Versioned for CostModelEvent {}

/// Why a cost model command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostModelError {
    /// The terms asked for are the ones in force: nothing to record.
    #[error("the cost model already holds these terms")]
    Unchanged,
}

impl Refusal for CostModelError {
    fn code(&self) -> &'static str {
        "cost-model-unchanged"
    }

    fn kind(&self) -> RefusalKind {
        RefusalKind::Conflict
    }
}

/// The cost model as the log holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostModel {
    terms: Option<CostTerms>,
}

impl CostModel {
    /// The terms in force, if any were ever set.
    pub fn terms(&self) -> Option<&CostTerms> {
        self.terms.as_ref()
    }
}

impl crate::aggregate::Consequences for CostModel {}

impl Aggregate for CostModel {
    const TYPE: &'static str = "cost_model";
    type Command = CostModelCommand;
    type Event = CostModelEvent;
    type Error = CostModelError;
    type Services = ();

    async fn handle(
        &mut self,
        command: CostModelCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CostModelError> {
        let CostModelCommand::Set { terms } = command;
        if self.terms.as_ref() == Some(&terms) {
            return Err(CostModelError::Unchanged);
        }
        sink.write(CostModelEvent::Set { terms }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: CostModelEvent) {
        let CostModelEvent::Set { terms } = event;
        self.terms = Some(terms);
    }
}
