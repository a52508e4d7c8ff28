//! Series events: a public, versioned contract.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::Date;

use super::SeriesPrefix;
use crate::billing::{DocumentKind, DocumentNumber};
use crate::ids::InvoiceId;

/// Something that happened to a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeriesEvent {
    /// The series was opened.
    Opened {
        /// Its prefix.
        prefix: SeriesPrefix,
        /// The kind of document it numbers.
        kind: DocumentKind,
        /// Whether it counts from 1 again each year.
        yearly_restart: bool,
    },
    /// A number was given to a document, in the same commit as the document's issue.
    NumberTaken {
        /// The number.
        number: DocumentNumber,
        /// The document.
        document: InvoiceId,
        /// Its issue date.
        #[serde(with = "crate::billing::iso_date")]
        issue_date: Date,
    },
}

impl DomainEvent for SeriesEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Opened { .. } => "SeriesOpened",
            Self::NumberTaken { .. } => "SeriesNumberTaken",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::Opened { .. } | Self::NumberTaken { .. } => "1",
        }
        .to_owned()
    }
}
