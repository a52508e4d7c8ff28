//! The deployments saga: runs each deployment the repository aggregate starts (one at a time
//! per site, so this saga never has to order them itself). Steps: fetch → upload (the
//! `git archive` tar streamed into a fresh release) → build → switch and health check. Each
//! step that ends well is recorded as it ends, so the history and the live stream show the
//! deployment moving; the first that fails is recorded with its exit code and log tail, and
//! the release that served before serves on (the node switches back itself when the health
//! check fails). A rollback is a deployment too: it only switches to a kept release.
//!
//! Redelivered, a deployment starts over: the release directory is made afresh, and every
//! outcome's command id derives from the event and the step, so nothing is recorded twice.

use std::sync::Arc;
use std::time::Duration;

use berth_domain::event::Event;
use berth_domain::ids::{DeploymentId, SiteId};
use berth_domain::repository::{
    Pending, RepoConfig, Repository, RepositoryCommand, RepositoryEvent, StepName, Trigger,
};
use berth_domain::site::Site;
use berth_eventstore::clock::Clock;
use berth_eventstore::recorded::Recorded;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::git::Commit;
use super::Deploys;
use crate::context::SagaContext;
use crate::node::deploy::{ReleaseBuild, ReleaseReceive, ReleaseSwitch};
use crate::node::scripts::{self, ErrorCode};
use crate::node::{saga_metadata, NodeWork, TargetError};
use crate::outcome::{step, Step};
use crate::saga::{Outcome, Saga, Tuning};
use crate::ssh::Target;

const SAGA: &str = "deploys";

/// The deployments saga (consumes repository events).
pub struct DeploySaga {
    work: NodeWork,
    clock: Arc<dyn Clock>,
    deploys: Deploys,
}

/// `[sagas.deploys]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeploySagaSettings {
    /// Deployments run at once per sagas process (of different sites).
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a deployment whose worker died.
    pub takeover_secs: u64,
}

impl Default for DeploySagaSettings {
    fn default() -> Self {
        Self { concurrency: 2, takeover_secs: 1800 }
    }
}

impl Saga for DeploySaga {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["repository"];
    type Settings = DeploySagaSettings;

    fn build(context: &SagaContext, _: &DeploySagaSettings) -> Self {
        Self { work: NodeWork::new(context), clock: context.clock.clone(), deploys: context.deploys.clone() }
    }

    fn tuning(settings: &DeploySagaSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(event.event, Event::Repository(RepositoryEvent::DeploymentStarted { .. }))
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(site) = event.aggregate_uuid().map(SiteId::from_uuid) else {
            return Outcome::Failed(format!("`{}` is not a site id", event.aggregate_id));
        };
        let Event::Repository(RepositoryEvent::DeploymentStarted { deployment_id, .. }) = &event.event else {
            return Outcome::Done;
        };
        self.run(event, site, *deployment_id).await.err().unwrap_or(Outcome::Done)
    }
}

/// What a deployment under way has: its log, and where each step started.
struct Run<'a> {
    event: &'a Recorded,
    site: SiteId,
    id: DeploymentId,
    config: RepoConfig,
    log: String,
    /// How much of `log` the live stream has been given.
    shown: usize,
    started: OffsetDateTime,
}

/// A step that failed, as recorded.
struct Failed {
    step: StepName,
    exit_code: Option<i32>,
    reason: String,
    tail: String,
}

impl Failed {
    fn new(
        step: StepName,
        exit_code: Option<i32>,
        reason: impl Into<String>,
        tail: impl Into<String>,
    ) -> Self {
        Self { step, exit_code, reason: reason.into(), tail: tail.into() }
    }
}

impl DeploySaga {
    #[tracing::instrument(skip_all, fields(site_id = %site, deployment_id = %id))]
    async fn run(&self, event: &Recorded, site: SiteId, id: DeploymentId) -> Step<()> {
        let store = &self.work.store;
        let repo = store.load::<Repository>(&site.to_string()).await.map_err(Outcome::later)?.aggregate;
        let Some(pending) = repo.running().filter(|p| p.deployment_id == id).cloned() else { return Ok(()) };
        let Some(config) = repo.config().cloned() else { return Ok(()) };
        let mut run =
            Run { event, site, id, config, log: String::new(), shown: 0, started: self.clock.now() };
        let began = std::time::Instant::now();
        let result = self.steps(&mut run, &repo, &pending).await?;
        let outcome = match result {
            Ok(()) => "succeeded",
            Err(failed) => {
                metrics::counter!("berth_deployment_failures_total", "step" => failed.step.as_str())
                    .increment(1);
                self.fail(&mut run, failed).await?;
                "failed"
            }
        };
        metrics::histogram!("berth_deployment_seconds", "outcome" => outcome)
            .record(began.elapsed().as_secs_f64());
        Ok(())
    }

