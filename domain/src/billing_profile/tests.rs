use cqrs_es::test::TestFramework;
use time::macros::datetime;
use uuid::Uuid;

use super::*;
use crate::billing::tests::{currency, foreign_company, person};

fn tenant() -> TenantId {
    TenantId::from_uuid(Uuid::from_u128(3))
}

fn german() -> Party {
    foreign_company("DE", Some("DE123456789"))
}

fn set(party: Party) -> BillingProfileCommand {
    BillingProfileCommand::Set { tenant_id: tenant(), party, currency: currency("EUR") }
}

fn was_set(party: Party, vat: VatVerification) -> BillingProfileEvent {
    BillingProfileEvent::Set { tenant_id: tenant(), party, currency: currency("EUR"), vat }
}

fn check(valid: bool) -> BillingProfileCommand {
    BillingProfileCommand::RecordVatCheck {
        vat_id: VatId::parse("DE123456789").unwrap(),
        valid,
        checked_at: datetime!(2025-09-01 10:00 UTC),
    }
}

fn verified() -> BillingProfileEvent {
    BillingProfileEvent::VatIdVerified {
        vat_id: VatId::parse("DE123456789").unwrap(),
        checked_at: datetime!(2025-09-01 10:00 UTC),
    }
}

#[test]
fn a_new_vat_id_is_unverified_until_vies_confirms_it() {
    TestFramework::<BillingProfile>::with(())
        .given_no_previous_events()
        .when(set(german()))
        .then_expect_events(vec![was_set(german(), VatVerification::Unverified)]);
    TestFramework::<BillingProfile>::with(())
        .given(vec![was_set(german(), VatVerification::Unverified)])
        .when(check(true))
        .then_expect_events(vec![verified()]);
    TestFramework::<BillingProfile>::with(())
        .given(vec![was_set(german(), VatVerification::Unverified)])
        .when(check(false))
        .then_expect_events(vec![BillingProfileEvent::VatIdRejected {
            vat_id: VatId::parse("DE123456789").unwrap(),
            checked_at: datetime!(2025-09-01 10:00 UTC),
        }]);
}

#[test]
fn changing_the_vat_id_makes_it_unverified_again_and_keeping_it_keeps_the_check() {
    let other = foreign_company("DE", Some("DE987654321"));
    TestFramework::<BillingProfile>::with(())
        .given(vec![was_set(german(), VatVerification::Unverified), verified()])
        .when(set(other.clone()))
        .then_expect_events(vec![was_set(other, VatVerification::Unverified)]);
    let renamed = crate::billing::Party::company(
        "Example Renamed Ltd",
        german().address().clone(),
        Some(VatId::parse("DE123456789").unwrap()),
        None,
        None,
    )
    .unwrap();
    TestFramework::<BillingProfile>::with(())
        .given(vec![was_set(german(), VatVerification::Unverified), verified()])
        .when(set(renamed.clone()))
        .then_expect_events(vec![was_set(renamed, VatVerification::Verified)]);
}

#[test]
fn an_answer_about_an_id_the_profile_no_longer_has_is_dropped() {
    let other = foreign_company("DE", Some("DE987654321"));
    TestFramework::<BillingProfile>::with(())
        .given(vec![was_set(other, VatVerification::Unverified)])
        .when(check(true))
        .then_expect_events(vec![]);
    TestFramework::<BillingProfile>::with(())
        .given_no_previous_events()
        .when(check(true))
        .then_expect_error(BillingProfileError::NotFound);
}

#[test]
fn only_a_verified_id_counts_for_tax_and_currencies_are_the_offered_ones() {
    let mut profile = BillingProfile::default();
    cqrs_es::Aggregate::apply(&mut profile, was_set(german(), VatVerification::Unverified));
    assert_eq!(profile.buyer().unwrap().1, crate::billing::VatIdStatus::Unverified);
    cqrs_es::Aggregate::apply(&mut profile, verified());
    assert_eq!(profile.buyer().unwrap().1, crate::billing::VatIdStatus::Verified);
    assert_eq!(VatVerification::Invalid.tax_status(), crate::billing::VatIdStatus::Unverified);
    TestFramework::<BillingProfile>::with(())
        .given_no_previous_events()
        .when(BillingProfileCommand::Set {
            tenant_id: tenant(),
            party: person("RO"),
            currency: currency("GBP"),
        })
        .then_expect_error(BillingProfileError::CurrencyNotOffered("GBP".into()));
}
