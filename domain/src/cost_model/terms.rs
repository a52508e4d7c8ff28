//! The cost model's terms: prices in the model's currency, and budgets per category. Amounts
//! are integer minor units; a price per GB is minor units per GB (10^9 bytes).

use serde::{Deserialize, Serialize};

use crate::money::Currency;
use crate::plan::is_offered;

/// The largest amount a price, overhead or budget may hold, in minor units (a hundred billion).
pub const MAX_MINOR: i64 = 10_000_000_000_000;

/// What a cost is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostCategory {
    /// The nodes' monthly prices.
    Compute,
    /// Backup storage, per GB-month.
    Storage,
    /// Data transferred, per GB.
    Bandwidth,
    /// The fixed monthly overhead of running the platform.
    Platform,
}

impl CostCategory {
    /// Every category, in the order reports list them.
    pub const ALL: [Self; 4] = [Self::Compute, Self::Storage, Self::Bandwidth, Self::Platform];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compute => "compute",
            Self::Storage => "storage",
            Self::Bandwidth => "bandwidth",
            Self::Platform => "platform",
        }
    }

    /// The category named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// A monthly budget for one category, and the share of it that warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// The category.
    pub category: CostCategory,
    /// The monthly amount, in minor units of the model's currency.
    pub amount_minor: i64,
    /// The share of the budget, in percent (0 to 100), at which the budget alert warns.
    pub threshold_percent: u8,
}

/// The prices and budgets of the platform's costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostTerms {
    currency: Currency,
    storage_gb_month_minor: i64,
    bandwidth_gb_minor: i64,
    platform_monthly_minor: i64,
    budgets: Vec<Budget>,
}

/// Why terms were refused, naming the field as the API spells it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CostTermsError {
    /// A currency Berth does not bill in.
    #[error("{0}: Berth bills in RON, EUR and USD")]
    Currency(String),
    /// An amount below zero.
    #[error("{0}: an amount is never negative")]
    Negative(String),
    /// An amount beyond [`MAX_MINOR`].
    #[error("{0}: at most {MAX_MINOR} minor units")]
    TooLarge(String),
    /// A threshold outside 0–100 %.
    #[error("{0}: a threshold is a percentage from 0 to 100")]
    Threshold(String),
    /// Two budgets for one category.
    #[error("{0}: a category has one budget")]
    Duplicate(String),
}

impl CostTermsError {
    /// The field the refusal is about (`budgets.1.threshold_percent`).
    pub fn field(&self) -> &str {
        match self {
            Self::Currency(_) => "currency",
            Self::Negative(f) | Self::TooLarge(f) | Self::Threshold(f) | Self::Duplicate(f) => f,
        }
    }
}

fn amount(field: &str, minor: i64) -> Result<i64, CostTermsError> {
    match minor {
        m if m < 0 => Err(CostTermsError::Negative(field.to_owned())),
        m if m > MAX_MINOR => Err(CostTermsError::TooLarge(field.to_owned())),
        m => Ok(m),
    }
}

impl CostTerms {
    /// Checks terms: an offered currency, amounts from 0 to [`MAX_MINOR`], one budget per
    /// category with a threshold from 0 to 100 %.
    pub fn new(
        currency: Currency,
        storage_gb_month_minor: i64,
        bandwidth_gb_minor: i64,
        platform_monthly_minor: i64,
        budgets: Vec<(CostCategory, i64, i64)>,
    ) -> Result<Self, CostTermsError> {
        if !is_offered(currency) {
            return Err(CostTermsError::Currency(currency.as_str().to_owned()));
        }
        let storage_gb_month_minor = amount("storage_gb_month_minor", storage_gb_month_minor)?;
        let bandwidth_gb_minor = amount("bandwidth_gb_minor", bandwidth_gb_minor)?;
        let platform_monthly_minor = amount("platform_monthly_minor", platform_monthly_minor)?;
        let mut checked: Vec<Budget> = Vec::with_capacity(budgets.len());
        for (i, (category, amount_minor, threshold)) in budgets.into_iter().enumerate() {
            let amount_minor = amount(&format!("budgets.{i}.amount_minor"), amount_minor)?;
            let threshold_percent = u8::try_from(threshold)
                .ok()
                .filter(|t| *t <= 100)
                .ok_or_else(|| CostTermsError::Threshold(format!("budgets.{i}.threshold_percent")))?;
            if checked.iter().any(|b| b.category == category) {
                return Err(CostTermsError::Duplicate(format!("budgets.{i}.category")));
            }
            checked.push(Budget { category, amount_minor, threshold_percent });
        }
        Ok(Self {
            currency,
            storage_gb_month_minor,
            bandwidth_gb_minor,
            platform_monthly_minor,
            budgets: checked,
        })
    }

    /// The currency every amount is in.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Backup storage, minor units per GB-month.
    pub fn storage_gb_month_minor(&self) -> i64 {
        self.storage_gb_month_minor
    }

    /// Data transferred, minor units per GB.
    pub fn bandwidth_gb_minor(&self) -> i64 {
        self.bandwidth_gb_minor
    }

    /// The fixed monthly overhead.
    pub fn platform_monthly_minor(&self) -> i64 {
        self.platform_monthly_minor
    }

    /// The budgets, one per category at most.
    pub fn budgets(&self) -> &[Budget] {
        &self.budgets
    }
}
