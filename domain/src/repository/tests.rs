use cqrs_es::test::TestFramework;
use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

use super::*;

const NOW: OffsetDateTime = datetime!(2030-03-01 02:00 UTC);

fn dep(n: u128) -> DeploymentId {
    DeploymentId::from_uuid(Uuid::from_u128(100 + n))
}

fn main() -> RefName {
    RefName::parse("main").unwrap()
}

fn configured() -> RepositoryEvent {
    RepositoryEvent::Configured {
        site_id: SiteId::from_uuid(Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        url: RepoUrl::parse("https://github.com/acme/site.git", false).unwrap(),
        branch: main(),
        build: BuildSpec { keep_releases: 2, timeout_secs: 60, ..BuildSpec::default() },
        deploy_key_id: Uuid::from_u128(3),
        public_key: "ssh-ed25519 AAAA".to_owned(),
        webhook_secret_id: Uuid::from_u128(4),
        configured_at: NOW,
    }
}

fn queue(n: u128, trigger: Trigger) -> RepositoryCommand {
    RepositoryCommand::Queue { deployment_id: dep(n), git_ref: main(), commit: None, trigger, now: NOW }
}

fn queued(n: u128, trigger: Trigger) -> RepositoryEvent {
    RepositoryEvent::DeploymentQueued {
        deployment_id: dep(n),
        git_ref: main(),
        commit: None,
        trigger,
        queued_at: NOW,
    }
}

fn started(n: u128) -> RepositoryEvent {
    RepositoryEvent::DeploymentStarted { deployment_id: dep(n), started_at: NOW }
}

fn succeeded(n: u128, kept: Vec<DeploymentId>) -> RepositoryEvent {
    RepositoryEvent::DeploymentSucceeded {
        deployment_id: dep(n),
        release: dep(n),
        kept,
        log_key: None,
        finished_at: NOW,
    }
}

#[test]
fn a_deployment_on_an_idle_site_starts_at_once() {
    TestFramework::<Repository>::with(())
        .given(vec![configured()])
        .when(queue(1, Trigger::Manual))
        .then_expect_events(vec![queued(1, Trigger::Manual), started(1)]);
}

#[test]
fn a_newer_deployment_replaces_the_one_still_queued_and_starts_when_the_running_one_ends() {
    TestFramework::<Repository>::with(())
        .given(vec![configured(), queued(1, Trigger::Manual), started(1), queued(2, Trigger::Manual)])
        .when(queue(3, Trigger::Manual))
        .then_expect_events(vec![
            queued(3, Trigger::Manual),
            RepositoryEvent::DeploymentSuperseded { deployment_id: dep(2), by: dep(3) },
        ]);
    TestFramework::<Repository>::with(())
        .given(vec![
            configured(),
            queued(1, Trigger::Manual),
            started(1),
            queued(2, Trigger::Manual),
            queued(3, Trigger::Manual),
            RepositoryEvent::DeploymentSuperseded { deployment_id: dep(2), by: dep(3) },
        ])
        .when(RepositoryCommand::Succeed {
            deployment_id: dep(1),
            release: dep(1),
            kept: vec![dep(1)],
            log_key: None,
            now: NOW,
        })
        .then_expect_events(vec![succeeded(1, vec![dep(1)]), started(3)]);
}

#[test]
fn outcomes_of_a_deployment_that_is_not_running_are_refused() {
    TestFramework::<Repository>::with(())
        .given(vec![configured(), queued(1, Trigger::Manual), started(1), queued(2, Trigger::Manual)])
        .when(RepositoryCommand::CompleteStep {
            deployment_id: dep(2),
            step: StepName::Fetch,
            started_at: NOW,
            finished_at: NOW,
        })
        .then_expect_error(RepositoryError::NotRunning(dep(2)));
}

#[test]
fn a_rollback_goes_only_to_a_kept_release() {
    let history = vec![configured(), queued(1, Trigger::Manual), started(1), succeeded(1, vec![dep(1)])];
    TestFramework::<Repository>::with(())
        .given(history.clone())
        .when(queue(2, Trigger::Rollback { to: dep(9) }))
        .then_expect_error(RepositoryError::ReleaseNotKept(dep(9)));
    TestFramework::<Repository>::with(())
        .given(history)
        .when(queue(2, Trigger::Rollback { to: dep(1) }))
        .then_expect_events(vec![queued(2, Trigger::Rollback { to: dep(1) }), started(2)]);
}

#[test]
fn a_deployment_needs_a_repository_and_a_second_configure_keeps_the_keys() {
    TestFramework::<Repository>::with(())
        .given_no_previous_events()
        .when(queue(1, Trigger::Manual))
        .then_expect_error(RepositoryError::NotConfigured);
    let RepositoryEvent::Configured { site_id, tenant_id, url, build, .. } = configured() else {
        unreachable!()
    };
    TestFramework::<Repository>::with(())
        .given(vec![configured()])
        .when(RepositoryCommand::Configure {
            site_id,
            tenant_id,
            kind: crate::php::SiteKind::Php,
            url,
            branch: RefName::parse("production").unwrap(),
            build,
            deploy_key_id: Uuid::from_u128(30),
            public_key: "ssh-ed25519 BBBB".to_owned(),
            webhook_secret_id: Uuid::from_u128(40),
            now: NOW,
        })
        .then_expect_events(vec![{
            let RepositoryEvent::Configured {
                site_id,
                tenant_id,
                url,
                build,
                deploy_key_id,
                public_key,
                webhook_secret_id,
                configured_at,
                ..
            } = configured()
            else {
                unreachable!()
            };
            RepositoryEvent::Configured {
                site_id,
                tenant_id,
                url,
                branch: RefName::parse("production").unwrap(),
                build,
                deploy_key_id,
                public_key,
                webhook_secret_id,
                configured_at,
            }
        }]);
}

#[test]
fn a_failure_keeps_its_log_tail_short() {
    let long = "x".repeat(MAX_TAIL + 50) + "END";
    let events = command::decide(
        &{
            let mut r = Repository::default();
            for e in [configured(), queued(1, Trigger::Manual), started(1)] {
                cqrs_es::Aggregate::apply(&mut r, e);
            }
            r
        },
        RepositoryCommand::Fail {
            deployment_id: dep(1),
            step: StepName::Build,
            exit_code: Some(2),
            reason: "composer failed".to_owned(),
            log_tail: long,
            log_key: None,
            started_at: NOW,
            now: NOW,
        },
    )
    .unwrap();
    let RepositoryEvent::DeploymentFailed { log_tail, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!(log_tail.chars().count(), MAX_TAIL);
    assert!(log_tail.ends_with("END"));
}

#[test]
fn a_wordpress_site_has_no_repository() {
    let RepositoryEvent::Configured { site_id, tenant_id, url, branch, build, .. } = configured() else {
        unreachable!()
    };
    TestFramework::<Repository>::with(())
        .given_no_previous_events()
        .when(RepositoryCommand::Configure {
            site_id,
            tenant_id,
            kind: crate::php::SiteKind::Wordpress,
            url,
            branch,
            build,
            deploy_key_id: Uuid::from_u128(3),
            public_key: "ssh-ed25519 AAAA".to_owned(),
            webhook_secret_id: Uuid::from_u128(4),
            now: NOW,
        })
        .then_expect_error(RepositoryError::NotDeployable);
}

#[test]
fn a_running_step_s_output_is_recorded_by_its_tail_and_a_finished_deployment_takes_none() {
    let long = format!("{}the end", "x".repeat(super::command::OUTPUT_MAX));
    TestFramework::<Repository>::with(())
        .given(vec![configured(), queued(1, Trigger::Manual), started(1)])
        .when(RepositoryCommand::LogOutput {
            deployment_id: dep(1),
            step: StepName::Build,
            output: long.clone(),
        })
        .then_expect_events(vec![RepositoryEvent::DeploymentOutput {
            deployment_id: dep(1),
            step: StepName::Build,
            output: long[long.len() - super::command::OUTPUT_MAX..].to_owned(),
        }]);
    TestFramework::<Repository>::with(())
        .given(vec![configured(), queued(1, Trigger::Manual), started(1), succeeded(1, vec![dep(1)])])
        .when(RepositoryCommand::LogOutput { deployment_id: dep(1), step: StepName::Build, output: long })
        .then_expect_error(RepositoryError::NotRunning(dep(1)));
}
