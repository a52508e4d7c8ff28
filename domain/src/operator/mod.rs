//! The operator aggregate: a member of the hosting provider's own staff. Operators act on the
//! platform (nodes, plans), not inside a tenant, and are kept apart from tenant users.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::email::Email;
use crate::error::{Refusal, RefusalKind};
use crate::ids::OperatorId;
use crate::unique::{Unique, UniqueChange, UniqueScope};

/// What can be asked of an operator record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperatorCommand {
    /// Create the operator.
    Add {
        /// The new operator's id.
        operator_id: OperatorId,
        /// Their email.
        email: Email,
    },
}

/// Something that happened to an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperatorEvent {
    /// The operator was created.
    Added {
        /// The operator.
        operator_id: OperatorId,
        /// Their email.
        email: Email,
    },
}

impl DomainEvent for OperatorEvent {
    fn event_type(&self) -> String {
        "OperatorAdded".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why an operator command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// The operator exists.
    #[error("the operator already exists")]
    AlreadyExists,
}

impl Refusal for OperatorError {
    fn code(&self) -> &'static str {
        "operator-exists"
    }
    fn kind(&self) -> RefusalKind {
        RefusalKind::Conflict
    }
}

/// The operator's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    id: Option<OperatorId>,
}

impl crate::aggregate::Consequences for Operator {
    fn uniques(&self, event: &OperatorEvent) -> Vec<UniqueChange> {
        let OperatorEvent::Added { operator_id, email } = event;
        let unique =
            Unique::new(UniqueScope::OperatorEmail, email.canonical(), format!("operator:{operator_id}"));
        vec![UniqueChange::Claim(unique)]
    }
}

impl Aggregate for Operator {
    const TYPE: &'static str = "operator";
    type Command = OperatorCommand;
    type Event = OperatorEvent;
    type Error = OperatorError;
    type Services = ();

    async fn handle(
        &mut self,
        command: OperatorCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), OperatorError> {
        let OperatorCommand::Add { operator_id, email } = command;
        if self.id.is_some() {
            return Err(OperatorError::AlreadyExists);
        }
        sink.write(OperatorEvent::Added { operator_id, email }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: OperatorEvent) {
        let OperatorEvent::Added { operator_id, .. } = event;
        self.id = Some(operator_id);
    }
}
