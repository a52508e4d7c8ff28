//! The numbering series aggregate (platform-level): one gapless counter per series, such as
//! the invoices' `BRT`.
//!
//! Numbers are gapless because taking one is an event of this aggregate, `NumberTaken`,
//! committed in the same transaction as the `InvoiceIssued` it numbers. Two documents issued
//! at once both try to append the series' next event; the event store's primary key lets one
//! through and the other is decided again on the new state. Nothing is taken unless the
//! document is issued, and nothing is issued without a number, whatever fails in between: the
//! numbers of a series are exactly 1..N.
//!
//! A series with a yearly restart counts from 1 again in each calendar year of issue, and
//! carries the year in the printed series (`BRT2026` + `000001`), so numbers stay unique.

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;

pub use command::{SeriesCommand, SeriesPrefix};
pub use error::SeriesError;
pub use event::SeriesEvent;

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::billing::{DocumentKind, DocumentNumber, Series};

/// The last number a series gave out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastNumber {
    /// The number.
    pub number: DocumentNumber,
    /// The issue date of its document.
    #[serde(with = "crate::billing::iso_date")]
    pub issue_date: Date,
}

/// A series' state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberSeries {
    prefix: Option<SeriesPrefix>,
    kind: Option<DocumentKind>,
    yearly_restart: bool,
    last: Option<LastNumber>,
    taken: u64,
}

impl NumberSeries {
    /// Whether the series was opened.
    pub fn is_open(&self) -> bool {
        self.prefix.is_some()
    }

    /// The last number taken, if any.
    pub fn last(&self) -> Option<&LastNumber> {
        self.last.as_ref()
    }

    /// How many numbers were taken.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// The number the next document of `kind` issued on `issue_date` gets.
    pub fn next_number(&self, kind: DocumentKind, issue_date: Date) -> Result<DocumentNumber, SeriesError> {
        let (Some(prefix), Some(series_kind)) = (&self.prefix, self.kind) else {
            return Err(SeriesError::NotOpen);
        };
        if series_kind != kind {
            return Err(SeriesError::WrongKind { series: series_kind, document: kind });
        }
        if let Some(last) = self.last.as_ref().filter(|last| last.issue_date > issue_date) {
            return Err(SeriesError::Backdated { last: last.issue_date, given: issue_date });
        }
        let printed = self.printed(prefix, issue_date);
        let sequence = match &self.last {
            Some(last) if last.number.series() == &printed => last.number.sequence() + 1,
            _ => 1,
        };
        DocumentNumber::new(printed, sequence).map_err(|_| SeriesError::NotOpen)
    }

    /// The series as printed on a document issued on `issue_date`.
    fn printed(&self, prefix: &SeriesPrefix, issue_date: Date) -> Series {
        let name = if self.yearly_restart {
            format!("{}{:04}", prefix.as_str(), issue_date.year())
        } else {
            prefix.as_str().to_owned()
        };
        // A prefix is at most six capital letters, so the name is always a valid series.
        Series::parse(&name).expect("a prefix and a year make a series")
    }
}

impl crate::aggregate::Consequences for NumberSeries {}

impl Aggregate for NumberSeries {
    const TYPE: &'static str = "series";
    type Command = SeriesCommand;
    type Event = SeriesEvent;
    type Error = SeriesError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SeriesCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SeriesError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SeriesEvent) {
        match event {
            SeriesEvent::Opened { prefix, kind, yearly_restart } => {
                self.prefix = Some(prefix);
                self.kind = Some(kind);
                self.yearly_restart = yearly_restart;
            }
            SeriesEvent::NumberTaken { number, issue_date, .. } => {
                self.last = Some(LastNumber { number, issue_date });
                self.taken += 1;
            }
        }
    }
}
