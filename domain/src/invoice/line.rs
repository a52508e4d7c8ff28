//! A line of a draft: what a document will bill, before its VAT is decided.
//!
//! A draft line names the VAT *rate category* (standard, reduced) of what it sells; the
//! category and rate on the issued document follow from the buyer and the date of supply when
//! the draft is issued (`billing::TaxTreatment`), so a draft edited over days is taxed by the
//! rules of the day it is issued, once.

use serde::{Deserialize, Serialize};

use super::InvoiceError;
use crate::billing::text::checked;
use crate::billing::{LineDraft, LineTax, Quantity, RateCategory, ServicePeriod, UnitCode, MAX_AMOUNT_MINOR};
use crate::money::Money;

/// One line of a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftLine {
    description: String,
    quantity: Quantity,
    unit: UnitCode,
    unit_price: Money,
    rate: RateCategory,
    period: Option<ServicePeriod>,
}

impl DraftLine {
    /// A line: a description (up to 100 characters), how much of which unit, the price of
    /// one unit, the VAT rate category and the days it pays for, if any.
    pub fn new(
        description: &str,
        quantity: Quantity,
        unit: UnitCode,
        unit_price: Money,
        rate: RateCategory,
        period: Option<ServicePeriod>,
    ) -> Result<Self, InvoiceError> {
        let description = checked("the line description", description, 100)
            .map_err(|e| InvoiceError::Line(e.to_string()))?;
        if unit_price.amount_minor() > MAX_AMOUNT_MINOR {
            return Err(InvoiceError::Line("the unit price is too large".to_owned()));
        }
        Ok(Self { description, quantity, unit, unit_price, rate, period })
    }

    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// How much.
    pub fn quantity(&self) -> Quantity {
        self.quantity
    }

    /// The unit.
    pub fn unit(&self) -> UnitCode {
        self.unit
    }

    /// The price of one unit.
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }

    /// The VAT rate category.
    pub fn rate(&self) -> RateCategory {
        self.rate
    }

    /// The days it pays for.
    pub fn period(&self) -> Option<ServicePeriod> {
        self.period
    }

    /// The line as a document draft carries it, taxed with `tax`.
    pub(super) fn to_document_line(&self, tax: LineTax) -> LineDraft {
        LineDraft {
            description: self.description.clone(),
            quantity: self.quantity,
            unit: self.unit,
            unit_price: self.unit_price,
            tax,
            period: self.period,
            discount: None,
        }
    }
}
