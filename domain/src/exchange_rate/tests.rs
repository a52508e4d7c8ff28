use cqrs_es::test::TestFramework;
use time::macros::date;

use super::*;

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn rate(text: &str, day: Date) -> ExchangeRate {
    ExchangeRate::parse(text, day).unwrap()
}

fn recorded(text: &str, day: Date) -> ExchangeRatesEvent {
    ExchangeRatesEvent::Recorded { currency: eur(), rate: rate(text, day) }
}

#[test]
fn a_document_takes_the_rate_of_the_latest_day_on_or_before_its_issue_date() {
    let mut rates = ExchangeRates::default();
    for event in [recorded("4.9763", date!(2025 - 09 - 01)), recorded("4.9801", date!(2025 - 09 - 03))] {
        rates.apply(event);
    }
    assert_eq!(rates.on(date!(2025 - 08 - 31)), None);
    assert_eq!(rates.on(date!(2025 - 09 - 02)).unwrap().to_string(), "4.9763");
    assert_eq!(rates.on(date!(2025 - 09 - 30)).unwrap().to_string(), "4.9801");
    // A correction for a day replaces that day's rate.
    rates.apply(recorded("4.9700", date!(2025 - 09 - 01)));
    assert_eq!(rates.on(date!(2025 - 09 - 02)).unwrap().to_string(), "4.9700");
    assert_eq!(rates.rates().len(), 2);
}

#[test]
fn rates_are_for_offered_foreign_currencies_and_repeats_add_nothing() {
    let day = date!(2025 - 09 - 01);
    TestFramework::<ExchangeRates>::with(())
        .given(vec![recorded("4.9763", day)])
        .when(ExchangeRatesCommand::Record { currency: eur(), rate: rate("4.9763", day) })
        .then_expect_events(vec![]);
    TestFramework::<ExchangeRates>::with(())
        .given_no_previous_events()
        .when(ExchangeRatesCommand::Record {
            currency: Currency::parse("RON").unwrap(),
            rate: rate("1", day),
        })
        .then_expect_error(ExchangeRatesError::Lei);
    TestFramework::<ExchangeRates>::with(())
        .given_no_previous_events()
        .when(ExchangeRatesCommand::Record {
            currency: Currency::parse("GBP").unwrap(),
            rate: rate("5.8", day),
        })
        .then_expect_error(ExchangeRatesError::CurrencyNotOffered("GBP".into()));
    TestFramework::<ExchangeRates>::with(())
        .given(vec![recorded("4.9763", day)])
        .when(ExchangeRatesCommand::Record {
            currency: Currency::parse("USD").unwrap(),
            rate: rate("4.3", day),
        })
        .then_expect_error(ExchangeRatesError::OtherCurrency { expected: "EUR".into(), found: "USD".into() });
}
