//! The metadata that travels with every command and every event.

use std::collections::HashMap;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

/// Who asked for a command, and the ids that tie it to a request and a chain of causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMetadata {
    /// The tenant the command acts for (`None` for platform-level commands).
    pub tenant_id: Option<Uuid>,
    /// Who: `user:<id>`, `token:<id>`, `operator:<id>`, `saga:<name>` or `system`.
    pub actor: String,
    /// The command's own id; a repeat of it appends nothing.
    pub command_id: Uuid,
    /// The id shared by everything one user action set off.
    pub correlation_id: Uuid,
    /// The event or command that caused this one, if any.
    pub causation_id: Option<Uuid>,
    /// The HTTP request id at the edge, if the command came over HTTP.
    pub request_id: Option<String>,
    /// The caller's credential, when the command came with one: the append is refused if it
    /// stopped working (or changed role) since it was authenticated, so a credential served
    /// from a cache can never outlive its revocation. Not stored with the events.
    pub credential: Option<CredentialGuard>,
    /// When set, the command acts on an existing aggregate that must belong to `tenant_id`:
    /// one that does not exist or belongs to another tenant is not found, checked on the
    /// state the command is decided on (no separate read).
    pub within_tenant: bool,
}

/// The credential a command was authenticated with, as it was then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialGuard {
    /// The credential's id.
    pub id: Uuid,
    /// Its role then (`None` for an operator).
    pub role: Option<String>,
}

impl CommandMetadata {
    /// Metadata for a fresh command by `actor`: new command id, correlated to itself.
    pub fn new(tenant_id: Option<Uuid>, actor: impl Into<String>) -> Self {
        let command_id = Uuid::now_v7();
        Self {
            tenant_id,
            actor: actor.into(),
            command_id,
            correlation_id: command_id,
            causation_id: None,
            request_id: None,
            credential: None,
            within_tenant: false,
        }
    }

    /// The same metadata, for a command on an existing aggregate of its tenant.
    #[must_use]
    pub fn within_tenant(mut self) -> Self {
        self.within_tenant = true;
        self
    }

    /// The metadata stored on one event of this command: a flat map of strings (the shape
    /// cqrs-es reads back), including the event's own id and recording time.
    pub fn for_event(&self, event_id: Uuid, recorded_at: OffsetDateTime) -> HashMap<String, String> {
        let mut map = HashMap::with_capacity(8);
        map.insert("event_id".to_owned(), event_id.to_string());
        if let Some(tenant) = self.tenant_id {
            map.insert("tenant_id".to_owned(), tenant.to_string());
        }
        map.insert("actor".to_owned(), self.actor.clone());
        map.insert("command_id".to_owned(), self.command_id.to_string());
        map.insert("correlation_id".to_owned(), self.correlation_id.to_string());
        if let Some(causation) = self.causation_id {
            map.insert("causation_id".to_owned(), causation.to_string());
        }
        if let Some(request) = &self.request_id {
            map.insert("request_id".to_owned(), request.clone());
        }
        let stamp = recorded_at.format(&Rfc3339).unwrap_or_default();
        map.insert("recorded_at".to_owned(), stamp);
        map
    }
}