    /// Every step in turn; `Ok(Err(..))` is a deployment that failed (and is to be recorded so).
    async fn steps(
        &self,
        run: &mut Run<'_>,
        repo: &Repository,
        pending: &Pending,
    ) -> Step<Result<(), Failed>> {
        let site =
            self.work.store.load::<Site>(&run.site.to_string()).await.map_err(Outcome::later)?.aggregate;
        let Some(placement) = site.node() else {
            return Ok(Err(Failed::new(StepName::Upload, None, "the site is on no node", "")));
        };
        let target = match self.work.target(placement.node_id).await {
            Ok(target) => target,
            Err(TargetError::Store(error)) => return Err(Outcome::later(error)),
            Err(error) => return Ok(Err(Failed::new(StepName::Upload, None, error.to_string(), ""))),
        };
        if let Trigger::Rollback { to } = pending.trigger {
            let keep: Vec<DeploymentId> = repo.kept().iter().copied().filter(|k| *k != to).collect();
            if let Err(failed) = self.switch(run, &target, to, keep).await? {
                return Ok(Err(failed));
            }
            self.succeed(run, to, repo.kept().to_vec()).await?;
            return Ok(Ok(()));
        }
        let commit = match self.fetch(run, pending).await? {
            Ok(commit) => commit,
            Err(failed) => return Ok(Err(failed)),
        };
        if let Err(failed) = self.upload(run, &target, &commit).await? {
            return Ok(Err(failed));
        }
        if let Err(failed) = self.build(run, &target).await? {
            return Ok(Err(failed));
        }
        let keep_n = usize::try_from(run.config.build.keep_releases.max(1)).unwrap_or(1);
        let mut kept: Vec<DeploymentId> = repo.kept().iter().copied().filter(|k| *k != run.id).collect();
        kept.push(run.id);
        let kept = kept.split_off(kept.len().saturating_sub(keep_n));
        let others: Vec<DeploymentId> = kept.iter().copied().filter(|k| *k != run.id).collect();
        if let Err(failed) = self.switch(run, &target, run.id, others).await? {
            return Ok(Err(failed));
        }
        self.succeed(run, run.id, kept).await?;
        Ok(Ok(()))
    }

    async fn fetch(&self, run: &mut Run<'_>, pending: &Pending) -> Step<Result<Commit, Failed>> {
        let started = self.clock.now();
        let seed = if run.config.url.uses_ssh() {
            Some(
                self.work
                    .vault
                    .open(&self.work.pool, run.config.deploy_key_id)
                    .await
                    .map_err(Outcome::later)?,
            )
        } else {
            None
        };
        run.log.push_str(&format!("$ git fetch {} {}\n", run.config.url.as_str(), pending.git_ref.as_str()));
        let fetched = self
            .deploys
            .git
            .fetch(
                run.site,
                &run.config.url,
                &pending.git_ref,
                pending.commit.as_deref(),
                seed.as_ref().map(|s| s.as_slice()),
            )
            .await;
        let (commit, output) = match fetched {
            Ok(found) => found,
            Err(failure) => {
                run.log.push_str(&failure.log);
                return Ok(Err(Failed::new(
                    StepName::Fetch,
                    failure.exit_code,
                    failure.to_string(),
                    failure.log,
                )));
            }
        };
        run.log.push_str(&output);
        run.log.push_str(&format!("commit {} by {}: {}\n", commit.id, commit.author, commit.message));
        let command = RepositoryCommand::ResolveCommit {
            deployment_id: run.id,
            commit: commit.id.clone(),
            author: commit.author.clone(),
            message: commit.message.clone(),
        };
        self.record(run, "commit", command).await?;
        self.completed(run, StepName::Fetch, started).await?;
        Ok(Ok(commit))
    }

    async fn upload(&self, run: &mut Run<'_>, target: &Target, commit: &Commit) -> Step<Result<(), Failed>> {
        let started = self.clock.now();
        let (feed, input) = mpsc::channel::<Bytes>(64);
        let verb = ReleaseReceive { site: run.site, release: run.id };
        let node = scripts::call_stream(&*self.work.shell, target, &verb, Some(input), None);
        let produce = self.deploys.git.archive(run.site, &commit.id, feed);
        let (received, produced) = tokio::join!(node, produce);
        match (received, produced) {
            (Ok(received), Ok(sent)) => {
                run.log.push_str(&format!(
                    "$ git archive {} | release-receive\n{sent} bytes sent; {} files, {} bytes unpacked\n",
                    commit.id, received.files, received.bytes
                ));
            }
            (_, Err(failure)) => {
                run.log.push_str(&failure.log);
                return Ok(Err(Failed::new(
                    StepName::Upload,
                    failure.exit_code,
                    failure.to_string(),
                    failure.log,
                )));
            }
            (Err(error), Ok(_)) => {
                let text = error.to_string();
                run.log.push_str(&text);
                return Ok(Err(Failed::new(StepName::Upload, None, text.clone(), text)));
            }
        }
        self.completed(run, StepName::Upload, started).await?;
        Ok(Ok(()))
    }

