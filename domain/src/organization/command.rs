//! Organization commands and the rules that decide them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{InvitationStatus, Organization, OrganizationEvent as E};
use crate::email::Email;
use crate::error::{Refusal, RefusalKind};
use crate::ids::{InvitationId, TenantId, TokenId, UserId};
use crate::name::DisplayName;
use crate::role::Role;

/// What can be asked of an organization. `by_role` is the caller's role, checked against what
/// they try to grant; `now` is the time the command was received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum OrganizationCommand {
    /// Create the organization with its first owner.
    Register { tenant_id: TenantId, name: DisplayName, owner: UserId, owner_email: Email },
    /// Invite someone by email.
    Invite {
        invitation_id: InvitationId,
        email: Email,
        role: Role,
        expires_at: OffsetDateTime,
        by_role: Role,
    },
    /// Accept an invitation as `user_id` (whose address is `email`).
    AcceptInvitation { invitation_id: InvitationId, user_id: UserId, email: Email, now: OffsetDateTime },
    /// Withdraw a pending invitation.
    RevokeInvitation { invitation_id: InvitationId },
    /// Mark a pending invitation expired (its timer fires at `expires_at`).
    ExpireInvitation { invitation_id: InvitationId, now: OffsetDateTime },
    /// Change a member's role.
    ChangeRole { user_id: UserId, role: Role, by_role: Role },
    /// Remove a member.
    RemoveMember { user_id: UserId, by_role: Role },
    /// Create an API token.
    IssueToken {
        token_id: TokenId,
        name: DisplayName,
        role: Role,
        expires_at: Option<OffsetDateTime>,
        by_role: Role,
    },
    /// Revoke an API token.
    RevokeToken { token_id: TokenId },
    /// Require (or stop requiring) a second factor of every member; owners only.
    RequireTwoFactor { required: bool, by_role: Role },
}

/// Why an organization command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrganizationError {
    /// `Register` on an existing organization.
    #[error("the organization already exists")]
    AlreadyRegistered,
    /// Any other command on a missing organization.
    #[error("the organization does not exist")]
    NotFound,
    /// No such invitation.
    #[error("no such invitation")]
    InvitationNotFound,
    /// The invitation was accepted or revoked already.
    #[error("the invitation is no longer pending")]
    InvitationNotPending,
    /// The invitation's time ran out.
    #[error("the invitation has expired")]
    InvitationExpired,
    /// The invitation was for another address.
    #[error("the invitation was sent to another email address")]
    EmailMismatch,
    /// The user is a member already.
    #[error("the user is already a member")]
    AlreadyMember,
    /// No such member.
    #[error("no such member")]
    MemberNotFound,
    /// The change would leave the organization without an owner.
    #[error("an organization keeps at least one owner")]
    LastOwner,
    /// The caller tried to grant (or touch) a role above their own.
    #[error("the {} role cannot grant or change the {} role", .0.as_str(), .1.as_str())]
    RoleTooHigh(Role, Role),
    /// An expiry in the past.
    #[error("the expiry must lie in the future")]
    ExpiryInPast,
    /// No such token.
    #[error("no such token")]
    TokenNotFound,
    /// The token is revoked already.
    #[error("the token is already revoked")]
    TokenAlreadyRevoked,
}

impl Refusal for OrganizationError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyRegistered => "organization-exists",
            Self::NotFound => "organization-not-found",
            Self::InvitationNotFound => "invitation-not-found",
            Self::InvitationNotPending => "invitation-not-pending",
            Self::InvitationExpired => "invitation-expired",
            Self::EmailMismatch => "invitation-email-mismatch",
            Self::AlreadyMember => "already-member",
            Self::MemberNotFound => "member-not-found",
            Self::LastOwner => "last-owner",
            Self::RoleTooHigh(..) => "role-too-high",
            Self::ExpiryInPast => "expiry-in-past",
            Self::TokenNotFound => "token-not-found",
            Self::TokenAlreadyRevoked => "token-revoked",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound | Self::InvitationNotFound | Self::MemberNotFound | Self::TokenNotFound => {
                RefusalKind::NotFound
            }
            Self::RoleTooHigh(..) | Self::ExpiryInPast | Self::EmailMismatch => RefusalKind::Rule,
            _ => RefusalKind::Conflict,
        }
    }
}

