//! Why a site command was refused.

use crate::error::{Refusal, RefusalKind};
use crate::php::SiteKind;

/// A site command that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    /// `Create` on a site that exists.
    #[error("the site already exists")]
    AlreadyExists,
    /// Any command but `Create` on a site that does not exist.
    #[error("the site does not exist")]
    NotFound,
    /// A command on a site being deleted or gone.
    #[error("the site is being deleted")]
    Deleted,
    /// A PHP site without a PHP version.
    #[error("a {0:?} site needs a php_version")]
    PhpVersionRequired(SiteKind),
    /// A static site with a PHP version.
    #[error("a static site has no php_version")]
    PhpVersionNotAllowed,
    /// The command does not fit the site's status.
    #[error("the site is {0}")]
    WrongStatus(&'static str),
    /// Other work on the site is under way.
    #[error("the site is busy: {0} is under way; try again when it finishes")]
    Busy(&'static str),
    /// A label over the length limit.
    #[error("the label must be at most {max} characters")]
    LabelTooLong {
        /// The limit.
        max: usize,
    },
    /// A label holding control characters (NUL, newlines).
    #[error("the label must not hold control characters")]
    LabelControl,
    /// Over the custom domain limit.
    #[error("a site serves at most {0} custom domains")]
    TooManyAliases(usize),
    /// A staging copy of a staging copy.
    #[error("the site is a staging copy; make a staging copy of its production site instead")]
    IsStaging,
    /// A second staging copy.
    #[error("the site has a staging copy already; delete it first")]
    StagingExists,
    /// A promotion or deletion of a staging copy the site does not have.
    #[error("the site has no staging copy")]
    NoStaging,
    /// A promotion of a copy that is not ready.
    #[error("the staging copy is {0}, not ready")]
    StagingNotReady(&'static str),
    /// Deleting a site that has a staging copy.
    #[error("the site has a staging copy; delete the copy first")]
    HasStaging,
    /// A resume of a site suspended for non-payment.
    #[error("the site is suspended for non-payment; it resumes once the invoice is paid")]
    BillingHold,
}

impl Refusal for SiteError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyExists => "site-exists",
            Self::NotFound => "site-not-found",
            Self::Deleted => "site-deleted",
            Self::PhpVersionRequired(_) => "php-version-required",
            Self::PhpVersionNotAllowed => "php-version-not-allowed",
            Self::WrongStatus(_) => "site-wrong-status",
            Self::Busy(_) => "site-busy",
            Self::LabelTooLong { .. } => "label-too-long",
            Self::LabelControl => "label-control-characters",
            Self::TooManyAliases(_) => "too-many-aliases",
            Self::BillingHold => "site-suspended-unpaid",
            Self::IsStaging => "site-is-staging",
            Self::StagingExists => "staging-exists",
            Self::NoStaging => "no-staging",
            Self::StagingNotReady(_) => "staging-not-ready",
            Self::HasStaging => "site-has-staging",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotFound => RefusalKind::NotFound,
            Self::BillingHold => RefusalKind::PaymentRequired,
            Self::AlreadyExists
            | Self::Deleted
            | Self::WrongStatus(_)
            | Self::Busy(_)
            | Self::StagingExists
            | Self::NoStaging
            | Self::StagingNotReady(_)
            | Self::HasStaging => RefusalKind::Conflict,
            Self::PhpVersionRequired(_)
            | Self::PhpVersionNotAllowed
            | Self::LabelTooLong { .. }
            | Self::LabelControl
            | Self::TooManyAliases(_)
            | Self::IsStaging => RefusalKind::Rule,
        }
    }
}
