//! The user aggregate: a person who can log in. Their password lives outside the log (see
//! the `credentials` table); the log holds that they registered.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::email::Email;
use crate::error::{Refusal, RefusalKind};
use crate::ids::UserId;
use crate::unique::{Unique, UniqueChange, UniqueScope};

/// What can be asked of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserCommand {
    /// Create the user.
    Register {
        /// The new user's id.
        user_id: UserId,
        /// Their email address (unique across the platform).
        email: Email,
    },
}

/// Something that happened to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserEvent {
    /// The user was created.
    Registered {
        /// The user.
        user_id: UserId,
        /// Their email address.
        email: Email,
    },
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> String {
        "UserRegistered".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a user command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// The user exists.
    #[error("the user already exists")]
    AlreadyRegistered,
}

impl Refusal for UserError {
    fn code(&self) -> &'static str {
        "user-exists"
    }
    fn kind(&self) -> RefusalKind {
        RefusalKind::Conflict
    }
}

/// The user's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    id: Option<UserId>,
    email: Option<Email>,
}

impl User {
    /// The email address, once registered.
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }
}

impl crate::aggregate::Consequences for User {
    fn uniques(&self, event: &UserEvent) -> Vec<UniqueChange> {
        let UserEvent::Registered { user_id, email } = event;
        vec![UniqueChange::Claim(Unique::new(
            UniqueScope::Email,
            email.canonical(),
            format!("user:{user_id}"),
        ))]
    }
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;
    type Services = ();

    async fn handle(
        &mut self,
        command: UserCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), UserError> {
        match command {
            UserCommand::Register { user_id, email } => {
                if self.id.is_some() {
                    return Err(UserError::AlreadyRegistered);
                }
                sink.write(UserEvent::Registered { user_id, email }, self).await;
                Ok(())
            }
        }
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::Registered { user_id, email } => {
                self.id = Some(user_id);
                self.email = Some(email);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;
    use uuid::Uuid;

    use super::*;

    #[test]
    fn registers_once() {
        let registered = UserEvent::Registered {
            user_id: UserId::from_uuid(Uuid::from_u128(7)),
            email: Email::parse("ann@example.com").unwrap(),
        };
        let command = UserCommand::Register {
            user_id: UserId::from_uuid(Uuid::from_u128(7)),
            email: Email::parse("ann@example.com").unwrap(),
        };
        TestFramework::<User>::with(())
            .given_no_previous_events()
            .when(command.clone())
            .then_expect_events(vec![registered.clone()]);
        TestFramework::<User>::with(())
            .given(vec![registered])
            .when(command)
            .then_expect_error(UserError::AlreadyRegistered);
    }
}
