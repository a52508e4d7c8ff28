use cqrs_es::test::TestFramework;
use time::macros::{date, datetime};

use super::*;
use crate::money::Currency;

type Test = TestFramework<Dunning>;

fn invoice() -> InvoiceId {
    InvoiceId::from_uuid(uuid::Uuid::from_u128(7))
}

fn opened(card: bool) -> DunningEvent {
    DunningEvent::Opened {
        invoice_id: invoice(),
        tenant_id: TenantId::from_uuid(uuid::Uuid::from_u128(1)),
        subscription_id: None,
        amount: Money::new(1190, Currency::parse("EUR").unwrap()).unwrap(),
        card,
        grace_ends_at: (!card).then_some(datetime!(2030-09-15 00:00 UTC)),
    }
}

fn declined(attempt: u32, next: Option<OffsetDateTime>) -> DunningCommand {
    DunningCommand::RecordAttempt {
        attempt,
        result: AttemptResult::Declined {
            payment_intent: None,
            code: "card_declined".into(),
            message: "no".into(),
        },
        next_retry_at: next,
        grace_ends_at: datetime!(2030-09-15 09:00 UTC) + time::Duration::days(i64::from(attempt)),
    }
}

#[test]
fn grace_runs_from_the_first_failure_and_later_failures_keep_it() {
    let first = datetime!(2030-09-02 09:00 UTC);
    let failed_once = DunningEvent::AttemptFailed {
        attempt: 1,
        payment_intent: None,
        code: "card_declined".into(),
        message: "no".into(),
        next_retry_at: Some(first),
        grace_ends_at: datetime!(2030-09-16 09:00 UTC),
    };
    Test::with(())
        .given(vec![opened(true)])
        .when(declined(1, Some(first)))
        .then_expect_events(vec![failed_once.clone()]);
    Test::with(()).given(vec![opened(true), failed_once.clone()]).when(declined(2, None)).then_expect_events(
        vec![DunningEvent::AttemptFailed {
            attempt: 2,
            payment_intent: None,
            code: "card_declined".into(),
            message: "no".into(),
            next_retry_at: None,
            grace_ends_at: datetime!(2030-09-16 09:00 UTC),
        }],
    );
    // A repeated report of attempt 1 records nothing; attempt 3 before 2 is refused.
    Test::with(())
        .given(vec![opened(true), failed_once.clone()])
        .when(declined(1, None))
        .then_expect_events(vec![]);
    Test::with(())
        .given(vec![opened(true), failed_once])
        .when(declined(3, None))
        .then_expect_error(DunningError::AttemptOutOfOrder { expected: 2, got: 3 });
}

#[test]
fn a_failure_schedules_the_next_attempt_and_grace_and_settling_cancels_both() {
    let failed = DunningEvent::AttemptFailed {
        attempt: 1,
        payment_intent: None,
        code: "card_declined".into(),
        message: "no".into(),
        next_retry_at: Some(datetime!(2030-09-03 09:00 UTC)),
        grace_ends_at: datetime!(2030-09-16 09:00 UTC),
    };
    let id = invoice().to_string();
    let changes = <Dunning as crate::aggregate::Consequences>::timers(&id, &failed);
    assert_eq!(changes.len(), 2);
    assert!(changes.iter().any(|c| matches!(c,
        TimerChange::Schedule { command: DunningCommand::Retry { attempt: 2 }, due_at, .. }
            if *due_at == datetime!(2030-09-03 09:00 UTC))));
    let settled = DunningEvent::Settled { on: date!(2030 - 09 - 04), held: vec![] };
    let cancels = <Dunning as crate::aggregate::Consequences>::timers(&id, &settled);
    assert!(cancels.iter().all(|c| matches!(c, TimerChange::Cancel { .. })) && cancels.len() == 2);
}

#[test]
fn once_settled_no_site_is_held_and_grace_does_not_end() {
    let site = SiteId::from_uuid(uuid::Uuid::from_u128(9));
    let settled = DunningEvent::Settled { on: date!(2030 - 09 - 20), held: vec![] };
    Test::with(())
        .given(vec![opened(false), DunningEvent::GraceEnded, settled.clone()])
        .when(DunningCommand::HoldSite { site_id: site })
        .then_expect_error(DunningError::Settled);
    Test::with(())
        .given(vec![opened(false), settled])
        .when(DunningCommand::EndGrace)
        .then_expect_error(DunningError::Settled);
    // Sites held before the payment are handed to the settlement, to resume.
    Test::with(())
        .given(vec![opened(false), DunningEvent::GraceEnded, DunningEvent::SiteHeld { site_id: site }])
        .when(DunningCommand::Settle { on: date!(2030 - 09 - 20) })
        .then_expect_events(vec![DunningEvent::Settled { on: date!(2030 - 09 - 20), held: vec![site] }]);
    Test::with(())
        .given(vec![opened(false)])
        .when(DunningCommand::HoldSite { site_id: site })
        .then_expect_error(DunningError::InGrace);
}
