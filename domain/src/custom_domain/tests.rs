use cqrs_es::test::TestFramework;
use time::macros::datetime;
use uuid::Uuid;

use super::*;
use crate::aggregate::Consequences;

fn domain() -> DomainName {
    DomainName::parse("shop.customer.test").unwrap()
}

fn site(n: u128) -> SiteId {
    SiteId::from_uuid(Uuid::from_u128(n))
}

fn tenant(n: u128) -> TenantId {
    TenantId::from_uuid(Uuid::from_u128(100 + n))
}

fn token(n: u8) -> VerificationToken {
    VerificationToken::parse(&format!("{n:0>20}")).unwrap()
}

const EXPIRES: OffsetDateTime = datetime!(2030-01-04 00:00 UTC);

fn claim(n: u128) -> CustomDomainCommand {
    CustomDomainCommand::Claim {
        domain: domain(),
        site_id: site(n),
        site_domain: DomainName::parse(&format!("site{n}.berth.test")).unwrap(),
        tenant_id: tenant(n),
        token: token(u8::try_from(n).unwrap()),
        expires_at: EXPIRES,
    }
}

fn claimed(n: u128) -> CustomDomainEvent {
    CustomDomainEvent::Claimed {
        domain: domain(),
        site_id: site(n),
        tenant_id: tenant(n),
        token: token(u8::try_from(n).unwrap()),
        expires_at: EXPIRES,
    }
}

#[test]
fn two_tenants_may_wait_and_the_first_verified_wins() {
    TestFramework::<CustomDomain>::with(())
        .given(vec![claimed(1)])
        .when(claim(2))
        .then_expect_events(vec![claimed(2)]);
    TestFramework::<CustomDomain>::with(())
        .given(vec![claimed(1), claimed(2)])
        .when(CustomDomainCommand::RecordVerified { site_id: site(2) })
        .then_expect_events(vec![CustomDomainEvent::Verified {
            site_id: site(2),
            tenant_id: tenant(2),
            dropped: vec![site(1)],
        }]);
}

#[test]
fn a_verified_domain_cannot_be_claimed_by_another_site() {
    let verified = CustomDomainEvent::Verified { site_id: site(1), tenant_id: tenant(1), dropped: vec![] };
    TestFramework::<CustomDomain>::with(())
        .given(vec![claimed(1), verified.clone()])
        .when(claim(2))
        .then_expect_error(CustomDomainError::ClaimedElsewhere);
    TestFramework::<CustomDomain>::with(())
        .given(vec![claimed(1), verified])
        .when(claim(1))
        .then_expect_events(vec![]);
}

#[test]
fn a_site_cannot_claim_its_own_domain() {
    let mut own = claim(1);
    if let CustomDomainCommand::Claim { site_domain, .. } = &mut own {
        *site_domain = domain();
    }
    TestFramework::<CustomDomain>::with(())
        .given_no_previous_events()
        .when(own)
        .then_expect_error(CustomDomainError::IsPrimary);
}

#[test]
fn checks_count_up_and_a_late_one_expires_the_claim() {
    let at = datetime!(2030-01-01 00:00 UTC);
    TestFramework::<CustomDomain>::with(())
        .given(vec![claimed(1)])
        .when(CustomDomainCommand::RecordMissing {
            site_id: site(1),
            attempt: 1,
            reason: "no TXT record".into(),
            next_check_at: datetime!(2031-01-01 00:00 UTC),
        })
        .then_expect_events(vec![CustomDomainEvent::CheckFailed {
            site_id: site(1),
            attempt: 1,
            reason: "no TXT record".into(),
            // Never past the claim's lapse.
            next_check_at: EXPIRES,
        }]);
    TestFramework::<CustomDomain>::with(())
        .given(vec![claimed(1)])
        .when(CustomDomainCommand::Check { site_id: site(1), now: at })
        .then_expect_events(vec![CustomDomainEvent::CheckDue { site_id: site(1), attempt: 1 }]);
    TestFramework::<CustomDomain>::with(())
        .given(vec![claimed(1)])
        .when(CustomDomainCommand::Check { site_id: site(1), now: EXPIRES })
        .then_expect_events(vec![CustomDomainEvent::ClaimExpired { site_id: site(1) }]);
}

#[test]
fn verification_takes_the_name_and_removal_gives_it_back() {
    let mut state = CustomDomain::default();
    state.apply(claimed(1));
    let verified = CustomDomainEvent::Verified { site_id: site(1), tenant_id: tenant(1), dropped: vec![] };
    state.apply(verified.clone());
    let taken = state.uniques(&verified);
    assert!(
        matches!(&taken[..], [UniqueChange::Claim(u)] if u.scope == UniqueScope::Domain && u.value == "shop.customer.test")
    );
    let removed = CustomDomainEvent::Removed { site_id: site(1), verified: true };
    assert!(matches!(&state.uniques(&removed)[..], [UniqueChange::Release(_)]));
    let failed = CustomDomainEvent::CheckFailed {
        site_id: site(1),
        attempt: 1,
        reason: "none".into(),
        next_check_at: EXPIRES,
    };
    let timers = CustomDomain::timers("shop.customer.test", &failed);
    assert!(matches!(&timers[..], [TimerChange::Schedule { due_at, .. }] if *due_at == EXPIRES));
    assert!(check_timer(&"a.".repeat(120), site(1)).as_str().len() <= 200);
}

#[test]
fn tokens_are_checked() {
    assert!(VerificationToken::parse("0123456789abcdef").is_ok());
    for bad in ["short", "UPPERCASE0123456789", "with space 0123456789", &"a".repeat(65)] {
        assert!(VerificationToken::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(token(7).txt_value(), "berth-verification=00000000000000000007");
}
