//! Document lines: what the caller describes (`LineDraft`) and what the document keeps
//! (`DocumentLine`, with its amounts worked out).
//!
//! A line's gross amount is quantity × unit price, rounded half-up to the minor unit once; its
//! optional discount (an EN 16931 line allowance, BG-27) is a percentage of that gross or a
//! fixed amount; its net amount (BT-131) is gross minus discount. VAT is *not* computed per
//! line: it is computed per rate on the document (see `totals`).

use serde::{Deserialize, Serialize};

use super::category::LineTax;
use super::percent::Percent;
use super::period::ServicePeriod;
use super::quantity::{Quantity, UnitCode};
use super::rounding::div_half_up;
use super::text::{checked, TextError};
use crate::money::{Currency, Money};

/// The largest amount any line or total may reach, in minor units (100 billion units of the
/// currency): far above any hosting bill, and far below where integer arithmetic could wrap.
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000_000;

/// A discount on one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineDiscount {
    /// A percentage of the line's gross amount, rounded half-up.
    Percent(Percent),
    /// A fixed amount, at most the gross amount.
    Amount(Money),
}

/// A line as the caller describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDraft {
    /// What was supplied (the item name, up to 100 characters).
    pub description: String,
    /// How much.
    pub quantity: Quantity,
    /// Of what unit.
    pub unit: UnitCode,
    /// The price of one unit, before any discount.
    pub unit_price: Money,
    /// The VAT category and rate.
    pub tax: LineTax,
    /// The days this line pays for, if it is a period of service.
    pub period: Option<ServicePeriod>,
    /// A discount on this line.
    pub discount: Option<LineDiscount>,
}

/// Why a line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The description is empty, too long or holds control characters.
    #[error(transparent)]
    Text(#[from] TextError),
    /// A price or discount in another currency than the document's.
    #[error("the line is in {found}, the document in {expected}")]
    Currency {
        /// The document's currency.
        expected: String,
        /// The line's.
        found: String,
    },
    /// A discount larger than the line.
    #[error("the discount is larger than the line")]
    DiscountTooLarge,
    /// An amount over [`MAX_AMOUNT_MINOR`].
    #[error("the line's amount is too large")]
    TooLarge,
}

/// A line as the issued document keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentLine {
    pub(super) position: u32,
    pub(super) description: String,
    pub(super) quantity: Quantity,
    pub(super) unit: UnitCode,
    pub(super) unit_price: Money,
    pub(super) tax: LineTax,
    pub(super) period: Option<ServicePeriod>,
    pub(super) gross: Money,
    pub(super) discount: Option<Money>,
    pub(super) net: Money,
}

impl DocumentLine {
    /// Works out a draft's amounts; `position` numbers the line from 1.
    pub(super) fn from_draft(position: u32, draft: LineDraft, currency: Currency) -> Result<Self, LineError> {
        let same_currency = |money: &Money| {
            if money.currency() == currency {
                Ok(())
            } else {
                Err(LineError::Currency {
                    expected: currency.as_str().to_owned(),
                    found: money.currency().as_str().to_owned(),
                })
            }
        };
        same_currency(&draft.unit_price)?;
        let gross_minor = line_gross(draft.quantity, draft.unit_price.amount_minor())?;
        let discount_minor = match draft.discount {
            None => None,
            Some(LineDiscount::Percent(p)) => {
                Some(div_half_up(i128::from(gross_minor) * i128::from(p.basis_points()), 10_000) as i64)
            }
            Some(LineDiscount::Amount(amount)) => {
                same_currency(&amount)?;
                Some(amount.amount_minor())
            }
        };
        if discount_minor.is_some_and(|d| d > gross_minor) {
            return Err(LineError::DiscountTooLarge);
        }
        let money = |minor| Money::new(minor, currency).map_err(|_| LineError::TooLarge);
        Ok(Self {
            position,
            description: checked("the line description", &draft.description, 100)?,
            quantity: draft.quantity,
            unit: draft.unit,
            unit_price: draft.unit_price,
            tax: draft.tax,
            period: draft.period,
            gross: money(gross_minor)?,
            discount: discount_minor.map(money).transpose()?,
            net: money(gross_minor - discount_minor.unwrap_or(0))?,
        })
    }

    /// The line number, from 1 (BT-126).
    pub fn position(&self) -> u32 {
        self.position
    }

    /// What was supplied (BT-153).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// How much (BT-129).
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// The unit (BT-130).
    pub fn unit(&self) -> UnitCode {
        self.unit
    }

    /// The price of one unit (BT-146).
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }

    /// The VAT category and rate (BT-151, BT-152).
    pub fn tax(&self) -> LineTax {
        self.tax
    }

    /// The service period of this line (BG-26).
    pub fn period(&self) -> Option<ServicePeriod> {
        self.period
    }

    /// Quantity × unit price, rounded half-up.
    pub fn gross(&self) -> Money {
        self.gross
    }

    /// The line discount (BT-136), if any.
    pub fn discount(&self) -> Option<Money> {
        self.discount
    }

    /// The net amount: gross minus discount (BT-131).
    pub fn net(&self) -> Money {
        self.net
    }
}

/// Quantity (thousandths) × unit price (minor units), rounded half-up to the minor unit.
pub(super) fn line_gross(quantity: Quantity, unit_price_minor: i64) -> Result<i64, LineError> {
    let gross = div_half_up(i128::from(quantity.thousandths()) * i128::from(unit_price_minor), 1000);
    i64::try_from(gross).ok().filter(|g| *g <= MAX_AMOUNT_MINOR).ok_or(LineError::TooLarge)
}
