use cqrs_es::test::TestFramework;
use time::macros::datetime;
use time::OffsetDateTime;
use uuid::Uuid;

use super::*;

const NOW: OffsetDateTime = datetime!(2030-03-01 02:00 UTC);

fn request(backup_kind: BackupKind, what: BackupKind) -> RestoreCommand {
    RestoreCommand::Request {
        backup_id: BackupId::from_uuid(Uuid::from_u128(1)),
        backup_kind,
        source_site_id: SiteId::from_uuid(Uuid::from_u128(2)),
        target_site_id: SiteId::from_uuid(Uuid::from_u128(2)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(3)),
        what,
        safety_backup_id: BackupId::from_uuid(Uuid::from_u128(4)),
        now: NOW,
    }
}

fn requested(what: BackupKind) -> RestoreEvent {
    RestoreEvent::Requested {
        backup_id: BackupId::from_uuid(Uuid::from_u128(1)),
        source_site_id: SiteId::from_uuid(Uuid::from_u128(2)),
        target_site_id: SiteId::from_uuid(Uuid::from_u128(2)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(3)),
        what,
        safety_backup_id: BackupId::from_uuid(Uuid::from_u128(4)),
        requested_at: NOW,
    }
}

fn completed(step: Step) -> RestoreEvent {
    RestoreEvent::StepCompleted { step, completed_at: NOW, took_ms: 5 }
}

#[test]
fn restoring_what_the_backup_does_not_hold_is_refused() {
    TestFramework::<Restore>::with(())
        .given_no_previous_events()
        .when(request(BackupKind::Files, BackupKind::Full))
        .then_expect_error(RestoreError::NotInBackup { backup: "files", what: "full" });
}

#[test]
fn a_files_restore_skips_the_database_step() {
    assert_eq!(
        Step::plan(BackupKind::Files),
        vec![
            Step::VerifyChecksum,
            Step::SafetyBackup,
            Step::MaintenanceOn,
            Step::RestoreFiles,
            Step::Swap,
            Step::CheckSite,
            Step::MaintenanceOff
        ]
    );
}

#[test]
fn nothing_is_touched_before_the_checksum_step() {
    TestFramework::<Restore>::with(())
        .given(vec![requested(BackupKind::Full)])
        .when(RestoreCommand::RecordStep { step: Step::MaintenanceOn, now: NOW, took_ms: 5 })
        .then_expect_error(RestoreError::OutOfOrder { expected: "verify_checksum", got: "maintenance_on" });
}

#[test]
fn the_last_step_completes_the_restore() {
    let mut given = vec![requested(BackupKind::Database)];
    let plan = Step::plan(BackupKind::Database);
    given.extend(plan[..plan.len() - 1].iter().map(|s| completed(*s)));
    TestFramework::<Restore>::with(())
        .given(given)
        .when(RestoreCommand::RecordStep { step: Step::MaintenanceOff, now: NOW, took_ms: 5 })
        .then_expect_events(vec![
            completed(Step::MaintenanceOff),
            RestoreEvent::Completed { completed_at: NOW },
        ]);
}

#[test]
fn a_repeated_step_records_nothing() {
    TestFramework::<Restore>::with(())
        .given(vec![requested(BackupKind::Full), completed(Step::VerifyChecksum)])
        .when(RestoreCommand::RecordStep { step: Step::VerifyChecksum, now: NOW, took_ms: 5 })
        .then_expect_events(vec![]);
}

#[test]
fn a_failure_ends_the_restore() {
    TestFramework::<Restore>::with(())
        .given(vec![requested(BackupKind::Full), completed(Step::VerifyChecksum)])
        .when(RestoreCommand::RecordFailure {
            step: Step::SafetyBackup,
            reason: RestoreFailure::SafetyBackupFailed,
            detail: "disk full".to_owned(),
            now: NOW,
        })
        .then_expect_events(vec![RestoreEvent::Failed {
            target_site_id: SiteId::from_uuid(Uuid::from_u128(2)),
            step: Step::SafetyBackup,
            reason: RestoreFailure::SafetyBackupFailed,
            detail: "disk full".to_owned(),
            failed_at: NOW,
        }]);
    TestFramework::<Restore>::with(())
        .given(vec![
            requested(BackupKind::Full),
            RestoreEvent::Failed {
                target_site_id: SiteId::from_uuid(Uuid::from_u128(2)),
                step: Step::SafetyBackup,
                reason: RestoreFailure::SafetyBackupFailed,
                detail: "disk full".to_owned(),
                failed_at: NOW,
            },
        ])
        .when(RestoreCommand::RecordStep { step: Step::SafetyBackup, now: NOW, took_ms: 5 })
        .then_expect_error(RestoreError::Over);
}
