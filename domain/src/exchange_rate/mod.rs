//! The exchange rate aggregate (platform-level, one per currency, keyed by its code): the
//! rates to lei an operator records, usually the National Bank of Romania's of the day.
//!
//! A document in a currency other than RON states its VAT in lei too (CIUS-RO BR-RO-030), at a
//! rate that comes from outside. Documents issued without a rate given (the renewal saga's)
//! take the rate recorded for the latest day on or before their issue date. A rate recorded
//! again for the same day replaces it for documents issued afterwards; issued documents keep
//! the rate they were issued with.

#[cfg(test)]
mod tests;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::billing::ExchangeRate;
use crate::error::{Refusal, RefusalKind};
use crate::money::Currency;
use crate::plan::is_offered;

/// What can be asked of a currency's exchange rates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum ExchangeRatesCommand {
    /// Record `rate` (lei per unit, for its date) for `currency`.
    Record { currency: Currency, rate: ExchangeRate },
}

/// Something that happened to a currency's rates: a public, versioned contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExchangeRatesEvent {
    /// A rate was recorded for a day.
    Recorded {
        /// The currency.
        currency: Currency,
        /// Lei per unit, and the day it is for.
        rate: ExchangeRate,
    },
}

impl DomainEvent for ExchangeRatesEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Recorded { .. } => "ExchangeRateRecorded",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::Recorded { .. } => "1",
        }
        .to_owned()
    }
}

/// Why a rate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeRatesError {
    /// A rate for the leu itself.
    #[error("RON is the currency rates are given in; it has no rate to itself")]
    Lei,
    /// A currency Berth does not bill in.
    #[error("Berth bills in RON, EUR and USD, not {0}")]
    CurrencyNotOffered(String),
    /// A rate for another currency than the stream's.
    #[error("these are the rates of {expected}, not {found}")]
    OtherCurrency {
        /// The stream's currency.
        expected: String,
        /// The one given.
        found: String,
    },
    /// A document in `currency` issued on `date`, with no rate given and none recorded for
    /// that day or before.
    #[error("no rate of {currency} to lei is recorded for {date} or before; give one or record it")]
    NoRate {
        /// The document's currency.
        currency: String,
        /// Its issue date.
        date: Date,
    },
}

impl Refusal for ExchangeRatesError {
    fn code(&self) -> &'static str {
        match self {
            Self::Lei => "exchange-rate-for-lei",
            Self::CurrencyNotOffered(_) => "exchange-rate-currency-not-offered",
            Self::OtherCurrency { .. } => "exchange-rate-other-currency",
            Self::NoRate { .. } => "exchange-rate-missing",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NoRate { .. } => RefusalKind::Conflict,
            Self::Lei | Self::CurrencyNotOffered(_) | Self::OtherCurrency { .. } => RefusalKind::Rule,
        }
    }
}

/// A currency's recorded rates, by day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeRates {
    currency: Option<Currency>,
    rates: Vec<ExchangeRate>,
}

impl ExchangeRates {
    /// The rate to use for a document issued on `date`: the one recorded for the latest day
    /// on or before it.
    pub fn on(&self, date: Date) -> Option<ExchangeRate> {
        self.rates.iter().filter(|r| r.date() <= date).max_by_key(|r| r.date()).copied()
    }

    /// Every recorded rate, by day.
    pub fn rates(&self) -> &[ExchangeRate] {
        &self.rates
    }
}

impl crate::aggregate::Consequences for ExchangeRates {}

impl Aggregate for ExchangeRates {
    const TYPE: &'static str = "exchange_rate";
    type Command = ExchangeRatesCommand;
    type Event = ExchangeRatesEvent;
    type Error = ExchangeRatesError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ExchangeRatesCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ExchangeRatesError> {
        let ExchangeRatesCommand::Record { currency, rate } = command;
        if currency.as_str() == "RON" {
            return Err(ExchangeRatesError::Lei);
        }
        if !is_offered(currency) {
            return Err(ExchangeRatesError::CurrencyNotOffered(currency.as_str().to_owned()));
        }
        if let Some(expected) = self.currency.filter(|c| *c != currency) {
            return Err(ExchangeRatesError::OtherCurrency {
                expected: expected.as_str().to_owned(),
                found: currency.as_str().to_owned(),
            });
        }
        if self.rates.contains(&rate) {
            return Ok(());
        }
        sink.write(ExchangeRatesEvent::Recorded { currency, rate }, self).await;
        Ok(())
    }

    fn apply(&mut self, event: ExchangeRatesEvent) {
        let ExchangeRatesEvent::Recorded { currency, rate } = event;
        self.currency = Some(currency);
        self.rates.retain(|r| r.date() != rate.date());
        self.rates.push(rate);
        self.rates.sort_by_key(ExchangeRate::date);
    }
}
