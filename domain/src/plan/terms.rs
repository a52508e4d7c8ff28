//! What a plan offers and what it costs: periods, limits, meters and prices, and the
//! [`PlanTerms`] a subscription keeps for the period it is in.

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::billing::{ServicePeriod, UnitCode};
use crate::ids::PlanId;
use crate::money::{Currency, Money};
use crate::name::DisplayName;

use super::PlanCode;

/// The currencies Berth sells in. A price, a coupon amount or a billing profile in any other
/// currency is refused, so a subscription always finds its plan's price.
pub const OFFERED_CURRENCIES: [&str; 3] = ["RON", "EUR", "USD"];

/// Whether Berth sells in `currency`.
pub fn is_offered(currency: Currency) -> bool {
    OFFERED_CURRENCIES.contains(&currency.as_str())
}

/// How long one billing period lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BillingPeriod {
    /// A calendar month from the anchor day.
    Month,
    /// A year from the anchor day.
    Year,
}

impl BillingPeriod {
    /// Both periods.
    pub const ALL: [Self; 2] = [Self::Month, Self::Year];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// The period that starts on `start` for a subscription anchored on `anchor_day` (the day
    /// of the month it started on). It ends the day before the anchor day of the next month
    /// (or year), where a month too short for the anchor day takes its last day instead. So a
    /// subscription started on the 31st is billed 31 Jan–27 Feb, 28 Feb–30 Mar, 31 Mar–29 Apr,
    /// 30 Apr–30 May: clamped in short months, it never drifts off its anchor.
    pub fn span(self, anchor_day: u8, start: Date) -> ServicePeriod {
        let (year, month) = match self {
            Self::Month if start.month() == Month::December => (start.year() + 1, Month::January),
            Self::Month => (start.year(), start.month().next()),
            Self::Year => (start.year() + 1, start.month()),
        };
        let day = anchor_day.clamp(1, 31).min(month.length(year));
        let next = Date::from_calendar_date(year, month, day).unwrap_or(start);
        let end = next.previous_day().filter(|end| *end >= start).unwrap_or(start);
        ServicePeriod::new(start, end).unwrap_or_else(|_| one_day(start))
    }

    /// How many of these periods make a month's worth of revenue: 1 for a month, 12 for a
    /// year (MRR divides a yearly price by 12).
    pub fn months(self) -> i64 {
        match self {
            Self::Month => 1,
            Self::Year => 12,
        }
    }
}

fn one_day(day: Date) -> ServicePeriod {
    // A period of one day always exists: start == end.
    ServicePeriod::new(day, day).expect("a one-day period is valid")
}

/// A bound on something a plan allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// At most this many.
    Up(u32),
    /// No bound.
    Unlimited,
}

impl Limit {
    /// Whether `used` is within the limit.
    pub fn fits(self, used: u32) -> bool {
        match self {
            Self::Up(max) => used <= max,
            Self::Unlimited => true,
        }
    }

    /// The bound, if there is one.
    pub fn bound(self) -> Option<u32> {
        match self {
            Self::Up(max) => Some(max),
            Self::Unlimited => None,
        }
    }
}

/// How often a plan's sites are backed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupFrequency {
    /// Every hour.
    Hourly,
    /// Once a day.
    Daily,
}

impl BackupFrequency {
    /// Both frequencies.
    pub const ALL: [Self; 2] = [Self::Hourly, Self::Daily];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hourly => "hourly",
            Self::Daily => "daily",
        }
    }
}

/// The backups a plan includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BackupPolicy {
    /// How often.
    pub frequency: BackupFrequency,
    /// How many days a backup is kept.
    pub retention_days: u32,
    /// How many backups of each generation are kept. Added after plans were released: a plan
    /// recorded without it keeps what [`BackupPolicy::keep`] derives from the two fields above.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<GfsKeep>,
}

impl BackupPolicy {
    /// How many backups of each generation the plan keeps: the explicit counts if the plan
    /// has them, or else a week of dailies (a day of hourlies on an hourly plan), then weeklies
    /// and monthlies as far as `retention_days` reaches.
    pub fn keep(&self) -> GfsKeep {
        if let Some(keep) = self.keep {
            return keep;
        }
        let days = self.retention_days;
        GfsKeep {
            hourly: match self.frequency {
                BackupFrequency::Hourly => 24,
                BackupFrequency::Daily => 0,
            },
            daily: days.min(7),
            weekly: (days / 7).min(4),
            monthly: days / 30,
        }
    }
}

/// Grandfather-father-son retention: the newest backup of each of the last `hourly` hours,
/// `daily` days, `weekly` ISO weeks and `monthly` months that have one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct GfsKeep {
    /// Hours.
    pub hourly: u32,
    /// Days.
    pub daily: u32,
    /// ISO weeks.
    pub weekly: u32,
    /// Months.
    pub monthly: u32,
}

impl GfsKeep {
    /// The most backups this keeps at once (at least one: the newest is always kept).
    pub fn most(&self) -> usize {
        let sum =
            u64::from(self.hourly) + u64::from(self.daily) + u64::from(self.weekly) + u64::from(self.monthly);
        usize::try_from(sum.max(1)).unwrap_or(usize::MAX)
    }
}

/// The support a plan includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SupportLevel {
    /// Email, next business day.
    Standard,
    /// Email and chat, within hours.
    Priority,
    /// A named contact, around the clock.
    Dedicated,
}

