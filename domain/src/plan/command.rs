//! Plan commands, the plan code, and the rules that decide them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::Date;

use super::{is_offered, OveragePrice, Plan, PlanError, PlanEvent, PlanLimits, Price};
use crate::billing::MAX_AMOUNT_MINOR;
use crate::ids::PlanId;
use crate::money::Money;
use crate::name::DisplayName;

/// The longest trial a plan may give.
pub const MAX_TRIAL_DAYS: u32 = 90;

/// A plan's code (`starter`): 2 to 32 characters of a-z, 0-9 and `-`, starting with a letter.
/// It names the plan in URLs and settings (`billing.trial_plan`), so it is unique.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlanCode(String);

impl PlanCode {
    /// Checks a code (upper case is folded to lower case).
    pub fn parse(input: &str) -> Result<Self, PlanError> {
        let code = input.trim().to_ascii_lowercase();
        let ok = (2..=32).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_lowercase())
            && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(code))
        } else {
            Err(PlanError::Code(input.to_owned()))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PlanCode {
    type Error = PlanError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PlanCode> for String {
    fn from(value: PlanCode) -> Self {
        value.0
    }
}

/// What an operator can ask of a plan. `today` is the date the command was received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum PlanCommand {
    /// Create the plan; its prices apply from `today`.
    Create {
        plan_id: PlanId,
        code: PlanCode,
        name: DisplayName,
        prices: Vec<Price>,
        limits: PlanLimits,
        trial_days: u32,
        overage: Vec<OveragePrice>,
        today: Date,
    },
    /// Set the price of one period in one currency for periods from `effective_from` on.
    ChangePrice { price: Price, effective_from: Date, today: Date },
    /// Change the limits (running subscriptions take them at their next period).
    ChangeLimits { limits: PlanLimits },
    /// Replace the overage prices (running subscriptions take them at their next period).
    ChangeOverage { overage: Vec<OveragePrice> },
    /// Take no new subscriptions.
    Retire,
}

/// Decides the events for `command`.
pub(super) fn decide(plan: &Plan, command: PlanCommand) -> Result<Vec<PlanEvent>, PlanError> {
    if !plan.exists() && !matches!(command, PlanCommand::Create { .. }) {
        return Err(PlanError::NotFound);
    }
    match command {
        PlanCommand::Create { plan_id, code, name, prices, limits, trial_days, overage, today } => {
            if plan.exists() {
                return Err(PlanError::AlreadyExists);
            }
            if prices.is_empty() {
                return Err(PlanError::NoPrices);
            }
            check_prices(&prices)?;
            check_overage(&overage)?;
            if trial_days > MAX_TRIAL_DAYS {
                return Err(PlanError::TrialTooLong { max: MAX_TRIAL_DAYS });
            }
            Ok(vec![PlanEvent::Created {
                plan_id,
                code,
                name,
                prices,
                limits,
                trial_days,
                overage,
                effective_from: today,
            }])
        }
        PlanCommand::ChangePrice { price, effective_from, today } => {
            if effective_from < today {
                return Err(PlanError::Retroactive(effective_from.to_string()));
            }
            check_prices(std::slice::from_ref(&price))?;
            let current = plan.price_on(price.amount.currency(), price.period, effective_from);
            if current == Some(price.amount) {
                return Ok(Vec::new());
            }
            Ok(vec![PlanEvent::PriceChanged { price, effective_from }])
        }
        PlanCommand::ChangeLimits { limits } => {
            if plan.limits == Some(limits) {
                return Ok(Vec::new());
            }
            Ok(vec![PlanEvent::LimitsChanged { limits }])
        }
        PlanCommand::ChangeOverage { overage } => {
            check_overage(&overage)?;
            if plan.overage == overage {
                return Ok(Vec::new());
            }
            Ok(vec![PlanEvent::OverageChanged { overage }])
        }
        PlanCommand::Retire if plan.retired => Ok(Vec::new()),
        PlanCommand::Retire => Ok(vec![PlanEvent::Retired]),
    }
}

/// A billable amount: more than zero, within what Berth bills, in an offered currency.
fn check_amount(amount: Money) -> Result<(), PlanError> {
    if !is_offered(amount.currency()) {
        return Err(PlanError::CurrencyNotOffered(amount.currency().as_str().to_owned()));
    }
    if amount.amount_minor() == 0 || amount.amount_minor() > MAX_AMOUNT_MINOR {
        return Err(PlanError::PriceOutOfRange { max: MAX_AMOUNT_MINOR });
    }
    Ok(())
}

fn check_prices(prices: &[Price]) -> Result<(), PlanError> {
    let mut seen = BTreeSet::new();
    for price in prices {
        check_amount(price.amount)?;
        if !seen.insert((price.amount.currency().as_str().to_owned(), price.period)) {
            let what =
                format!("the {}ly price in {}", price.period.as_str(), price.amount.currency().as_str());
            return Err(PlanError::DuplicatePrice(what));
        }
    }
    Ok(())
}

fn check_overage(overage: &[OveragePrice]) -> Result<(), PlanError> {
    let mut seen = BTreeSet::new();
    for item in overage {
        check_amount(item.price)?;
        if !seen.insert((item.price.currency().as_str().to_owned(), item.metric)) {
            let what = format!("{} in {}", item.metric.as_str(), item.price.currency().as_str());
            return Err(PlanError::DuplicatePrice(what));
        }
    }
    Ok(())
}