    async fn build(&self, run: &mut Run<'_>, target: &Target) -> Step<Result<(), Failed>> {
        let started = self.clock.now();
        // The plan's limits, within what the operator allows ([deploys]).
        let plan = self.work.site_resources(Some(run.config.tenant_id)).await.map_err(Outcome::later)?;
        let build = &run.config.build;
        let verb = ReleaseBuild {
            site: run.site,
            release: run.id,
            commands: build.commands.clone(),
            post: build.post_deploy.clone(),
            timeout_secs: build.timeout_secs.max(1),
            memory_mb: plan.build_memory_mb.min(self.deploys.build_memory_mb).max(64),
            cpu_secs: plan.build_cpu_secs.min(self.deploys.build_cpu_secs).max(1),
        };
        match scripts::call(&*self.work.shell, target, &verb).await {
            Ok(report) => {
                run.log.push_str(&report.log);
                if !report.passed {
                    let reason = if report.exit_code == 124 {
                        format!("{} ran out of time", report.step)
                    } else {
                        format!("{} exited {}", report.step, report.exit_code)
                    };
                    return Ok(Err(Failed::new(StepName::Build, Some(report.exit_code), reason, report.log)));
                }
            }
            Err(error) => {
                let text = error.to_string();
                run.log.push_str(&text);
                return Ok(Err(Failed::new(StepName::Build, None, text.clone(), text)));
            }
        }
        self.completed(run, StepName::Build, started).await?;
        Ok(Ok(()))
    }

    async fn switch(
        &self,
        run: &mut Run<'_>,
        target: &Target,
        release: DeploymentId,
        keep: Vec<DeploymentId>,
    ) -> Step<Result<(), Failed>> {
        let started = self.clock.now();
        let verb =
            ReleaseSwitch { site: run.site, release, public_dir: run.config.build.public_dir.clone(), keep };
        match scripts::call(&*self.work.shell, target, &verb).await {
            Ok(switched) => {
                run.log.push_str(&format!(
                    "$ release-switch {release}\nserving {} (before: {}); the site answered {}; {} old releases removed\n",
                    switched.release,
                    switched.previous.as_deref().unwrap_or("none"),
                    switched.status,
                    switched.removed
                ));
            }
            Err(error) => {
                let text = error.to_string();
                run.log.push_str(&text);
                let step = if error.code() == Some(&ErrorCode::SiteCheckFailed) {
                    StepName::HealthCheck
                } else {
                    StepName::Switch
                };
                return Ok(Err(Failed::new(step, None, text.clone(), text)));
            }
        }
        self.completed(run, StepName::Switch, started).await?;
        self.completed(run, StepName::HealthCheck, started).await?;
        Ok(Ok(()))
    }

    async fn succeed(&self, run: &mut Run<'_>, release: DeploymentId, kept: Vec<DeploymentId>) -> Step<()> {
        let log_key = self.keep_log(run).await;
        let command = RepositoryCommand::Succeed {
            deployment_id: run.id,
            release,
            kept,
            log_key,
            now: self.clock.now(),
        };
        self.record(run, "succeeded", command).await
    }

    async fn fail(&self, run: &mut Run<'_>, failed: Failed) -> Step<()> {
        tracing::warn!(step = failed.step.as_str(), reason = %failed.reason, "deployment failed");
        let log_key = self.keep_log(run).await;
        let command = RepositoryCommand::Fail {
            deployment_id: run.id,
            step: failed.step,
            exit_code: failed.exit_code,
            reason: failed.reason,
            log_tail: failed.tail,
            log_key,
            started_at: run.started,
            now: self.clock.now(),
        };
        self.record(run, "failed", command).await
    }

    /// Stores the full log; its key, unless there is no storage or it could not be written
    /// (the history still has the tail).
    async fn keep_log(&self, run: &Run<'_>) -> Option<String> {
        let storage = self.deploys.storage.as_ref()?;
        let key = super::log_key(&storage.prefix, run.config.tenant_id, run.site, run.id);
        let path = object_store::path::Path::from(key.as_str());
        match storage.store.put(&path, run.log.clone().into_bytes().into()).await {
            Ok(_) => Some(key),
            Err(error) => {
                tracing::warn!(%error, "the deployment's log was not stored");
                None
            }
        }
    }

    async fn completed(&self, run: &mut Run<'_>, step: StepName, started_at: OffsetDateTime) -> Step<()> {
        // What the step printed goes out first, live; its end after it.
        let printed = run.log.get(run.shown..).unwrap_or_default().trim_end().to_owned();
        if !printed.is_empty() {
            let output = RepositoryCommand::LogOutput { deployment_id: run.id, step, output: printed };
            self.record(run, "output", output).await?;
        }
        run.shown = run.log.len();
        let command = RepositoryCommand::CompleteStep {
            deployment_id: run.id,
            step,
            started_at,
            finished_at: self.clock.now(),
        };
        self.record(run, step.as_str(), command).await
    }

    async fn record(&self, run: &Run<'_>, name: &str, command: RepositoryCommand) -> Step<()> {
        let meta = saga_metadata(run.event, SAGA, name);
        step(self.work.record::<Repository>(&run.site.to_string(), command, &meta).await)
    }
}
