//! Organization events: a public, versioned contract.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::email::Email;
use crate::ids::{InvitationId, TenantId, TokenId, UserId};
use crate::name::DisplayName;
use crate::role::Role;

/// Something that happened to an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrganizationEvent {
    /// The organization was created with its first owner.
    Registered {
        /// The tenant.
        tenant_id: TenantId,
        /// Its name.
        name: DisplayName,
        /// Its first owner.
        owner: UserId,
        /// The owner's email.
        owner_email: Email,
    },
    /// Someone was invited.
    MemberInvited {
        /// The invitation.
        invitation_id: InvitationId,
        /// Whom.
        email: Email,
        /// With which role.
        role: Role,
        /// Until when it can be accepted.
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
    },
    /// An invitation was accepted; the user is a member.
    InvitationAccepted {
        /// The invitation.
        invitation_id: InvitationId,
        /// The new member.
        user_id: UserId,
        /// Their email.
        email: Email,
        /// Their role.
        role: Role,
    },
    /// An invitation was withdrawn.
    InvitationRevoked {
        /// The invitation.
        invitation_id: InvitationId,
    },
    /// An invitation's time ran out before it was accepted.
    InvitationExpired {
        /// The invitation.
        invitation_id: InvitationId,
    },
    /// A member's role changed.
    MemberRoleChanged {
        /// The member.
        user_id: UserId,
        /// The new role.
        role: Role,
    },
    /// A member left or was removed.
    MemberRemoved {
        /// The former member.
        user_id: UserId,
    },
    /// An API token was created.
    TokenIssued {
        /// The token.
        token_id: TokenId,
        /// Its name.
        name: DisplayName,
        /// Its role.
        role: Role,
        /// When it stops working, if ever.
        #[serde(with = "time::serde::rfc3339::option")]
        expires_at: Option<OffsetDateTime>,
    },
    /// An API token was revoked.
    TokenRevoked {
        /// The token.
        token_id: TokenId,
    },
    /// Whether every member must log in with a second factor changed.
    TwoFactorRequirementChanged {
        /// Whether it is required now.
        required: bool,
    },
}

impl DomainEvent for OrganizationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Registered { .. } => "OrganizationRegistered",
            Self::MemberInvited { .. } => "MemberInvited",
            Self::InvitationAccepted { .. } => "InvitationAccepted",
            Self::InvitationRevoked { .. } => "InvitationRevoked",
            Self::InvitationExpired { .. } => "InvitationExpired",
            Self::MemberRoleChanged { .. } => "MemberRoleChanged",
            Self::MemberRemoved { .. } => "MemberRemoved",
            Self::TokenIssued { .. } => "TokenIssued",
            Self::TokenRevoked { .. } => "TokenRevoked",
            Self::TwoFactorRequirementChanged { .. } => "TwoFactorRequirementChanged",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
