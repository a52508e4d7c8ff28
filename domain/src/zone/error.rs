//! Why a zone command was refused.

use crate::error::{Refusal, RefusalKind};

/// A zone command that breaks a rule or does not fit the zone's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// `Create` on a zone that exists.
    #[error("the zone already exists")]
    AlreadyExists,
    /// Any other command on a zone that does not exist.
    #[error("the zone does not exist")]
    NotFound,
    /// A change to a zone being deleted or gone.
    #[error("the zone is being deleted")]
    Deleted,
    /// A CNAME beside other records of the same name, or other records beside a CNAME.
    #[error("`{0}` would hold a CNAME beside other records; a CNAME must be the name's only record")]
    CnameConflict(String),
    /// No such record set.
    #[error("the zone has no {1} records at `{0}`")]
    NoSuchRecordSet(String, &'static str),
    /// Over the record set limit.
    #[error("a zone holds at most {0} record sets")]
    TooManyRecordSets(usize),
}

impl Refusal for ZoneError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyExists => "zone-exists",
            Self::NotFound => "zone-not-found",
            Self::Deleted => "zone-deleted",
            Self::CnameConflict(_) => "cname-conflict",
            Self::NoSuchRecordSet(..) => "record-set-not-found",
            Self::TooManyRecordSets(_) => "too-many-record-sets",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound | Self::NoSuchRecordSet(..) => RefusalKind::NotFound,
            Self::AlreadyExists | Self::Deleted => RefusalKind::Conflict,
            Self::CnameConflict(_) | Self::TooManyRecordSets(_) => RefusalKind::Rule,
        }
    }
}
