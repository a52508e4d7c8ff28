//! `ServicePeriod`: the days a charge covers, both ends included.

use serde::{Deserialize, Serialize};
use time::Date;

/// Why a period was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The end comes before the start.
    #[error("a period ends on or after its start ({start} > {end})")]
    Inverted {
        /// The start.
        start: Date,
        /// The end.
        end: Date,
    },
}

/// A span of days, `start` and `end` both included (as EN 16931 BT-73/BT-74 read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawPeriod", into = "RawPeriod")]
pub struct ServicePeriod {
    start: Date,
    end: Date,
}

#[derive(Serialize, Deserialize)]
struct RawPeriod {
    #[serde(with = "super::iso_date")]
    start: Date,
    #[serde(with = "super::iso_date")]
    end: Date,
}

impl ServicePeriod {
    /// A period from `start` to `end` inclusive; a one-day period has `start == end`.
    pub fn new(start: Date, end: Date) -> Result<Self, PeriodError> {
        if end < start {
            return Err(PeriodError::Inverted { start, end });
        }
        Ok(Self { start, end })
    }

    /// The first day.
    pub fn start(&self) -> Date {
        self.start
    }

    /// The last day.
    pub fn end(&self) -> Date {
        self.end
    }

    /// How many days the period covers (at least 1).
    pub fn days(&self) -> i64 {
        (self.end - self.start).whole_days() + 1
    }

    /// Whether `date` falls within the period.
    pub fn contains(&self, date: Date) -> bool {
        self.start <= date && date <= self.end
    }
}

impl TryFrom<RawPeriod> for ServicePeriod {
    type Error = PeriodError;
    fn try_from(raw: RawPeriod) -> Result<Self, Self::Error> {
        Self::new(raw.start, raw.end)
    }
}

impl From<ServicePeriod> for RawPeriod {
    fn from(period: ServicePeriod) -> Self {
        Self { start: period.start, end: period.end }
    }
}
