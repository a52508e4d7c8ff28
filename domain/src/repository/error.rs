//! Why a repository command was refused.

use crate::error::{Refusal, RefusalKind};
use crate::ids::DeploymentId;

/// A repository command that does not fit the repository's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryError {
    /// A deployment asked of a site that has no repository.
    #[error("the site has no repository; set one with PUT /v1/sites/{{id}}/repository")]
    NotConfigured,
    /// A WordPress site: its code is the shared WordPress install, not a repository.
    #[error("WordPress sites are not deployed from a repository")]
    NotDeployable,
    /// The repository belongs to another site.
    #[error("the repository belongs to another site")]
    SiteMismatch,
    /// An outcome for a deployment that is not the one running.
    #[error("deployment {0} is not running")]
    NotRunning(DeploymentId),
    /// A rollback to a release no longer (or never) kept on the node.
    #[error("the release of deployment {0} is not kept on the node")]
    ReleaseNotKept(DeploymentId),
}

impl Refusal for RepositoryError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotConfigured => "repository-not-configured",
            Self::NotDeployable => "site-not-deployable",
            Self::SiteMismatch => "repository-site-mismatch",
            Self::NotRunning(_) => "deployment-not-running",
            Self::ReleaseNotKept(_) => "release-not-kept",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::NotConfigured | Self::ReleaseNotKept(_) => RefusalKind::Conflict,
            Self::SiteMismatch | Self::NotDeployable => RefusalKind::Rule,
            Self::NotRunning(_) => RefusalKind::Conflict,
        }
    }
}
