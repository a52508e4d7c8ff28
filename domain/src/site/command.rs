//! Site commands, and the decision function that turns a command into events.

use serde::{Deserialize, Serialize};

use super::{Site, SiteError, SiteEvent, SiteStatus};
use crate::domain_name::DomainName;
use crate::ids::{SiteId, TenantId};
use crate::php::{PhpVersion, SiteKind};

/// A display name for a site ("Client X blog"), at most [`SiteLabel::MAX`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SiteLabel(String);

impl SiteLabel {
    /// The longest label accepted, in characters.
    pub const MAX: usize = 100;

    /// Trims and checks a label.
    pub fn parse(input: &str) -> Result<Self, SiteError> {
        let trimmed = input.trim();
        if trimmed.chars().count() > Self::MAX {
            return Err(SiteError::LabelTooLong { max: Self::MAX });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The label text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SiteLabel {
    type Error = SiteError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SiteLabel> for String {
    fn from(value: SiteLabel) -> Self {
        value.0
    }
}

/// What a caller can ask of a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiteCommand {
    /// Create a new site.
    Create {
        /// The id minted for it.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// Its host name.
        domain: DomainName,
        /// Its runtime.
        kind: SiteKind,
        /// Required for PHP kinds, refused for static.
        php_version: Option<PhpVersion>,
    },
    /// Change settings; absent fields stay as they are.
    Update {
        /// A new PHP version.
        php_version: Option<PhpVersion>,
        /// A new label.
        label: Option<SiteLabel>,
    },
    /// Remove the site.
    Delete,
}

/// Decides the events for `command` given the current state. Pure: same input, same output.
pub(super) fn decide(site: &Site, command: SiteCommand) -> Result<Vec<SiteEvent>, SiteError> {
    match command {
        SiteCommand::Create { site_id, tenant_id, domain, kind, php_version } => {
            if site.status != SiteStatus::None {
                return Err(SiteError::AlreadyExists);
            }
            check_php(kind, php_version)?;
            Ok(vec![SiteEvent::Created { site_id, tenant_id, domain, kind, php_version }])
        }
        SiteCommand::Update { php_version, label } => {
            require_live(site)?;
            if let (Some(kind), Some(version)) = (site.kind, php_version) {
                check_php(kind, Some(version))?;
            }
            let php_version = php_version.filter(|v| site.php_version != Some(*v));
            let label = label.filter(|l| site.label.as_ref() != Some(l));
            if php_version.is_none() && label.is_none() {
                return Ok(Vec::new());
            }
            Ok(vec![SiteEvent::Updated { php_version, label }])
        }
        SiteCommand::Delete => {
            require_live(site)?;
            Ok(vec![SiteEvent::DeletionRequested])
        }
    }
}

fn require_live(site: &Site) -> Result<(), SiteError> {
    match site.status {
        SiteStatus::None => Err(SiteError::NotFound),
        SiteStatus::Deleting | SiteStatus::Deleted => Err(SiteError::Deleted),
        _ => Ok(()),
    }
}

fn check_php(kind: SiteKind, php_version: Option<PhpVersion>) -> Result<(), SiteError> {
    match (kind.runs_php(), php_version) {
        (true, None) => Err(SiteError::PhpVersionRequired(kind)),
        (false, Some(_)) => Err(SiteError::PhpVersionNotAllowed),
        _ => Ok(()),
    }
}
