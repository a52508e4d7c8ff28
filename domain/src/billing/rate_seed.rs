//! The VAT rates Berth ships with (see `vat_rates` for how they are used).
//!
//! Romania: the standard rate was 19% from 2017-01-01 and is 21% for supplies from
//! 2025-08-01; the reduced rates 9% and 5% were merged into one 11% rate on the same day (the
//! second reduced category maps to 11% from then, because that is where its supplies went).
//! Other member states: the standard rate only, since OSS supplies of hosting are
//! standard-rated. Those rows start on 2024-01-01, the earliest supply date Berth bills for
//! them; where a rate changed since then (Finland, Slovakia, Estonia) the earlier row is kept
//! so a late invoice for an older supply still gets the rate of its date. Later changes are
//! data: record them as new periods rather than editing this file.

use time::macros::date;
use time::Date;

use super::country::CountryCode;
use super::percent::Percent;
use super::vat_rates::{RateCategory, RatePeriod};

/// Standard rates in force since at least 2024-01-01 and still current, in basis points.
const STANDARD_SINCE_2024: [(&str, u32); 23] = [
    ("AT", 2000),
    ("BE", 2100),
    ("BG", 2000),
    ("CY", 1900),
    ("CZ", 2100),
    ("DE", 1900),
    ("DK", 2500),
    ("ES", 2100),
    ("FR", 2000),
    ("GR", 2400),
    ("HR", 2500),
    ("HU", 2700),
    ("IE", 2300),
    ("IT", 2200),
    ("LT", 2100),
    ("LU", 1700),
    ("LV", 2100),
    ("MT", 1800),
    ("NL", 2100),
    ("PL", 2300),
    ("PT", 2300),
    ("SE", 2500),
    ("SI", 2200),
];

/// Standard rates that changed since 2024-01-01: (country, rate, from, until).
const STANDARD_CHANGED: [(&str, u32, Date, Option<Date>); 6] = [
    ("EE", 2200, date!(2024 - 01 - 01), Some(date!(2025 - 06 - 30))),
    ("EE", 2400, date!(2025 - 07 - 01), None),
    ("FI", 2400, date!(2024 - 01 - 01), Some(date!(2024 - 08 - 31))),
    ("FI", 2550, date!(2024 - 09 - 01), None),
    ("SK", 2000, date!(2024 - 01 - 01), Some(date!(2024 - 12 - 31))),
    ("SK", 2300, date!(2025 - 01 - 01), None),
];

/// Romania: (category, rate, from, until).
const ROMANIA: [(RateCategory, u32, Date, Option<Date>); 6] = [
    (RateCategory::Standard, 1900, date!(2017 - 01 - 01), Some(date!(2025 - 07 - 31))),
    (RateCategory::Standard, 2100, date!(2025 - 08 - 01), None),
    (RateCategory::Reduced, 900, date!(2017 - 01 - 01), Some(date!(2025 - 07 - 31))),
    (RateCategory::Reduced, 1100, date!(2025 - 08 - 01), None),
    (RateCategory::SecondReduced, 500, date!(2017 - 01 - 01), Some(date!(2025 - 07 - 31))),
    (RateCategory::SecondReduced, 1100, date!(2025 - 08 - 01), None),
];

/// Every period of the seed.
pub(crate) fn periods() -> Vec<RatePeriod> {
    let country = |code: &str| CountryCode::parse(code).expect("seed country codes are ISO codes");
    let rate = |bp: u32| Percent::from_basis_points(bp).expect("seed rates are percentages");
    let romania = ROMANIA.iter().map(|&(category, bp, from, until)| RatePeriod {
        country: CountryCode::ROMANIA,
        category,
        rate: rate(bp),
        from,
        until,
    });
    let unchanged = STANDARD_SINCE_2024.iter().map(|&(code, bp)| RatePeriod {
        country: country(code),
        category: RateCategory::Standard,
        rate: rate(bp),
        from: date!(2024 - 01 - 01),
        until: None,
    });
    let changed = STANDARD_CHANGED.iter().map(|&(code, bp, from, until)| RatePeriod {
        country: country(code),
        category: RateCategory::Standard,
        rate: rate(bp),
        from,
        until,
    });
    romania.chain(unchanged).chain(changed).collect()
}
