//! The organization aggregate: a tenant, its members, invitations and API tokens.

mod command;
mod event;
#[cfg(test)]
mod tests;

pub use command::{OrganizationCommand, OrganizationError};
pub use event::OrganizationEvent;

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::email::Email;
use crate::ids::{InvitationId, TenantId, TokenId, UserId};
use crate::name::DisplayName;
use crate::role::Role;
use crate::timer::{TimerChange, TimerKey};

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    /// Waiting to be accepted.
    Pending,
    /// Accepted: the invitee is a member.
    Accepted,
    /// Withdrawn.
    Revoked,
    /// Not accepted in time.
    Expired,
}

impl InvitationStatus {
    /// Every status.
    pub const ALL: [Self; 4] = [Self::Pending, Self::Accepted, Self::Revoked, Self::Expired];

    /// The lowercase name, as the APIs show it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
}

/// An invitation as the organization remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    email: Email,
    role: Role,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    status: InvitationStatus,
}

/// An API token as the organization remembers it (its secret is never here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    role: Role,
    revoked: bool,
}

/// The organization's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    id: Option<TenantId>,
    name: Option<DisplayName>,
    members: BTreeMap<UserId, Role>,
    invitations: BTreeMap<InvitationId, Invitation>,
    tokens: BTreeMap<TokenId, Token>,
}

impl Organization {
    /// A member's role, if they are one.
    pub fn role_of(&self, user: UserId) -> Option<Role> {
        self.members.get(&user).copied()
    }

    /// Whether the organization exists.
    pub fn exists(&self) -> bool {
        self.id.is_some()
    }

    /// Its name, once registered.
    pub fn name(&self) -> Option<&DisplayName> {
        self.name.as_ref()
    }

    /// How many members it has.
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// How many of its API tokens are not revoked.
    pub fn unrevoked_tokens(&self) -> usize {
        self.tokens.values().filter(|t| !t.revoked).count()
    }

    /// How many invitations were still open at `at`.
    pub fn pending_invitations_at(&self, at: OffsetDateTime) -> usize {
        self.invitations
            .values()
            .filter(|i| i.status == InvitationStatus::Pending && i.expires_at > at)
            .count()
    }
}

/// The timer that expires an invitation.
pub fn invitation_timer(invitation_id: InvitationId) -> TimerKey {
    TimerKey::for_id("invitation-expiry", invitation_id.as_uuid())
}

impl crate::aggregate::Consequences for Organization {
    fn timers(_id: &str, event: &OrganizationEvent) -> Vec<TimerChange<OrganizationCommand>> {
        use OrganizationEvent as E;
        match event {
            E::MemberInvited { invitation_id, expires_at, .. } => vec![TimerChange::Schedule {
                key: invitation_timer(*invitation_id),
                due_at: *expires_at,
                command: OrganizationCommand::ExpireInvitation {
                    invitation_id: *invitation_id,
                    now: *expires_at,
                },
            }],
            E::InvitationAccepted { invitation_id, .. } | E::InvitationRevoked { invitation_id } => {
                vec![TimerChange::Cancel { key: invitation_timer(*invitation_id) }]
            }
            _ => Vec::new(),
        }
    }
}

impl Aggregate for Organization {
    const TYPE: &'static str = "organization";
    type Command = OrganizationCommand;
    type Event = OrganizationEvent;
    type Error = OrganizationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: OrganizationCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), OrganizationError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: OrganizationEvent) {
        use OrganizationEvent as E;
        match event {
            E::Registered { tenant_id, name, owner, .. } => {
                self.id = Some(tenant_id);
                self.name = Some(name);
                self.members.insert(owner, Role::Owner);
            }
            E::MemberInvited { invitation_id, email, role, expires_at } => {
                let invitation = Invitation { email, role, expires_at, status: InvitationStatus::Pending };
                self.invitations.insert(invitation_id, invitation);
            }
            E::InvitationAccepted { invitation_id, user_id, role, .. } => {
                if let Some(invitation) = self.invitations.get_mut(&invitation_id) {
                    invitation.status = InvitationStatus::Accepted;
                }
                self.members.insert(user_id, role);
            }
            E::InvitationRevoked { invitation_id } => {
                if let Some(invitation) = self.invitations.get_mut(&invitation_id) {
                    invitation.status = InvitationStatus::Revoked;
                }
            }
            E::InvitationExpired { invitation_id } => {
                if let Some(invitation) = self.invitations.get_mut(&invitation_id) {
                    invitation.status = InvitationStatus::Expired;
                }
            }
            E::MemberRoleChanged { user_id, role } => {
                self.members.insert(user_id, role);
            }
            E::MemberRemoved { user_id } => {
                self.members.remove(&user_id);
            }
            E::TokenIssued { token_id, role, .. } => {
                self.tokens.insert(token_id, Token { role, revoked: false });
            }
            E::TokenRevoked { token_id } => {
                if let Some(token) = self.tokens.get_mut(&token_id) {
                    token.revoked = true;
                }
            }
        }
    }
}
