//! The repository aggregate: a site's git repository (where it is, what is deployed from it,
//! how it is built) and the deployments made from it.
//!
//! One aggregate per site (its id is the site's) holds the deployment queue, so "one at a time
//! per site" and "a newer push replaces one still queued" are decided under the aggregate's
//! optimistic lock: at most one deployment is running and at most one waits. The history of
//! every deployment is in the events (and the deployments view); the state keeps only what
//! the rules need — the running and queued deployments, the release serving, and the releases
//! kept on the node for rollbacks.

mod command;
mod error;
mod event;
#[cfg(test)]
mod tests;
mod values;

pub use command::{tail, RepositoryCommand, MAX_TAIL};
pub use error::RepositoryError;
pub use event::RepositoryEvent;
pub use values::{
    BuildSpec, RefName, RepoUrl, StepName, Trigger, ValueError, MAX_BUILD_SECS, MAX_COMMAND, MAX_COMMANDS,
    MAX_KEEP, MAX_URL,
};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};

use crate::ids::{DeploymentId, SiteId, TenantId};

/// A repository as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepoConfig {
    /// The site.
    pub site_id: SiteId,
    /// Its owner.
    pub tenant_id: TenantId,
    /// Where the code is.
    pub url: RepoUrl,
    /// The branch deployed on push.
    pub branch: RefName,
    /// How it is built.
    pub build: BuildSpec,
    /// The vault id of the deploy key's private half.
    pub deploy_key_id: uuid::Uuid,
    /// The deploy key's public half.
    pub public_key: String,
    /// The vault id of the webhook secret.
    pub webhook_secret_id: uuid::Uuid,
}

/// A deployment that has not ended: running, or waiting for the one running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The deployment.
    pub deployment_id: DeploymentId,
    /// What it deploys.
    pub git_ref: RefName,
    /// The commit a push named, and once fetched the commit deployed.
    pub commit: Option<String>,
    /// Why.
    pub trigger: Trigger,
    /// Whether it has started.
    pub started: bool,
}

/// A site's repository, rebuilt from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    config: Option<RepoConfig>,
    pending: Vec<Pending>,
    current: Option<DeploymentId>,
    kept: Vec<DeploymentId>,
}

impl Repository {
    /// The configuration, once set.
    pub fn config(&self) -> Option<&RepoConfig> {
        self.config.as_ref()
    }

    /// The deployment running.
    pub fn running(&self) -> Option<&Pending> {
        self.pending.iter().find(|p| p.started)
    }

    /// The deployment waiting for the running one.
    pub fn queued(&self) -> Option<&Pending> {
        self.pending.iter().find(|p| !p.started)
    }

    /// The release serving.
    pub fn current(&self) -> Option<DeploymentId> {
        self.current
    }

    /// The releases kept on the node, oldest first.
    pub fn kept(&self) -> &[DeploymentId] {
        &self.kept
    }
}

impl crate::aggregate::Consequences for Repository {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.config.as_ref().map(|c| c.tenant_id.as_uuid())
    }
}

impl Aggregate for Repository {
    const TYPE: &'static str = "repository";
    type Command = RepositoryCommand;
    type Event = RepositoryEvent;
    type Error = RepositoryError;
    type Services = ();

    async fn handle(
        &mut self,
        command: RepositoryCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), RepositoryError> {
        for event in command::decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: RepositoryEvent) {
        match event {
            RepositoryEvent::Configured {
                site_id,
                tenant_id,
                url,
                branch,
                build,
                deploy_key_id,
                public_key,
                webhook_secret_id,
                ..
            } => {
                self.config = Some(RepoConfig {
                    site_id,
                    tenant_id,
                    url,
                    branch,
                    build,
                    deploy_key_id,
                    public_key,
                    webhook_secret_id,
                });
            }
            RepositoryEvent::DeploymentQueued { deployment_id, git_ref, commit, trigger, .. } => {
                self.pending.push(Pending { deployment_id, git_ref, commit, trigger, started: false });
            }
            RepositoryEvent::DeploymentSuperseded { deployment_id, .. } => {
                self.pending.retain(|p| p.deployment_id != deployment_id);
            }
            RepositoryEvent::DeploymentStarted { deployment_id, .. } => {
                if let Some(p) = self.pending.iter_mut().find(|p| p.deployment_id == deployment_id) {
                    p.started = true;
                }
            }
            RepositoryEvent::DeploymentCommitResolved { deployment_id, commit, .. } => {
                if let Some(p) = self.pending.iter_mut().find(|p| p.deployment_id == deployment_id) {
                    p.commit = Some(commit);
                }
            }
            RepositoryEvent::DeploymentStepCompleted { .. } | RepositoryEvent::DeploymentOutput { .. } => {}
            RepositoryEvent::DeploymentSucceeded { deployment_id, release, kept, .. } => {
                self.pending.retain(|p| p.deployment_id != deployment_id);
                self.current = Some(release);
                self.kept = kept;
            }
            RepositoryEvent::DeploymentFailed { deployment_id, .. } => {
                self.pending.retain(|p| p.deployment_id != deployment_id);
            }
        }
    }
}
