//! Repository commands, and the rules that decide them: one deployment runs at a time per
//! site, a newer one replaces one still queued, and a rollback goes only to a kept release.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::event::RepositoryEvent as E;
use super::{BuildSpec, RefName, RepoUrl, Repository, RepositoryError, StepName, Trigger};
use crate::ids::{DeploymentId, SiteId, TenantId};
use crate::php::SiteKind;

/// What can be asked of a site's repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepositoryCommand {
    /// Set the repository. The key and secret ids are used only the first time: a repository
    /// set again keeps its deploy key and webhook secret.
    Configure {
        /// The site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// What runs it (WordPress sites are not deployed from a repository).
        kind: SiteKind,
        /// Where the code is.
        url: RepoUrl,
        /// The branch deployed on push.
        branch: RefName,
        /// How it is built.
        build: BuildSpec,
        /// The vault id of a new deploy key.
        deploy_key_id: uuid::Uuid,
        /// Its public half.
        public_key: String,
        /// The vault id of a new webhook secret.
        webhook_secret_id: uuid::Uuid,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Deploy `git_ref` (or switch back, for a rollback).
    Queue {
        /// The new deployment.
        deployment_id: DeploymentId,
        /// What to deploy.
        git_ref: RefName,
        /// The commit a push named.
        commit: Option<String>,
        /// Why.
        trigger: Trigger,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Record the commit the running deployment fetched.
    ResolveCommit {
        /// The deployment.
        deployment_id: DeploymentId,
        /// The full commit id.
        commit: String,
        /// Its author.
        author: String,
        /// Its subject line.
        message: String,
    },
    /// Record a step of the running deployment that ended well.
    CompleteStep {
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
    /// Record what a step of the running deployment printed (its last lines), so that the
    /// live stream and the history show it while the deployment runs.
    LogOutput {
        /// The deployment.
        deployment_id: DeploymentId,
        /// The step.
        step: StepName,
        /// What it printed; only the last [`OUTPUT_MAX`] characters are kept.
        output: String,
    },
    /// Record that the running deployment's release serves.
    Succeed {
        /// The deployment.
        deployment_id: DeploymentId,
        /// The release now serving.
        release: DeploymentId,
        /// The releases kept on the node, oldest first.
        kept: Vec<DeploymentId>,
        /// Its full log.
        log_key: Option<String>,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Record that a step of the running deployment failed.
    Fail {
        /// The deployment.
        deployment_id: DeploymentId,
        /// The step.
        step: StepName,
        /// The exit code of the command that failed.
        exit_code: Option<i32>,
        /// In words.
        reason: String,
        /// The end of the step's log.
        log_tail: String,
        /// Its full log.
        log_key: Option<String>,
        /// When the step started.
        #[serde(with = "time::serde::rfc3339")]
        started_at: OffsetDateTime,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
}

/// The most characters of a log kept in an event.
pub const MAX_TAIL: usize = 4000;

pub(super) fn decide(repo: &Repository, command: RepositoryCommand) -> Result<Vec<E>, RepositoryError> {
    if let RepositoryCommand::Configure {
        site_id,
        tenant_id,
        kind,
        url,
        branch,
        build,
        deploy_key_id,
        public_key,
        webhook_secret_id,
        now,
    } = command
    {
        if kind == SiteKind::Wordpress {
            return Err(RepositoryError::NotDeployable);
        }
        let (deploy_key_id, public_key, webhook_secret_id) = match &repo.config {
            Some(old) if old.site_id != site_id => return Err(RepositoryError::SiteMismatch),
            Some(old) => (old.deploy_key_id, old.public_key.clone(), old.webhook_secret_id),
            None => (deploy_key_id, public_key, webhook_secret_id),
        };
        return Ok(vec![E::Configured {
            site_id,
            tenant_id,
            url,
            branch,
            build,
            deploy_key_id,
            public_key,
            webhook_secret_id,
            configured_at: now,
        }]);
    }
    if repo.config.is_none() {
        return Err(RepositoryError::NotConfigured);
    }
    match command {
        RepositoryCommand::Configure { .. } => unreachable!("handled above"),
        RepositoryCommand::Queue { deployment_id, git_ref, commit, trigger, now } => {
            if repo.pending.iter().any(|p| p.deployment_id == deployment_id) {
                return Ok(Vec::new());
            }
            if let Trigger::Rollback { to } = &trigger {
                if !repo.kept.contains(to) {
                    return Err(RepositoryError::ReleaseNotKept(*to));
                }
            }
            let mut events =
                vec![E::DeploymentQueued { deployment_id, git_ref, commit, trigger, queued_at: now }];
            match (repo.running(), repo.queued()) {
                (None, _) => events.push(E::DeploymentStarted { deployment_id, started_at: now }),
                (Some(_), Some(old)) => events
                    .push(E::DeploymentSuperseded { deployment_id: old.deployment_id, by: deployment_id }),
                (Some(_), None) => {}
            }
            Ok(events)
        }
        RepositoryCommand::ResolveCommit { deployment_id, commit, author, message } => {
            running(repo, deployment_id)?;
            Ok(vec![E::DeploymentCommitResolved {
                deployment_id,
                commit,
                author: clip(&author, 200),
                message: clip(&message, 500),
            }])
        }
        RepositoryCommand::CompleteStep { deployment_id, step, started_at, finished_at } => {
            running(repo, deployment_id)?;
            Ok(vec![E::DeploymentStepCompleted { deployment_id, step, started_at, finished_at }])
        }
        RepositoryCommand::LogOutput { deployment_id, step, output } => {
            running(repo, deployment_id)?;
            Ok(vec![E::DeploymentOutput { deployment_id, step, output: tail(&output, OUTPUT_MAX) }])
        }
        RepositoryCommand::Succeed { deployment_id, release, kept, log_key, now } => {
            running(repo, deployment_id)?;
            let mut events =
                vec![E::DeploymentSucceeded { deployment_id, release, kept, log_key, finished_at: now }];
            events.extend(next(repo, now));
            Ok(events)
        }
        RepositoryCommand::Fail {
            deployment_id,
            step,
            exit_code,
            reason,
            log_tail,
            log_key,
            started_at,
            now,
        } => {
            let pending = running(repo, deployment_id)?;
            let mut events = vec![E::DeploymentFailed {
                deployment_id,
                trigger: pending.trigger.clone(),
                commit: pending.commit.clone(),
                step,
                exit_code,
                reason: clip(&reason, 1000),
                log_tail: tail(&log_tail, MAX_TAIL),
                log_key,
                started_at,
                finished_at: now,
            }];
            events.extend(next(repo, now));
            Ok(events)
        }
    }
}

/// The queued deployment starts once the running one ends.
fn next(repo: &Repository, now: OffsetDateTime) -> Option<E> {
    repo.queued().map(|q| E::DeploymentStarted { deployment_id: q.deployment_id, started_at: now })
}

fn running(repo: &Repository, deployment_id: DeploymentId) -> Result<&super::Pending, RepositoryError> {
    match repo.running() {
        Some(p) if p.deployment_id == deployment_id => Ok(p),
        _ => Err(RepositoryError::NotRunning(deployment_id)),
    }
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The last `max` characters of `text`.
/// The most characters of a step's output an event keeps (the full log is in object storage).
pub const OUTPUT_MAX: usize = 4000;

/// The last `max` characters of `text`.
pub fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(max)).collect()
}
