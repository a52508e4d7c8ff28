//! VAT rates as data: which rate applies in which country, for which category, on which date.
//!
//! The architecture treats a rate change as data, not code: a [`VatRateTable`] is a list of
//! [`RatePeriod`]s with validity dates, checked for overlaps when it is built, and the rate that
//! applies is the one in force on the **date of supply** (not the issue date). The seed that
//! ships with Berth ([`VatRateTable::builtin`]) is in `rate_seed`; a later rate change can be
//! recorded as an event carrying a new `RatePeriod` and folded in with [`VatRateTable::with`].

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use time::Date;

use super::country::CountryCode;
use super::percent::Percent;
use super::rate_seed;

/// Which of a country's rates a supply falls under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateCategory {
    /// The standard rate; hosting and software services are standard-rated everywhere.
    Standard,
    /// The (first) reduced rate.
    Reduced,
    /// A second reduced rate, where a country has one (Romania's 5% until 2025-07-31).
    SecondReduced,
}

impl RateCategory {
    /// Every category.
    pub const ALL: [Self; 3] = [Self::Standard, Self::Reduced, Self::SecondReduced];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Reduced => "reduced",
            Self::SecondReduced => "second_reduced",
        }
    }
}

/// One rate in force in one country for one category over a span of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatePeriod {
    /// The member state.
    pub country: CountryCode,
    /// The category.
    pub category: RateCategory,
    /// The rate.
    pub rate: Percent,
    /// The first date of supply the rate applies to.
    #[serde(with = "super::iso_date")]
    pub from: Date,
    /// The last date of supply it applies to; `None` while it is in force.
    #[serde(with = "super::iso_date::option")]
    pub until: Option<Date>,
}

impl RatePeriod {
    fn covers(&self, date: Date) -> bool {
        self.from <= date && self.until.is_none_or(|until| date <= until)
    }

    fn overlaps(&self, other: &RatePeriod) -> bool {
        let ends_before = |a: &RatePeriod, b: &RatePeriod| a.until.is_some_and(|until| until < b.from);
        self.country == other.country
            && self.category == other.category
            && !ends_before(self, other)
            && !ends_before(other, self)
    }
}

/// Why a rate table was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateTableError {
    /// A period ends before it starts.
    #[error("the {country} {category:?} rate period ends before it starts")]
    Inverted {
        /// The country.
        country: CountryCode,
        /// The category.
        category: RateCategory,
    },
    /// Two periods of one country and category cover a common date.
    #[error("two {country} {category:?} rate periods overlap")]
    Overlap {
        /// The country.
        country: CountryCode,
        /// The category.
        category: RateCategory,
    },
    /// A country outside the EU has no EU VAT rate.
    #[error("{0} is not an EU member state")]
    NotEu(CountryCode),
    /// A 0% row: zero-VAT supplies are a category (reverse charge, outside the EU), not a rate.
    #[error("the {country} {category:?} rate is 0%; zero-VAT supplies use their own category")]
    Zero {
        /// The country.
        country: CountryCode,
        /// The category.
        category: RateCategory,
    },
}

/// Why no rate could be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// The table has no rate for that country, category and date.
    #[error("no {category:?} VAT rate is known for {country} on {date}")]
    Unknown {
        /// The country.
        country: CountryCode,
        /// The category.
        category: RateCategory,
        /// The date of supply.
        date: Date,
    },
}

/// VAT rates with their validity dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<RatePeriod>", into = "Vec<RatePeriod>")]
pub struct VatRateTable {
    periods: Vec<RatePeriod>,
}

impl VatRateTable {
    /// Checks a list of periods: each ends after it starts, none overlaps another of its
    /// country and category, every rate is positive and every country is an EU member state.
    pub fn new(periods: Vec<RatePeriod>) -> Result<Self, RateTableError> {
        for (i, period) in periods.iter().enumerate() {
            if !period.country.is_eu() {
                return Err(RateTableError::NotEu(period.country));
            }
            if period.rate.is_zero() {
                return Err(RateTableError::Zero { country: period.country, category: period.category });
            }
            if period.until.is_some_and(|until| until < period.from) {
                return Err(RateTableError::Inverted { country: period.country, category: period.category });
            }
            if periods[..i].iter().any(|earlier| earlier.overlaps(period)) {
                return Err(RateTableError::Overlap { country: period.country, category: period.category });
            }
        }
        Ok(Self { periods })
    }

    /// The rates Berth ships with: Romania's standard and reduced rates across the
    /// 2025-08-01 change, and the standard rate of every other member state.
    pub fn builtin() -> &'static VatRateTable {
        static TABLE: OnceLock<VatRateTable> = OnceLock::new();
        TABLE.get_or_init(|| VatRateTable::new(rate_seed::periods()).expect("the seed table is consistent"))
    }

    /// A rate change: the open period of the new one's country and category (if any) ends the
    /// day before `period.from`, and `period` is added.
    pub fn with(mut self, period: RatePeriod) -> Result<Self, RateTableError> {
        let day_before = period.from.previous_day();
        for open in self.periods.iter_mut() {
            if open.country == period.country
                && open.category == period.category
                && open.until.is_none()
                && open.from < period.from
            {
                open.until = day_before;
            }
        }
        self.periods.push(period);
        Self::new(self.periods)
    }

    /// The rate in force for a supply on `supply_date`.
    pub fn rate(
        &self,
        country: CountryCode,
        category: RateCategory,
        supply_date: Date,
    ) -> Result<Percent, RateError> {
        self.periods
            .iter()
            .find(|p| p.country == country && p.category == category && p.covers(supply_date))
            .map(|p| p.rate)
            .ok_or(RateError::Unknown { country, category, date: supply_date })
    }

    /// The periods, in the order they were given.
    pub fn periods(&self) -> &[RatePeriod] {
        &self.periods
    }
}

