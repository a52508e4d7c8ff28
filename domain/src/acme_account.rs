//! The ACME account aggregate: Berth's account with one certificate authority, keyed by the
//! CA's directory URL (as a UUIDv5). Its key and credentials are a sealed secret, referred to
//! by id; the account URL is public. A CA that forgets the account (a restarted test CA) gets
//! a new one, recorded as a new registration.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Refusal, RefusalKind};

/// The aggregate id of the account with the CA at `directory`.
pub fn account_id(directory: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, directory.as_bytes())
}

/// What can be asked of an ACME account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AcmeAccountCommand {
    /// Record a registration with the CA (committed with the sealed credentials).
    Register {
        /// The CA's directory URL.
        directory: String,
        /// The account's URL at the CA.
        account_url: String,
        /// The sealed secret holding the key and credentials.
        key_id: Uuid,
    },
}

/// Something that happened to an ACME account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AcmeAccountEvent {
    /// Berth registered with the CA (again, if the CA forgot the account before).
    Registered {
        /// The CA's directory URL.
        directory: String,
        /// The account's URL at the CA.
        account_url: String,
        /// The sealed secret holding the key and credentials.
        key_id: Uuid,
    },
}

impl DomainEvent for AcmeAccountEvent {
    fn event_type(&self) -> String {
        "AcmeAccountRegistered".to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for AcmeAccountEvent {}

/// ACME account commands are never refused; this type only fills the aggregate's contract.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the ACME account command was refused")]
pub struct AcmeAccountError;

impl Refusal for AcmeAccountError {
    fn code(&self) -> &'static str {
        "acme-account"
    }

    fn kind(&self) -> RefusalKind {
        RefusalKind::Conflict
    }
}

/// The account's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcmeAccount {
    key_id: Option<Uuid>,
    account_url: Option<String>,
}

impl AcmeAccount {
    /// The sealed credentials, once registered.
    pub fn key_id(&self) -> Option<Uuid> {
        self.key_id
    }
}

impl Aggregate for AcmeAccount {
    const TYPE: &'static str = "acme_account";
    type Command = AcmeAccountCommand;
    type Event = AcmeAccountEvent;
    type Error = AcmeAccountError;
    type Services = ();

    async fn handle(
        &mut self,
        command: AcmeAccountCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), AcmeAccountError> {
        let AcmeAccountCommand::Register { directory, account_url, key_id } = command;
        if self.key_id != Some(key_id) {
            sink.write(AcmeAccountEvent::Registered { directory, account_url, key_id }, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: AcmeAccountEvent) {
        let AcmeAccountEvent::Registered { account_url, key_id, .. } = event;
        self.key_id = Some(key_id);
        self.account_url = Some(account_url);
    }
}

impl crate::aggregate::Consequences for AcmeAccount {}
