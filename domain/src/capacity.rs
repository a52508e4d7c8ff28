//! When the fleet runs out: a pure forecast over the history of reservations. The growth rate
//! of a window is what was reserved in it, net of what was given back, per day; at that rate the
//! free capacity lasts `free / rate` days, rounded down, from `today`. A rate of zero or less
//! never runs out. The forecast advises only: placement keeps its own rules.

use time::{Date, Duration, OffsetDateTime};

/// One change of the reserved amount of a resource (positive: reserved; negative: given back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// When.
    pub at: OffsetDateTime,
    /// By how much, in the resource's unit.
    pub amount: i64,
}

/// The net growth per day over the `days` before `now`.
#[expect(clippy::cast_precision_loss, reason = "a rate, not an amount")]
pub fn rate_per_day(history: &[Change], now: OffsetDateTime, days: i64) -> f64 {
    let since = now - Duration::days(days);
    let net: i64 = history.iter().filter(|c| c.at > since && c.at <= now).map(|c| c.amount).sum();
    net as f64 / days as f64
}

/// The day `free` runs out at `rate` per day, counting whole days from `today`; `None` when
/// it never does.
#[expect(clippy::cast_possible_truncation, reason = "days are floored and bounded")]
#[expect(clippy::cast_precision_loss, reason = "a forecast, not an amount")]
pub fn exhaustion(free: i64, rate: f64, today: Date) -> Option<Date> {
    if rate <= 0.0 {
        return None;
    }
    let days = (free.max(0) as f64 / rate).floor().min(36_500.0) as i64;
    today.checked_add(Duration::days(days))
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn sites_at_a_known_rate_run_out_on_the_day_computed_by_hand() {
        // One 500-millicore site a day for the last ten days, on a fleet with 4000 free.
        let now = datetime!(2027-01-01 12:00 UTC);
        let history: Vec<Change> = (0..10)
            .map(|d| Change { at: now - Duration::days(d) - Duration::hours(1), amount: 500 })
            .collect();

        let week = rate_per_day(&history, now, 7);
        let month = rate_per_day(&history, now, 30);

        assert!((week - 500.0).abs() < 1e-9, "{week}");
        assert!((month - 5000.0 / 30.0).abs() < 1e-9, "{month}");
        // 4000 / 500 = 8 days; 4000 / 166.67 = 24 days.
        assert_eq!(exhaustion(4000, week, now.date()), Some(date!(2027 - 01 - 09)));
        assert_eq!(exhaustion(4000, month, now.date()), Some(date!(2027 - 01 - 25)));
    }

    #[test]
    fn no_growth_or_shrinking_never_runs_out() {
        let now = datetime!(2027-01-01 12:00 UTC);
        let history = [Change { at: now - Duration::days(1), amount: -500 }];

        assert_eq!(exhaustion(100, rate_per_day(&history, now, 7), now.date()), None);
        assert_eq!(exhaustion(100, 0.0, now.date()), None);
    }
}