impl TryFrom<Vec<RatePeriod>> for VatRateTable {
    type Error = RateTableError;
    fn try_from(value: Vec<RatePeriod>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<VatRateTable> for Vec<RatePeriod> {
    fn from(value: VatRateTable) -> Self {
        value.periods
    }
}

/// The rate in force in `country` for `category` on `supply_date`, from the built-in table.
pub fn rate(country: CountryCode, category: RateCategory, supply_date: Date) -> Result<Percent, RateError> {
    VatRateTable::builtin().rate(country, category, supply_date)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn ro() -> CountryCode {
        CountryCode::ROMANIA
    }

    fn pct(bp: u32) -> Percent {
        Percent::from_basis_points(bp).unwrap()
    }

    #[test]
    fn romanian_rates_follow_the_date_of_supply() {
        assert_eq!(rate(ro(), RateCategory::Standard, date!(2025 - 07 - 31)), Ok(pct(1900)));
        assert_eq!(rate(ro(), RateCategory::Standard, date!(2025 - 08 - 01)), Ok(pct(2100)));
        assert_eq!(rate(ro(), RateCategory::Reduced, date!(2025 - 07 - 31)), Ok(pct(900)));
        assert_eq!(rate(ro(), RateCategory::SecondReduced, date!(2025 - 07 - 31)), Ok(pct(500)));
        assert_eq!(rate(ro(), RateCategory::Reduced, date!(2025 - 08 - 01)), Ok(pct(1100)));
        assert_eq!(rate(ro(), RateCategory::SecondReduced, date!(2025 - 08 - 01)), Ok(pct(1100)));
    }

    #[test]
    fn every_member_state_has_a_current_standard_rate() {
        for country in CountryCode::eu_members() {
            let current = rate(country, RateCategory::Standard, date!(2026 - 01 - 15));
            assert!(current.is_ok_and(|r| r.basis_points() >= 1500), "{country}");
        }
        let de = CountryCode::parse("DE").unwrap();
        assert_eq!(rate(de, RateCategory::Standard, date!(2026 - 01 - 15)), Ok(pct(1900)));
        let fi = CountryCode::parse("FI").unwrap();
        assert_eq!(rate(fi, RateCategory::Standard, date!(2026 - 01 - 15)), Ok(pct(2550)));
    }

    #[test]
    fn unknown_rates_are_an_error_not_a_guess() {
        let de = CountryCode::parse("DE").unwrap();
        assert!(rate(de, RateCategory::Reduced, date!(2026 - 01 - 15)).is_err());
        assert!(rate(ro(), RateCategory::Standard, date!(2000 - 01 - 01)).is_err());
    }

    #[test]
    fn overlapping_periods_are_refused() {
        let period = |from, until| RatePeriod {
            country: ro(),
            category: RateCategory::Standard,
            rate: pct(1900),
            from,
            until,
        };
        let overlapping = vec![
            period(date!(2020 - 01 - 01), None),
            period(date!(2024 - 01 - 01), Some(date!(2024 - 12 - 31))),
        ];
        assert!(matches!(VatRateTable::new(overlapping), Err(RateTableError::Overlap { .. })));
        let inverted = vec![period(date!(2020 - 01 - 01), Some(date!(2019 - 01 - 01)))];
        assert!(matches!(VatRateTable::new(inverted), Err(RateTableError::Inverted { .. })));
        let us =
            RatePeriod { country: CountryCode::parse("US").unwrap(), ..period(date!(2020 - 01 - 01), None) };
        assert!(matches!(VatRateTable::new(vec![us]), Err(RateTableError::NotEu(_))));
    }

    #[test]
    fn a_rate_change_closes_the_open_period() {
        let table = VatRateTable::builtin().clone();
        let change = RatePeriod {
            country: ro(),
            category: RateCategory::Standard,
            rate: pct(2300),
            from: date!(2027 - 01 - 01),
            until: None,
        };
        let table = table.with(change).unwrap();
        assert_eq!(table.rate(ro(), RateCategory::Standard, date!(2026 - 12 - 31)), Ok(pct(2100)));
        assert_eq!(table.rate(ro(), RateCategory::Standard, date!(2027 - 01 - 01)), Ok(pct(2300)));
    }

    #[test]
    fn the_table_survives_serde() {
        let table = VatRateTable::builtin();
        let json = serde_json::to_string(table).unwrap();
        assert_eq!(&serde_json::from_str::<VatRateTable>(&json).unwrap(), table);
    }
}
