//! The deployment failure notice: when a deployment fails, the tenant's owners are mailed once
//! for it, with the step, its exit code, the reason and the end of its log.

use berth_domain::event::Event;
use berth_domain::repository::{Repository, RepositoryEvent};
use berth_domain::site::Site;
use berth_eventstore::recorded::Recorded;
use serde_json::json;

use crate::context::SagaContext;
use crate::mail::catalog::DEPLOYMENT_FAILED;
use crate::mail::{recipients, when, NoticeSettings, Notifier, OutgoingMail};
use crate::saga::{Outcome, Saga, Tuning};

/// The deployment failure notice saga (consumes repository events).
pub struct DeployMail {
    notices: Notifier,
}

impl Saga for DeployMail {
    const NAME: &'static str = "deploy_mail";
    const AGGREGATES: &'static [&'static str] = &["repository"];
    type Settings = NoticeSettings;

    fn build(context: &SagaContext, settings: &NoticeSettings) -> Self {
        Self { notices: Notifier::new(context, settings) }
    }

    fn tuning(settings: &NoticeSettings) -> Tuning {
        settings.tuning()
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(event.event, Event::Repository(RepositoryEvent::DeploymentFailed { .. }))
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        if !self.notices.recent(event.recorded_at) {
            tracing::info!(site_id = %event.aggregate_id, "failed too long ago to mail (sagas.deploy_mail.max_age_hours)");
            return Outcome::Done;
        }
        match self.notice(event).await {
            Ok(()) => Outcome::Done,
            Err(outcome) => outcome,
        }
    }
}

impl DeployMail {
    #[tracing::instrument(skip_all, fields(site_id = %event.aggregate_id))]
    async fn notice(&self, event: &Recorded) -> Result<(), Outcome> {
        let Event::Repository(RepositoryEvent::DeploymentFailed {
            deployment_id,
            trigger,
            commit,
            step,
            exit_code,
            reason,
            log_tail,
            finished_at,
            ..
        }) = &event.event
        else {
            return Ok(());
        };
        let store = &self.notices.store;
        let repo = store.load::<Repository>(&event.aggregate_id).await.map_err(Outcome::later)?.aggregate;
        let Some(config) = repo.config() else {
            return Err(Outcome::Failed("the repository has no tenant".into()));
        };
        let site = store.load::<Site>(&event.aggregate_id).await.map_err(Outcome::later)?.aggregate;
        let site_name = site.domain().map_or_else(|| event.aggregate_id.clone(), |d| d.as_str().to_owned());
        let to =
            recipients::owner_emails(&self.notices.pool, config.tenant_id).await.map_err(Outcome::later)?;
        if to.is_empty() {
            return Err(Outcome::RetryLater(format!("no owner known for tenant {}", config.tenant_id)));
        }
        let mail = OutgoingMail {
            key: format!("deployment-failed:{deployment_id}"),
            tenant_id: Some(config.tenant_id),
            to,
            template: DEPLOYMENT_FAILED,
            context: json!({
                "site": site_name,
                "trigger": trigger.as_str(),
                "commit": commit.as_ref().map(|c| c.chars().take(12).collect::<String>()),
                "failed_at": when(*finished_at),
                "step": step.as_str().replace('_', " "),
                "exit_code": exit_code,
                "reason": reason,
                "log_tail": berth_domain::repository::tail(log_tail, 1500),
            }),
            attachments: Vec::new(),
        };
        self.notices.queue(mail).await
    }
}