impl SupportLevel {
    /// Every level, least first.
    pub const ALL: [Self; 3] = [Self::Standard, Self::Priority, Self::Dedicated];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Priority => "priority",
            Self::Dedicated => "dedicated",
        }
    }
}

/// What a plan allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PlanLimits {
    /// Sites at once.
    pub sites: Limit,
    /// Storage included, in GB; more is billed at the plan's storage overage price.
    pub storage_gb: Limit,
    /// Backups.
    pub backups: BackupPolicy,
    /// Support.
    pub support: SupportLevel,
    /// What each site may use on its node (plans made before these limits existed read the
    /// defaults).
    #[serde(default)]
    pub site: SiteResources,
}

/// What each site of a plan may use on its node: PHP workers and memory, the largest upload,
/// and how far one build command of a deployment may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct SiteResources {
    /// php-fpm's `pm.max_children`: requests served at once.
    pub php_workers: u32,
    /// PHP's `memory_limit`, in MiB.
    pub php_memory_mb: u32,
    /// The largest request body (nginx's `client_max_body_size`, PHP's `upload_max_filesize`
    /// and `post_max_size`), in MiB.
    pub upload_mb: u32,
    /// Address space one build command may use, in MiB.
    pub build_memory_mb: u32,
    /// CPU seconds one build command may use.
    pub build_cpu_secs: u32,
}

impl Default for SiteResources {
    fn default() -> Self {
        Self { php_workers: 5, php_memory_mb: 256, upload_mb: 64, build_memory_mb: 2048, build_cpu_secs: 900 }
    }
}

impl SiteResources {
    /// Checks every bound; the offending field's name and why.
    pub fn check(self) -> Result<Self, (&'static str, String)> {
        let bounds = [
            ("php_workers", self.php_workers, 1, 200),
            ("php_memory_mb", self.php_memory_mb, 32, 8192),
            ("upload_mb", self.upload_mb, 1, 4096),
            ("build_memory_mb", self.build_memory_mb, 64, 65536),
            ("build_cpu_secs", self.build_cpu_secs, 1, 86400),
        ];
        for (field, value, min, max) in bounds {
            if value < min || value > max {
                return Err((field, format!("must be {min} to {max}")));
            }
        }
        Ok(self)
    }
}

/// Something measured and billed beyond what a plan includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Storage in use, in GB; a period is billed for its peak.
    StorageGb,
    /// Data transferred, in GB; a period is billed for its sum.
    TransferGb,
}

/// How the samples of a metric within one period add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregation {
    /// The largest sample counts.
    Peak,
    /// The samples add up.
    Sum,
}

impl Metric {
    /// Every metric.
    pub const ALL: [Self; 2] = [Self::StorageGb, Self::TransferGb];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StorageGb => "storage_gb",
            Self::TransferGb => "transfer_gb",
        }
    }

    /// How its samples add up within a period.
    pub fn aggregation(self) -> Aggregation {
        match self {
            Self::StorageGb => Aggregation::Peak,
            Self::TransferGb => Aggregation::Sum,
        }
    }

    /// The unit it is billed in.
    pub fn unit(self) -> UnitCode {
        UnitCode::Gigabyte
    }

    /// How much of it `limits` include, in thousandths of a unit (`None`: all of it).
    pub fn included_thousandths(self, limits: &PlanLimits) -> Option<i64> {
        match self {
            Self::StorageGb => limits.storage_gb.bound().map(|gb| i64::from(gb) * 1000),
            // No plan includes transfer; a plan without a transfer price does not bill it.
            Self::TransferGb => Some(0),
        }
    }

    /// The Romanian line description of its overage.
    pub fn description_ro(self) -> &'static str {
        match self {
            Self::StorageGb => "Spațiu de stocare peste cel inclus în plan",
            Self::TransferGb => "Trafic de date",
        }
    }
}

/// The price of one period of a plan in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Price {
    /// Which period it pays for.
    pub period: BillingPeriod,
    /// The amount, with its currency.
    pub amount: Money,
}

/// The price of one unit of a metric beyond what the plan includes, in one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OveragePrice {
    /// The metric.
    pub metric: Metric,
    /// Per unit (GB).
    pub price: Money,
}

/// A plan as a subscription holds it for one period: the price of that period in the
/// subscription's currency, and the limits and overage prices in force when it began. A
/// change to the plan reaches a running subscription when its next period begins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTerms {
    /// The plan.
    pub plan_id: PlanId,
    /// Its code.
    pub code: PlanCode,
    /// Its name, printed on invoices.
    pub name: DisplayName,
    /// The period.
    pub period: BillingPeriod,
    /// The price of one period.
    pub price: Money,
    /// The limits.
    pub limits: PlanLimits,
    /// Overage prices, in the price's currency.
    pub overage: Vec<OveragePrice>,
    /// Days of trial a new subscription starts with.
    pub trial_days: u32,
}

impl PlanTerms {
    /// The currency of every amount.
    pub fn currency(&self) -> Currency {
        self.price.currency()
    }

    /// The overage price of `metric`, if the plan bills it.
    pub fn overage_price(&self, metric: Metric) -> Option<Money> {
        self.overage.iter().find(|o| o.metric == metric).map(|o| o.price)
    }
}
