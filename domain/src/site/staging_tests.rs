use cqrs_es::test::TestFramework;
use time::OffsetDateTime;
use uuid::Uuid;

use super::*;
use crate::ids::{BackupId, NodeId, RestoreId};

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000 + seconds).unwrap()
}

fn copy_id() -> SiteId {
    SiteId::from_uuid(Uuid::from_u128(7))
}

fn copy_domain() -> DomainName {
    DomainName::parse("staging.blog.example.com").unwrap()
}

fn backup(n: u128) -> BackupId {
    BackupId::from_uuid(Uuid::from_u128(n))
}

fn restore(n: u128) -> RestoreId {
    RestoreId::from_uuid(Uuid::from_u128(n))
}

fn active() -> Vec<SiteEvent> {
    vec![
        SiteEvent::Created {
            site_id: SiteId::from_uuid(Uuid::from_u128(1)),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
            domain: DomainName::parse("blog.example.com").unwrap(),
            kind: SiteKind::Wordpress,
            php_version: Some(PhpVersion::V8_3),
        },
        SiteEvent::NodeAssigned {
            node_id: NodeId::from_uuid(Uuid::from_u128(10)),
            node_name: "a".into(),
            address: "10.0.0.1".into(),
            took_ms: 1,
        },
        SiteEvent::Provisioned { took_ms: 1 },
        SiteEvent::Activated { took_ms: 1 },
    ]
}

fn create() -> SiteCommand {
    SiteCommand::CreateStaging { staging_site_id: copy_id(), domain: copy_domain(), now: at(0) }
}

fn created() -> SiteEvent {
    SiteEvent::StagingCreated { staging_site_id: copy_id(), domain: copy_domain(), requested_at: at(0) }
}

fn step(
    step: StagingStep,
    backup_id: Option<BackupId>,
    restore_id: Option<RestoreId>,
    secs: i64,
) -> SiteCommand {
    SiteCommand::RecordStagingStep { step, backup_id, restore_id, now: at(secs) }
}

fn done(
    step: StagingStep,
    backup_id: Option<BackupId>,
    restore_id: Option<RestoreId>,
    took: u64,
    secs: i64,
) -> SiteEvent {
    SiteEvent::StagingStepCompleted {
        staging_site_id: copy_id(),
        step,
        backup_id,
        restore_id,
        took_ms: took,
        completed_at: at(secs),
    }
}

fn ready() -> Vec<SiteEvent> {
    let mut events = active();
    events.extend([
        created(),
        done(StagingStep::Provision, Some(backup(20)), None, 1000, 1),
        done(StagingStep::Backup, None, Some(restore(30)), 2000, 3),
        done(StagingStep::Restore, None, None, 3000, 6),
        SiteEvent::StagingReady { staging_site_id: copy_id(), took_ms: 6000 },
    ]);
    events
}

#[test]
fn an_active_site_gets_one_staging_copy_whose_steps_run_in_order_with_their_timings() {
    TestFramework::<Site>::with(()).given(active()).when(create()).then_expect_events(vec![created()]);
    let mut copying = active();
    copying.push(created());
    TestFramework::<Site>::with(())
        .given(copying.clone())
        .when(step(StagingStep::Provision, Some(backup(20)), None, 1))
        .then_expect_events(vec![done(StagingStep::Provision, Some(backup(20)), None, 1000, 1)]);
    // Out of order, or again: nothing.
    TestFramework::<Site>::with(())
        .given(copying.clone())
        .when(step(StagingStep::Restore, None, None, 1))
        .then_expect_events(vec![]);
    let mut restored = copying;
    restored.extend([
        done(StagingStep::Provision, Some(backup(20)), None, 1000, 1),
        done(StagingStep::Backup, None, Some(restore(30)), 2000, 3),
    ]);
    TestFramework::<Site>::with(())
        .given(restored)
        .when(step(StagingStep::Restore, None, None, 6))
        .then_expect_events(vec![
            done(StagingStep::Restore, None, None, 3000, 6),
            SiteEvent::StagingReady { staging_site_id: copy_id(), took_ms: 6000 },
        ]);
}

