//! Proration by days: what the unused part of a period is worth, and what the rest of a
//! period costs on a new price.
//!
//! A period's price is spread evenly over its days (both ends included, so a 31-day month
//! has 31 shares). Changing plan on day `d` keeps the old plan for the days before `d` and
//! puts the new one on `d` and every day after it: the buyer is credited the old price for
//! those remaining days and charged the new price for them. Each amount is
//! `price × remaining_days / days_in_period`, computed in integers and rounded half-up to
//! the minor unit once; the credit and the charge are rounded separately, because they end
//! up on different documents (a credit note and an invoice).

use serde::{Deserialize, Serialize};
use time::Date;

use super::period::ServicePeriod;
use super::rounding::div_half_up;
use crate::money::{Money, MoneyError};

/// Why an amount could not be prorated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProrationError {
    /// The change date is outside the period.
    #[error("{date} is outside the period {start}..{end}")]
    OutsidePeriod {
        /// The date given.
        date: Date,
        /// The period's first day.
        start: Date,
        /// The period's last day.
        end: Date,
    },
    /// The old and new prices are in different currencies.
    #[error("the old and new prices are in different currencies")]
    CurrencyMismatch,
    /// The amount could not be built.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The two amounts of a plan change within a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanChange {
    /// What the unused days of the old plan are worth: the credit.
    pub credit: Money,
    /// What the remaining days cost on the new plan: the charge.
    pub charge: Money,
    /// The days from the change date to the end of the period, both included.
    pub remaining_days: i64,
    /// The days in the period.
    pub period_days: i64,
}

/// What `price` for the whole `period` is worth for the days from `from` to the period's end
/// (both included): the charge for joining part-way, or the credit for leaving part-way.
pub fn prorate(price: Money, period: ServicePeriod, from: Date) -> Result<Money, ProrationError> {
    let remaining = remaining_days(period, from)?;
    share(price, remaining, period.days())
}

/// The credit for the old plan and the charge for the new one when a plan changes on
/// `change_date` (the first day on the new plan).
pub fn plan_change(
    old_price: Money,
    new_price: Money,
    period: ServicePeriod,
    change_date: Date,
) -> Result<PlanChange, ProrationError> {
    if old_price.currency() != new_price.currency() {
        return Err(ProrationError::CurrencyMismatch);
    }
    let remaining_days = remaining_days(period, change_date)?;
    Ok(PlanChange {
        credit: share(old_price, remaining_days, period.days())?,
        charge: share(new_price, remaining_days, period.days())?,
        remaining_days,
        period_days: period.days(),
    })
}

fn remaining_days(period: ServicePeriod, from: Date) -> Result<i64, ProrationError> {
    if !period.contains(from) {
        return Err(ProrationError::OutsidePeriod { date: from, start: period.start(), end: period.end() });
    }
    Ok((period.end() - from).whole_days() + 1)
}

fn share(price: Money, days: i64, of_days: i64) -> Result<Money, ProrationError> {
    let amount = div_half_up(i128::from(price.amount_minor()) * i128::from(days), i128::from(of_days));
    // `days <= of_days`, so the share never exceeds the price and always fits.
    let amount = i64::try_from(amount).unwrap_or(i64::MAX);
    Ok(Money::new(amount, price.currency())?)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::date;

    use super::*;
    use crate::money::Currency;

    fn eur(minor: i64) -> Money {
        Money::new(minor, Currency::parse("EUR").unwrap()).unwrap()
    }

    fn july() -> ServicePeriod {
        ServicePeriod::new(date!(2025 - 07 - 01), date!(2025 - 07 - 31)).unwrap()
    }

    #[test]
    fn an_upgrade_mid_month_credits_and_charges_the_remaining_days() {
        // Upgrade on 2025-07-21: days 21..=31 remain, 11 of 31.
        // Credit: 10.00 EUR × 11 / 31 = 3.548… → 3.55. Charge: 25.00 × 11 / 31 = 8.870… → 8.87.
        let change = plan_change(eur(1000), eur(2500), july(), date!(2025 - 07 - 21)).unwrap();
        assert_eq!(change.remaining_days, 11);
        assert_eq!(change.period_days, 31);
        assert_eq!(change.credit, eur(355));
        assert_eq!(change.charge, eur(887));
    }

    #[test]
    fn halves_round_up() {
        // 0.31 EUR over a 2-day period from its second day: 31 / 2 = 15.5 → 16 cents.
        let two_days = ServicePeriod::new(date!(2025 - 07 - 01), date!(2025 - 07 - 02)).unwrap();
        assert_eq!(prorate(eur(31), two_days, date!(2025 - 07 - 02)).unwrap(), eur(16));
    }

    #[test]
    fn the_first_day_is_the_whole_price_and_outside_is_an_error() {
        assert_eq!(prorate(eur(999), july(), date!(2025 - 07 - 01)).unwrap(), eur(999));
        assert!(matches!(
            prorate(eur(999), july(), date!(2025 - 08 - 01)),
            Err(ProrationError::OutsidePeriod { .. })
        ));
        let ron = Money::new(100, Currency::parse("RON").unwrap()).unwrap();
        assert_eq!(
            plan_change(eur(1), ron, july(), date!(2025 - 07 - 02)),
            Err(ProrationError::CurrencyMismatch)
        );
    }

    proptest! {
        #[test]
        fn a_share_is_never_more_than_the_price_and_grows_with_the_days(
            price in 0i64..10_000_000_000, day in 0i64..31,
        ) {
            let from = date!(2025 - 07 - 01) + time::Duration::days(day);
            let part = prorate(eur(price), july(), from).unwrap().amount_minor();
            prop_assert!(part <= price);
            if day > 0 {
                let earlier = prorate(eur(price), july(), from.previous_day().unwrap()).unwrap();
                prop_assert!(earlier.amount_minor() >= part);
            }
            // Exactly half-up: |part × 31 − price × remaining| ≤ 31 / 2.
            let remaining = 31 - day;
            prop_assert!((i128::from(part) * 31 - i128::from(price) * i128::from(remaining)).abs() * 2 <= 31);
        }
    }
}
