//! Repository and deployment events: a public, versioned contract (a released variant is never
//! reshaped; a change gets a new version and an upcaster).

use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{BuildSpec, RefName, RepoUrl, StepName, Trigger};
use crate::ids::{DeploymentId, SiteId, TenantId};

/// Something that happened to a site's repository or one of its deployments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepositoryEvent {
    /// The site's repository was set (or changed). The deploy key's private half and the
    /// webhook secret are sealed in the vault under the ids named here.
    Configured {
        /// The site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// Where the code is.
        url: RepoUrl,
        /// The branch pushes to which are deployed.
        branch: RefName,
        /// How it is built and served.
        build: BuildSpec,
        /// The vault id of the deploy key's private half.
        deploy_key_id: uuid::Uuid,
        /// The deploy key's public half (`ssh-ed25519 AAAA... berth-site-<id>`).
        public_key: String,
        /// The vault id of the webhook secret.
        webhook_secret_id: uuid::Uuid,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        configured_at: OffsetDateTime,
    },
    /// A deployment was asked for; it waits until the one running (if any) ends.
    DeploymentQueued {
        /// The deployment.
        deployment_id: DeploymentId,
        /// What is deployed (a branch, tag or commit); for a rollback, the branch of the time.
        git_ref: RefName,
        /// The commit the push named, if it named one.
        commit: Option<String>,
        /// Why.
        trigger: Trigger,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        queued_at: OffsetDateTime,
    },
    /// A queued deployment was replaced by a newer one before it started.
    DeploymentSuperseded {
        /// The deployment that will not run.
        deployment_id: DeploymentId,
        /// The one that runs in its place.
        by: DeploymentId,
    },
    /// A deployment started (nothing else of the site's runs meanwhile).
    DeploymentStarted {
        /// The deployment.
        deployment_id: DeploymentId,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        started_at: OffsetDateTime,
    },
    /// The commit to deploy was fetched and read.
    DeploymentCommitResolved {
        /// The deployment.
        deployment_id: DeploymentId,
        /// The full commit id.
        commit: String,
        /// Its author, as git shows it.
        author: String,
        /// Its subject line.
        message: String,
    },
    /// One step of a deployment ended well.
    DeploymentStepCompleted {
        /// The deployment.
        deployment_id: DeploymentId,
        /// The step.
        step: StepName,
        /// When it started.
        #[serde(with = "time::serde::rfc3339")]
        started_at: OffsetDateTime,
        /// When it ended.
        #[serde(with = "time::serde::rfc3339")]
        finished_at: OffsetDateTime,
    },
    /// What a step of a running deployment printed: its last lines.
    DeploymentOutput {
        /// The deployment.
        deployment_id: DeploymentId,
        /// The step.
        step: StepName,
        /// Its output's tail.
        output: String,
    },
    /// The release is serving and answered the health check.
    DeploymentSucceeded {
        /// The deployment.
        deployment_id: DeploymentId,
        /// The release that now serves (this deployment's own, or for a rollback the one
        /// switched back to).
        release: DeploymentId,
        /// The releases kept on the node afterwards, oldest first.
        kept: Vec<DeploymentId>,
        /// The object holding the deployment's full log.
        log_key: Option<String>,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        finished_at: OffsetDateTime,
    },
    /// A step failed; the release that served before still serves.
    DeploymentFailed {
        /// The deployment.
        deployment_id: DeploymentId,
        /// Why it was made.
        trigger: Trigger,
        /// The commit it deployed, once known.
        commit: Option<String>,
        /// The step that failed.
        step: StepName,
        /// Its exit code, when a command failed.
        exit_code: Option<i32>,
        /// What went wrong, in words.
        reason: String,
        /// The end of the step's log.
        log_tail: String,
        /// The object holding the deployment's full log.
        log_key: Option<String>,
        /// When it started.
        #[serde(with = "time::serde::rfc3339")]
        started_at: OffsetDateTime,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        finished_at: OffsetDateTime,
    },
}

impl DomainEvent for RepositoryEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Configured { .. } => "RepositoryConfigured",
            Self::DeploymentQueued { .. } => "DeploymentQueued",
            Self::DeploymentSuperseded { .. } => "DeploymentSuperseded",
            Self::DeploymentStarted { .. } => "DeploymentStarted",
            Self::DeploymentCommitResolved { .. } => "DeploymentCommitResolved",
            Self::DeploymentStepCompleted { .. } => "DeploymentStepCompleted",
            Self::DeploymentOutput { .. } => "DeploymentOutput",
            Self::DeploymentSucceeded { .. } => "DeploymentSucceeded",
            Self::DeploymentFailed { .. } => "DeploymentFailed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for RepositoryEvent {}

impl RepositoryEvent {
    /// The deployment the event is about, if it is about one.
    pub fn deployment_id(&self) -> Option<DeploymentId> {
        match self {
            Self::Configured { .. } => None,
            Self::DeploymentQueued { deployment_id, .. }
            | Self::DeploymentSuperseded { deployment_id, .. }
            | Self::DeploymentStarted { deployment_id, .. }
            | Self::DeploymentCommitResolved { deployment_id, .. }
            | Self::DeploymentStepCompleted { deployment_id, .. }
            | Self::DeploymentOutput { deployment_id, .. }
            | Self::DeploymentSucceeded { deployment_id, .. }
            | Self::DeploymentFailed { deployment_id, .. } => Some(*deployment_id),
        }
    }
}