#[test]
fn a_second_copy_a_copy_of_a_copy_and_deleting_production_first_are_refused() {
    TestFramework::<Site>::with(()).given(ready()).when(create()).then_expect_error(SiteError::StagingExists);
    TestFramework::<Site>::with(())
        .given(ready())
        .when(SiteCommand::Delete)
        .then_expect_error(SiteError::HasStaging);
    let mut copy = active();
    copy.push(SiteEvent::CreatedAsStaging {
        production_site_id: SiteId::from_uuid(Uuid::from_u128(99)),
        node_id: NodeId::from_uuid(Uuid::from_u128(10)),
    });
    TestFramework::<Site>::with(()).given(copy).when(create()).then_expect_error(SiteError::IsStaging);
}

#[test]
fn a_promotion_needs_a_ready_copy_and_a_failed_one_leaves_the_copy_ready() {
    let promote = SiteCommand::PromoteStaging { backup_id: backup(40), now: at(10) };
    TestFramework::<Site>::with(())
        .given(active())
        .when(promote.clone())
        .then_expect_error(SiteError::NoStaging);
    let mut copying = active();
    copying.push(created());
    TestFramework::<Site>::with(())
        .given(copying)
        .when(promote.clone())
        .then_expect_error(SiteError::StagingNotReady("copying"));
    let requested = SiteEvent::StagingPromotionRequested {
        staging_site_id: copy_id(),
        backup_id: backup(40),
        requested_at: at(10),
    };
    TestFramework::<Site>::with(())
        .given(ready())
        .when(promote.clone())
        .then_expect_events(vec![requested.clone()]);
    let mut promoting = ready();
    promoting.push(requested);
    TestFramework::<Site>::with(())
        .given(promoting.clone())
        .when(promote.clone())
        .then_expect_error(SiteError::Busy("promotion"));
    let failed = SiteEvent::StagingFailed {
        staging_site_id: copy_id(),
        step: StagingStep::PromoteBackup,
        reason: "disk_full".into(),
    };
    TestFramework::<Site>::with(())
        .given(promoting.clone())
        .when(SiteCommand::FailStaging { step: StagingStep::PromoteBackup, reason: "disk_full".into() })
        .then_expect_events(vec![failed.clone()]);
    let mut after_failure = promoting.clone();
    after_failure.push(failed);
    let again = SiteCommand::PromoteStaging { backup_id: backup(41), now: at(20) };
    TestFramework::<Site>::with(()).given(after_failure).when(again).then_expect_events(vec![
        SiteEvent::StagingPromotionRequested {
            staging_site_id: copy_id(),
            backup_id: backup(41),
            requested_at: at(20),
        },
    ]);
    promoting.push(done(StagingStep::PromoteBackup, None, Some(restore(50)), 2000, 12));
    TestFramework::<Site>::with(())
        .given(promoting)
        .when(step(StagingStep::PromoteRestore, None, None, 15))
        .then_expect_events(vec![
            done(StagingStep::PromoteRestore, None, None, 3000, 15),
            SiteEvent::StagingPromoted { staging_site_id: copy_id(), took_ms: 5000 },
        ]);
}

#[test]
fn a_deleted_copy_is_detached_and_a_new_one_can_be_made() {
    let detach = SiteCommand::DetachStaging { staging_site_id: copy_id() };
    TestFramework::<Site>::with(())
        .given(ready())
        .when(detach.clone())
        .then_expect_events(vec![SiteEvent::StagingRemoved { staging_site_id: copy_id() }]);
    let mut detached = ready();
    detached.push(SiteEvent::StagingRemoved { staging_site_id: copy_id() });
    TestFramework::<Site>::with(()).given(detached.clone()).when(detach).then_expect_events(vec![]);
    TestFramework::<Site>::with(()).given(detached).when(create()).then_expect_events(vec![created()]);
}

#[test]
fn a_copy_is_created_with_its_link_to_production_in_one_decision() {
    let of = StagingOf {
        production_site_id: SiteId::from_uuid(Uuid::from_u128(1)),
        node_id: NodeId::from_uuid(Uuid::from_u128(10)),
    };
    let command = SiteCommand::CreateAsStaging {
        site_id: copy_id(),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        domain: copy_domain(),
        kind: SiteKind::Wordpress,
        php_version: Some(PhpVersion::V8_3),
        of,
    };
    TestFramework::<Site>::with(()).given_no_previous_events().when(command).then_expect_events(vec![
        SiteEvent::Created {
            site_id: copy_id(),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
            domain: copy_domain(),
            kind: SiteKind::Wordpress,
            php_version: Some(PhpVersion::V8_3),
        },
        SiteEvent::CreatedAsStaging { production_site_id: of.production_site_id, node_id: of.node_id },
    ]);
}