/// Decides the events for `command`. Pure.
pub(super) fn decide(org: &Organization, command: OrganizationCommand) -> Result<Vec<E>, OrganizationError> {
    use OrganizationCommand as C;
    use OrganizationError as Error;
    if !org.exists() && !matches!(command, C::Register { .. }) {
        return Err(Error::NotFound);
    }
    let grant =
        |by: Role, role: Role| if by.may_grant(role) { Ok(()) } else { Err(Error::RoleTooHigh(by, role)) };
    match command {
        C::Register { tenant_id, name, owner, owner_email } => {
            if org.exists() {
                return Err(Error::AlreadyRegistered);
            }
            Ok(vec![E::Registered { tenant_id, name, owner, owner_email }])
        }
        C::Invite { invitation_id, email, role, expires_at, by_role } => {
            grant(by_role, role)?;
            Ok(vec![E::MemberInvited { invitation_id, email, role, expires_at }])
        }
        C::AcceptInvitation { invitation_id, user_id, email, now } => {
            let invitation = org.invitations.get(&invitation_id).ok_or(Error::InvitationNotFound)?;
            if invitation.status != InvitationStatus::Pending {
                return Err(Error::InvitationNotPending);
            }
            if invitation.expires_at <= now {
                return Err(Error::InvitationExpired);
            }
            if invitation.email.canonical() != email.canonical() {
                return Err(Error::EmailMismatch);
            }
            if org.members.contains_key(&user_id) {
                return Err(Error::AlreadyMember);
            }
            Ok(vec![E::InvitationAccepted { invitation_id, user_id, email, role: invitation.role }])
        }
        C::ExpireInvitation { invitation_id, now } => {
            let invitation = org.invitations.get(&invitation_id).ok_or(Error::InvitationNotFound)?;
            match invitation.status {
                InvitationStatus::Pending if invitation.expires_at <= now => {
                    Ok(vec![E::InvitationExpired { invitation_id }])
                }
                // Accepted or revoked meanwhile, or fired early: nothing to do.
                _ => Ok(Vec::new()),
            }
        }
        C::RevokeInvitation { invitation_id } => {
            let invitation = org.invitations.get(&invitation_id).ok_or(Error::InvitationNotFound)?;
            if invitation.status != InvitationStatus::Pending {
                return Err(Error::InvitationNotPending);
            }
            Ok(vec![E::InvitationRevoked { invitation_id }])
        }
        C::ChangeRole { user_id, role, by_role } => {
            let current = org.role_of(user_id).ok_or(Error::MemberNotFound)?;
            grant(by_role, current)?;
            grant(by_role, role)?;
            if current == role {
                return Ok(Vec::new());
            }
            if current == Role::Owner && owners(org) == 1 {
                return Err(Error::LastOwner);
            }
            Ok(vec![E::MemberRoleChanged { user_id, role }])
        }
        C::RemoveMember { user_id, by_role } => {
            let current = org.role_of(user_id).ok_or(Error::MemberNotFound)?;
            grant(by_role, current)?;
            if current == Role::Owner && owners(org) == 1 {
                return Err(Error::LastOwner);
            }
            Ok(vec![E::MemberRemoved { user_id }])
        }
        C::IssueToken { token_id, name, role, expires_at, by_role } => {
            grant(by_role, role)?;
            Ok(vec![E::TokenIssued { token_id, name, role, expires_at }])
        }
        C::RevokeToken { token_id } => {
            let token = org.tokens.get(&token_id).ok_or(Error::TokenNotFound)?;
            if token.revoked {
                return Err(Error::TokenAlreadyRevoked);
            }
            Ok(vec![E::TokenRevoked { token_id }])
        }
        C::RequireTwoFactor { required, by_role } => {
            grant(by_role, Role::Owner)?;
            if org.two_factor_required == required {
                return Ok(Vec::new());
            }
            Ok(vec![E::TwoFactorRequirementChanged { required }])
        }
    }
}

fn owners(org: &Organization) -> usize {
    org.members.values().filter(|r| **r == Role::Owner).count()
}
