use cqrs_es::test::TestFramework;
use time::macros::datetime;
use uuid::Uuid;

use super::*;

fn owner() -> UserId {
    UserId::from_uuid(Uuid::from_u128(1))
}

fn registered() -> OrganizationEvent {
    OrganizationEvent::Registered {
        tenant_id: TenantId::from_uuid(Uuid::from_u128(9)),
        name: DisplayName::parse("Acme Hosting").unwrap(),
        owner: owner(),
        owner_email: Email::parse("owner@acme.test").unwrap(),
    }
}

fn invited(role: Role) -> OrganizationEvent {
    OrganizationEvent::MemberInvited {
        invitation_id: InvitationId::from_uuid(Uuid::from_u128(3)),
        email: Email::parse("bob@acme.test").unwrap(),
        role,
        expires_at: datetime!(2030-01-01 0:00 UTC),
    }
}

fn accept(now: time::OffsetDateTime, email: &str) -> OrganizationCommand {
    OrganizationCommand::AcceptInvitation {
        invitation_id: InvitationId::from_uuid(Uuid::from_u128(3)),
        user_id: UserId::from_uuid(Uuid::from_u128(2)),
        email: Email::parse(email).unwrap(),
        now,
    }
}

#[test]
fn an_invitation_is_accepted_once_before_it_expires_by_its_addressee() {
    let accepted = OrganizationEvent::InvitationAccepted {
        invitation_id: InvitationId::from_uuid(Uuid::from_u128(3)),
        user_id: UserId::from_uuid(Uuid::from_u128(2)),
        email: Email::parse("Bob@acme.test").unwrap(),
        role: Role::Member,
    };
    TestFramework::<Organization>::with(())
        .given(vec![registered(), invited(Role::Member)])
        .when(accept(datetime!(2029-06-01 0:00 UTC), "Bob@acme.test"))
        .then_expect_events(vec![accepted.clone()]);
    TestFramework::<Organization>::with(())
        .given(vec![registered(), invited(Role::Member), accepted])
        .when(accept(datetime!(2029-06-01 0:00 UTC), "bob@acme.test"))
        .then_expect_error(OrganizationError::InvitationNotPending);
    TestFramework::<Organization>::with(())
        .given(vec![registered(), invited(Role::Member)])
        .when(accept(datetime!(2030-01-02 0:00 UTC), "bob@acme.test"))
        .then_expect_error(OrganizationError::InvitationExpired);
    TestFramework::<Organization>::with(())
        .given(vec![registered(), invited(Role::Member)])
        .when(accept(datetime!(2029-06-01 0:00 UTC), "eve@acme.test"))
        .then_expect_error(OrganizationError::EmailMismatch);
}

#[test]
fn nobody_grants_a_role_above_their_own() {
    TestFramework::<Organization>::with(())
        .given(vec![registered()])
        .when(OrganizationCommand::Invite {
            invitation_id: InvitationId::from_uuid(Uuid::from_u128(3)),
            email: Email::parse("bob@acme.test").unwrap(),
            role: Role::Owner,
            expires_at: datetime!(2030-01-01 0:00 UTC),
            by_role: Role::Admin,
        })
        .then_expect_error(OrganizationError::RoleTooHigh(Role::Admin, Role::Owner));
}

#[test]
fn the_last_owner_stays() {
    TestFramework::<Organization>::with(())
        .given(vec![registered()])
        .when(OrganizationCommand::RemoveMember { user_id: owner(), by_role: Role::Owner })
        .then_expect_error(OrganizationError::LastOwner);
    TestFramework::<Organization>::with(())
        .given(vec![registered()])
        .when(OrganizationCommand::ChangeRole { user_id: owner(), role: Role::Admin, by_role: Role::Owner })
        .then_expect_error(OrganizationError::LastOwner);
}

#[test]
fn tokens_are_revoked_once() {
    let token_id = TokenId::from_uuid(Uuid::from_u128(5));
    let issued = OrganizationEvent::TokenIssued {
        token_id,
        name: DisplayName::parse("ci").unwrap(),
        role: Role::Member,
        expires_at: None,
    };
    TestFramework::<Organization>::with(())
        .given(vec![registered(), issued.clone()])
        .when(OrganizationCommand::RevokeToken { token_id })
        .then_expect_events(vec![OrganizationEvent::TokenRevoked { token_id }]);
    TestFramework::<Organization>::with(())
        .given(vec![registered(), issued, OrganizationEvent::TokenRevoked { token_id }])
        .when(OrganizationCommand::RevokeToken { token_id })
        .then_expect_error(OrganizationError::TokenAlreadyRevoked);
}
