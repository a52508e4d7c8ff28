//! The three plans Berth ships with, as data a caller registers (`deploy/dev run` seeds them):
//! Starter 29 a month (5 sites, 10 GB, daily backups), Pro 79 (25 sites, 100 GB, hourly) and
//! Enterprise 249 (no limits).
//!
//! The seed documents price them in euro; dollars use the same numbers and lei five times
//! them, and a year costs ten months. Those are starting points: prices are changed with
//! `PlanCommand::ChangePrice`, which is an event like any other.

use time::Date;

use super::{
    BackupFrequency, BackupPolicy, BillingPeriod, Limit, Metric, OveragePrice, PlanCode, PlanCommand,
    PlanLimits, Price, SiteResources, SupportLevel,
};
use crate::ids::PlanId;
use crate::money::{Currency, Money};
use crate::name::DisplayName;

/// One default plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSeed {
    /// Its code.
    pub code: &'static str,
    /// Its name.
    pub name: &'static str,
    /// The monthly price in euro cents.
    pub monthly_eur_cents: i64,
    /// What it allows.
    pub limits: PlanLimits,
    /// Days of trial.
    pub trial_days: u32,
    /// Storage beyond what it includes, in euro cents per GB.
    pub storage_overage_eur_cents: Option<i64>,
}

/// Lei per euro for the seed prices.
const LEI_PER_EURO: i64 = 5;
/// Months a yearly price costs.
const MONTHS_PER_YEAR_PRICE: i64 = 10;

impl PlanSeed {
    /// The command that creates this plan as `plan_id`, with prices from `today`.
    pub fn create(&self, plan_id: PlanId, today: Date) -> PlanCommand {
        let money = |minor: i64, code: &str| {
            Money::new(minor, Currency::parse(code).expect("a seed currency")).expect("a seed amount")
        };
        let in_each = |eur_cents: i64| {
            [("EUR", eur_cents), ("USD", eur_cents), ("RON", eur_cents * LEI_PER_EURO)]
                .map(|(code, minor)| money(minor, code))
        };
        let prices = in_each(self.monthly_eur_cents)
            .into_iter()
            .flat_map(|monthly| {
                [
                    Price { period: BillingPeriod::Month, amount: monthly },
                    Price {
                        period: BillingPeriod::Year,
                        amount: money(
                            monthly.amount_minor() * MONTHS_PER_YEAR_PRICE,
                            monthly.currency().as_str(),
                        ),
                    },
                ]
            })
            .collect();
        let overage = self
            .storage_overage_eur_cents
            .map(|cents| {
                in_each(cents)
                    .into_iter()
                    .map(|price| OveragePrice { metric: Metric::StorageGb, price })
                    .collect()
            })
            .unwrap_or_default();
        PlanCommand::Create {
            plan_id,
            code: PlanCode::parse(self.code).expect("a seed code"),
            name: DisplayName::parse(self.name).expect("a seed name"),
            prices,
            limits: self.limits,
            trial_days: self.trial_days,
            overage,
            today,
        }
    }
}

/// Starter, Pro and Enterprise.
pub fn default_plans() -> Vec<PlanSeed> {
    vec![
        PlanSeed {
            code: "starter",
            name: "Starter",
            monthly_eur_cents: 2_900,
            limits: PlanLimits {
                sites: Limit::Up(5),
                storage_gb: Limit::Up(10),
                backups: BackupPolicy { frequency: BackupFrequency::Daily, retention_days: 7, keep: None },
                support: SupportLevel::Standard,
                site: SiteResources {
                    php_workers: 5,
                    php_memory_mb: 256,
                    upload_mb: 64,
                    build_memory_mb: 1024,
                    build_cpu_secs: 600,
                },
            },
            trial_days: 14,
            storage_overage_eur_cents: Some(50),
        },
        PlanSeed {
            code: "pro",
            name: "Pro",
            monthly_eur_cents: 7_900,
            limits: PlanLimits {
                sites: Limit::Up(25),
                storage_gb: Limit::Up(100),
                backups: BackupPolicy { frequency: BackupFrequency::Hourly, retention_days: 30, keep: None },
                support: SupportLevel::Priority,
                site: SiteResources {
                    php_workers: 10,
                    php_memory_mb: 512,
                    upload_mb: 256,
                    build_memory_mb: 2048,
                    build_cpu_secs: 900,
                },
            },
            trial_days: 14,
            storage_overage_eur_cents: Some(30),
        },
        PlanSeed {
            code: "enterprise",
            name: "Enterprise",
            monthly_eur_cents: 24_900,
            limits: PlanLimits {
                sites: Limit::Unlimited,
                storage_gb: Limit::Unlimited,
                backups: BackupPolicy { frequency: BackupFrequency::Hourly, retention_days: 90, keep: None },
                support: SupportLevel::Dedicated,
                site: SiteResources {
                    php_workers: 20,
                    php_memory_mb: 1024,
                    upload_mb: 1024,
                    build_memory_mb: 4096,
                    build_cpu_secs: 1800,
                },
            },
            trial_days: 0,
            storage_overage_eur_cents: None,
        },
    ]
}
