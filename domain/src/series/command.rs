//! Series commands, the series prefix, and the rules that decide them.

use serde::{Deserialize, Serialize};
use time::Date;

use super::{NumberSeries, SeriesError, SeriesEvent};
use crate::billing::{DocumentKind, DocumentNumber};
use crate::ids::InvoiceId;

/// A series' prefix: 1 to 6 capital letters (`BRT`). Letters only, so a yearly series' printed
/// name (`BRT2026`) can never be another series' prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SeriesPrefix(String);

impl SeriesPrefix {
    /// Checks a prefix.
    pub fn parse(input: &str) -> Result<Self, SeriesError> {
        if (1..=6).contains(&input.len()) && input.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(input.to_owned()))
        } else {
            Err(SeriesError::Prefix(input.to_owned()))
        }
    }

    /// The prefix, which is also the series aggregate's id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SeriesPrefix {
    type Error = SeriesError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SeriesPrefix> for String {
    fn from(value: SeriesPrefix) -> Self {
        value.0
    }
}

/// What can be asked of a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum SeriesCommand {
    /// Open the series for documents of `kind`.
    Open { prefix: SeriesPrefix, kind: DocumentKind, yearly_restart: bool },
    /// Give `number` to `document` (of `kind`, issued on `issue_date`); it must be the next.
    TakeNumber { number: DocumentNumber, document: InvoiceId, kind: DocumentKind, issue_date: Date },
}

/// Decides the events for `command`.
pub(super) fn decide(series: &NumberSeries, command: SeriesCommand) -> Result<Vec<SeriesEvent>, SeriesError> {
    match command {
        SeriesCommand::Open { prefix, kind, yearly_restart } => {
            if series.is_open() {
                return Err(SeriesError::AlreadyOpen);
            }
            Ok(vec![SeriesEvent::Opened { prefix, kind, yearly_restart }])
        }
        SeriesCommand::TakeNumber { number, document, kind, issue_date } => {
            let next = series.next_number(kind, issue_date)?;
            if next != number {
                return Err(SeriesError::OutOfTurn { next: next.to_string(), given: number.to_string() });
            }
            Ok(vec![SeriesEvent::NumberTaken { number, document, issue_date }])
        }
    }
}
