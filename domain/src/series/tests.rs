use cqrs_es::test::TestFramework;
use time::macros::date;
use time::Date;
use uuid::Uuid;

use super::*;
use crate::ids::InvoiceId;

fn opened(yearly_restart: bool) -> SeriesEvent {
    SeriesEvent::Opened {
        prefix: SeriesPrefix::parse("BRT").unwrap(),
        kind: DocumentKind::Invoice,
        yearly_restart,
    }
}

fn number(series: &str, sequence: u64) -> DocumentNumber {
    DocumentNumber::new(Series::parse(series).unwrap(), sequence).unwrap()
}

fn document(n: u128) -> InvoiceId {
    InvoiceId::from_uuid(Uuid::from_u128(n))
}

fn take(series: &str, sequence: u64, doc: u128, issue_date: Date) -> SeriesCommand {
    SeriesCommand::TakeNumber {
        number: number(series, sequence),
        document: document(doc),
        kind: DocumentKind::Invoice,
        issue_date,
    }
}

fn taken(series: &str, sequence: u64, doc: u128, issue_date: Date) -> SeriesEvent {
    SeriesEvent::NumberTaken { number: number(series, sequence), document: document(doc), issue_date }
}

#[test]
fn numbers_count_up_from_one() {
    let day = date!(2025 - 09 - 01);
    TestFramework::<NumberSeries>::with(())
        .given(vec![opened(false)])
        .when(take("BRT", 1, 1, day))
        .then_expect_events(vec![taken("BRT", 1, 1, day)]);
    TestFramework::<NumberSeries>::with(())
        .given(vec![opened(false), taken("BRT", 1, 1, day)])
        .when(take("BRT", 2, 2, day))
        .then_expect_events(vec![taken("BRT", 2, 2, day)]);
}

#[test]
fn a_number_out_of_turn_is_refused() {
    let day = date!(2025 - 09 - 01);
    TestFramework::<NumberSeries>::with(())
        .given(vec![opened(false), taken("BRT", 1, 1, day)])
        .when(take("BRT", 1, 2, day))
        .then_expect_error(SeriesError::OutOfTurn { next: "BRT000002".into(), given: "BRT000001".into() });
    TestFramework::<NumberSeries>::with(())
        .given(vec![opened(false)])
        .when(take("BRT", 3, 1, day))
        .then_expect_error(SeriesError::OutOfTurn { next: "BRT000001".into(), given: "BRT000003".into() });
}

#[test]
fn a_yearly_series_starts_again_in_january_with_the_year_in_its_name() {
    let new_year = date!(2026 - 01 - 01);
    TestFramework::<NumberSeries>::with(())
        .given(vec![opened(true), taken("BRT2025", 41, 1, date!(2025 - 12 - 31))])
        .when(take("BRT2026", 1, 2, new_year))
        .then_expect_events(vec![taken("BRT2026", 1, 2, new_year)]);
    let mut series = NumberSeries::default();
    cqrs_es::Aggregate::apply(&mut series, opened(true));
    assert_eq!(
        series.next_number(DocumentKind::Invoice, date!(2025 - 03 - 01)).unwrap().to_string(),
        "BRT2025000001"
    );
}

#[test]
fn numbers_follow_the_issue_dates_kinds_and_open_series() {
    TestFramework::<NumberSeries>::with(())
        .given(vec![opened(false), taken("BRT", 1, 1, date!(2025 - 09 - 02))])
        .when(take("BRT", 2, 2, date!(2025 - 09 - 01)))
        .then_expect_error(SeriesError::Backdated {
            last: date!(2025 - 09 - 02),
            given: date!(2025 - 09 - 01),
        });
    TestFramework::<NumberSeries>::with(())
        .given(vec![opened(false)])
        .when(SeriesCommand::TakeNumber {
            number: number("BRT", 1),
            document: document(1),
            kind: DocumentKind::CreditNote,
            issue_date: date!(2025 - 09 - 01),
        })
        .then_expect_error(SeriesError::WrongKind {
            series: DocumentKind::Invoice,
            document: DocumentKind::CreditNote,
        });
    TestFramework::<NumberSeries>::with(())
        .given_no_previous_events()
        .when(take("BRT", 1, 1, date!(2025 - 09 - 01)))
        .then_expect_error(SeriesError::NotOpen);
    TestFramework::<NumberSeries>::with(())
        .given(vec![opened(false)])
        .when(SeriesCommand::Open {
            prefix: SeriesPrefix::parse("BRT").unwrap(),
            kind: DocumentKind::Invoice,
            yearly_restart: false,
        })
        .then_expect_error(SeriesError::AlreadyOpen);
}

#[test]
fn prefixes_are_one_to_six_capital_letters() {
    assert!(SeriesPrefix::parse("BRTCRN").is_ok());
    for bad in ["", "brt", "BRT1", "BRTCRNX", "B-T"] {
        assert_eq!(SeriesPrefix::parse(bad), Err(SeriesError::Prefix(bad.to_owned())), "{bad}");
    }
}
