//! Seller events: a public, versioned contract.

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use crate::billing::{DocumentKind, Party, PaymentMeans};
use crate::series::SeriesPrefix;

/// Something that happened to the seller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SellerEvent {
    /// The seller's details changed; documents issued from now on carry the new ones.
    DetailsChanged {
        /// The seller as documents name it.
        party: Box<Party>,
        /// How buyers pay.
        payment: PaymentMeans,
    },
    /// Documents of `kind` are numbered in `prefix` from now on.
    SeriesChosen {
        /// The kind of document.
        kind: DocumentKind,
        /// The series.
        prefix: SeriesPrefix,
    },
}

impl DomainEvent for SellerEvent {
    fn event_type(&self) -> String {
        match self {
            Self::DetailsChanged { .. } => "SellerDetailsChanged",
            Self::SeriesChosen { .. } => "SellerSeriesChosen",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::DetailsChanged { .. } | Self::SeriesChosen { .. } => "1",
        }
        .to_owned()
    }
}
