//! Why a site command was refused.

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
    /// A label over the length limit.
    #[error("the label must be at most {max} characters")]
    LabelTooLong {
        /// The limit.
        max: usize,
    },
}
