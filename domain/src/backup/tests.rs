use cqrs_es::test::TestFramework;
use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::retention::{gfs, to_prune, Stored};
use super::*;
use crate::aggregate::Consequences;
use crate::ids::BackupId;
use crate::plan::GfsKeep;

const NOW: OffsetDateTime = datetime!(2030-03-01 02:00 UTC);

fn site() -> SiteId {
    SiteId::from_uuid(Uuid::from_u128(1))
}

fn requested() -> BackupEvent {
    BackupEvent::Requested {
        site_id: site(),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        kind: BackupKind::Full,
        trigger: BackupTrigger::OnDemand,
        note: Some("before the theme update".to_owned()),
        requested_at: NOW,
        keep_until: None,
        restore_id: None,
    }
}

fn manifest(kind: BackupKind) -> Manifest {
    Manifest {
        size: 1234,
        sha256: Sha256Hex::parse(&"ab".repeat(32)).unwrap(),
        object_key: "tenants/2/sites/1/3.tar.zst.enc".to_owned(),
        kind,
        parts: 1,
        key_id: Uuid::from_u128(9),
    }
}

fn taken(attempt: u32) -> BackupEvent {
    BackupEvent::Taken { attempt, manifest: manifest(BackupKind::Full), taken_at: NOW }
}

fn failed(attempt: u32, retry_at: Option<OffsetDateTime>) -> BackupEvent {
    BackupEvent::Failed {
        site_id: site(),
        attempt,
        reason: FailureReason::UploadFailed,
        detail: "connection refused".to_owned(),
        failed_at: NOW,
        retry_at,
    }
}

fn failure(attempt: u32, retry_at: Option<OffsetDateTime>) -> BackupCommand {
    BackupCommand::RecordFailure {
        attempt,
        reason: FailureReason::UploadFailed,
        detail: "connection refused".to_owned(),
        now: NOW,
        retry_at,
    }
}

#[test]
fn a_request_starts_attempt_one_and_trims_the_note() {
    TestFramework::<Backup>::with(())
        .given_no_previous_events()
        .when(BackupCommand::Request {
            site_id: site(),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
            kind: BackupKind::Full,
            trigger: BackupTrigger::OnDemand,
            note: Some("  before the theme update ".to_owned()),
            now: NOW,
            keep_until: None,
            restore_id: None,
        })
        .then_expect_events(vec![requested()]);
}

#[test]
fn a_note_over_the_limit_is_refused() {
    TestFramework::<Backup>::with(())
        .given_no_previous_events()
        .when(BackupCommand::Request {
            site_id: site(),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
            kind: BackupKind::Files,
            trigger: BackupTrigger::OnDemand,
            note: Some("x".repeat(MAX_NOTE + 1)),
            now: NOW,
            keep_until: None,
            restore_id: None,
        })
        .then_expect_error(BackupError::NoteTooLong(MAX_NOTE));
}

#[test]
fn a_taken_backup_is_not_verified_until_checked() {
    TestFramework::<Backup>::with(())
        .given(vec![requested()])
        .when(BackupCommand::RecordTaken { attempt: 1, manifest: manifest(BackupKind::Full), now: NOW })
        .then_expect_events(vec![taken(1)]);
    TestFramework::<Backup>::with(())
        .given(vec![requested(), taken(1)])
        .when(BackupCommand::RecordVerified { attempt: 1, now: NOW })
        .then_expect_events(vec![BackupEvent::Verified { attempt: 1, verified_at: NOW }]);
}

#[test]
fn verifying_before_anything_was_stored_is_refused() {
    TestFramework::<Backup>::with(())
        .given(vec![requested()])
        .when(BackupCommand::RecordVerified { attempt: 1, now: NOW })
        .then_expect_error(BackupError::WrongStatus("taking"));
}

#[test]
fn a_manifest_of_another_kind_is_refused() {
    TestFramework::<Backup>::with(())
        .given(vec![requested()])
        .when(BackupCommand::RecordTaken { attempt: 1, manifest: manifest(BackupKind::Files), now: NOW })
        .then_expect_error(BackupError::KindMismatch);
}

#[test]
fn a_failure_with_a_retry_time_schedules_the_retry() {
    let at = NOW + Duration::minutes(5);
    TestFramework::<Backup>::with(())
        .given(vec![requested()])
        .when(failure(1, Some(at)))
        .then_expect_events(vec![failed(1, Some(at))]);
    let timers = Backup::timers("b", &failed(1, Some(at)));
    assert_eq!(
        timers,
        vec![TimerChange::Schedule {
            key: retry_timer("b"),
            due_at: at,
            command: BackupCommand::Retry { attempt: 1 }
        }]
    );
    assert!(Backup::timers("b", &failed(3, None)).is_empty(), "the last failure schedules nothing");
}

#[test]
fn a_retry_starts_the_next_attempt_once() {
    let at = NOW + Duration::minutes(5);
    TestFramework::<Backup>::with(())
        .given(vec![requested(), failed(1, Some(at))])
        .when(BackupCommand::Retry { attempt: 1 })
        .then_expect_events(vec![BackupEvent::Retried { attempt: 2 }]);
    TestFramework::<Backup>::with(())
        .given(vec![requested(), failed(1, Some(at)), BackupEvent::Retried { attempt: 2 }])
        .when(BackupCommand::Retry { attempt: 1 })
        .then_expect_events(vec![]);
}

#[test]
fn an_outcome_of_an_earlier_attempt_is_stale() {
    let at = NOW + Duration::minutes(5);
    TestFramework::<Backup>::with(())
        .given(vec![requested(), failed(1, Some(at)), BackupEvent::Retried { attempt: 2 }])
        .when(BackupCommand::RecordTaken { attempt: 1, manifest: manifest(BackupKind::Full), now: NOW })
        .then_expect_error(BackupError::StaleAttempt(1));
}

#[test]
fn only_a_settled_backup_is_pruned() {
    TestFramework::<Backup>::with(())
        .given(vec![requested(), taken(1)])
        .when(BackupCommand::RecordPruned { now: NOW })
        .then_expect_error(BackupError::WrongStatus("verifying"));
    TestFramework::<Backup>::with(())
        .given(vec![requested(), taken(1), BackupEvent::Verified { attempt: 1, verified_at: NOW }])
        .when(BackupCommand::RecordPruned { now: NOW })
        .then_expect_events(vec![BackupEvent::Pruned {
            object_key: Some("tenants/2/sites/1/3.tar.zst.enc".to_owned()),
            pruned_at: NOW,
        }]);
}

#[test]
fn kinds_cover_their_parts() {
    assert!(BackupKind::Full.covers(BackupKind::Database));
    assert!(BackupKind::Files.covers(BackupKind::Files));
    assert!(!BackupKind::Files.covers(BackupKind::Full));
    assert!(!BackupKind::Database.covers(BackupKind::Files));
}

fn id(n: u128) -> BackupId {
    BackupId::from_uuid(Uuid::from_u128(n))
}

#[test]
fn forty_daily_backups_keep_exactly_the_gfs_set() {
    let start = datetime!(2030-01-01 03:00 UTC);
    let backups: Vec<(BackupId, OffsetDateTime)> =
        (0..40).map(|d| (id(d + 1), start + Duration::days(d as i64))).collect();
    let keep = GfsKeep { hourly: 0, daily: 7, weekly: 4, monthly: 3 };
    let kept = gfs(&backups, keep);
    // Day n is id n + 1, 1 Jan (a Tuesday) + n. Dailies: days 33..=39 (3 to 9 Feb). Weeklies:
    // the newest of ISO weeks 6, 5, 4 and 3 (days 39, 33, 26, 19). Monthlies: the newest of
    // February and January (days 39 and 30); there is no third month.
    let mut expected: Vec<u128> = (34..=40).collect();
    expected.extend([27, 20, 31]);
    expected.sort_unstable();
    let kept: Vec<u128> = kept.iter().map(|b| b.as_uuid().as_u128()).collect();
    assert_eq!(kept, expected);
}

fn arbitrary_backups() -> impl Strategy<Value = Vec<(BackupId, OffsetDateTime)>> {
    // Times may repeat (two backups in one minute); ids do not.
    proptest::collection::vec(0i64..(90 * 24 * 60), 0..60).prop_map(|minutes| {
        minutes
            .into_iter()
            .enumerate()
            .map(|(n, m)| (id(n as u128 + 1), datetime!(2030-01-01 00:00 UTC) + Duration::minutes(m)))
            .collect()
    })
}

fn arbitrary_keep() -> impl Strategy<Value = GfsKeep> {
    (0u32..30, 0u32..15, 0u32..10, 0u32..6).prop_map(|(hourly, daily, weekly, monthly)| GfsKeep {
        hourly,
        daily,
        weekly,
        monthly,
    })
}

proptest! {
    #[test]
    fn the_newest_backup_is_always_kept(backups in arbitrary_backups(), keep in arbitrary_keep()) {
        let kept = gfs(&backups, keep);
        if let Some(newest) = backups.iter().max_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0))) {
            prop_assert!(kept.contains(&newest.0));
        }
    }

    #[test]
    fn never_more_than_the_plan_allows(backups in arbitrary_backups(), keep in arbitrary_keep()) {
        prop_assert!(gfs(&backups, keep).len() <= keep.most());
    }

    #[test]
    fn the_order_of_the_input_does_not_matter(
        backups in arbitrary_backups(),
        keep in arbitrary_keep(),
        seed in any::<u64>(),
    ) {
        let mut shuffled = backups.clone();
        // A deterministic shuffle: rotate and reverse by the seed.
        if !shuffled.is_empty() {
            let by = (seed as usize) % shuffled.len();
            shuffled.rotate_left(by);
        }
        if seed % 2 == 0 {
            shuffled.reverse();
        }
        prop_assert_eq!(gfs(&backups, keep), gfs(&shuffled, keep));
    }

    #[test]
    fn pruning_never_touches_the_newest_verified_or_a_held_backup(
        backups in arbitrary_backups(),
        keep in arbitrary_keep(),
        flags in proptest::collection::vec((any::<bool>(), any::<bool>()), 60),
    ) {
        let now = datetime!(2030-04-01 00:00 UTC);
        let stored: Vec<Stored> = backups
            .iter()
            .zip(flags.iter())
            .map(|((id, at), (verified, held))| Stored {
                id: *id,
                taken_at: *at,
                verified: *verified,
                keep_until: held.then_some(now + Duration::days(1)),
            })
            .collect();
        let pruned = to_prune(&stored, keep, now);
        let newest_verified = stored.iter().filter(|b| b.verified).max_by(|a, b| a.taken_at.cmp(&b.taken_at).then(a.id.cmp(&b.id)));
        if let Some(newest) = newest_verified {
            prop_assert!(!pruned.contains(&newest.id));
        }
        for b in stored.iter().filter(|b| b.keep_until.is_some()) {
            prop_assert!(!pruned.contains(&b.id));
        }
    }
}

#[test]
fn a_plan_recorded_before_gfs_counts_keeps_derived_ones() {
    let released: crate::plan::BackupPolicy =
        serde_json::from_value(serde_json::json!({"frequency": "daily", "retention_days": 30})).unwrap();
    assert_eq!(released.keep, None);
    assert_eq!(released.keep(), GfsKeep { hourly: 0, daily: 7, weekly: 4, monthly: 1 });
    let unchanged = serde_json::to_value(released).unwrap();
    assert_eq!(unchanged, serde_json::json!({"frequency": "daily", "retention_days": 30}));
}

#[test]
fn a_held_backup_is_released_by_its_timer_once_verified() {
    let until = NOW + Duration::days(30);
    let held = BackupEvent::Requested {
        site_id: site(),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        kind: BackupKind::Full,
        trigger: BackupTrigger::BeforeDelete,
        note: None,
        requested_at: NOW,
        keep_until: Some(until),
        restore_id: None,
    };
    assert_eq!(
        Backup::timers("b", &held),
        vec![TimerChange::Schedule {
            key: hold_timer("b"),
            due_at: until,
            command: BackupCommand::EndHold { at: until }
        }]
    );
    TestFramework::<Backup>::with(())
        .given(vec![held.clone(), taken(1), BackupEvent::Verified { attempt: 1, verified_at: NOW }])
        .when(BackupCommand::EndHold { at: until })
        .then_expect_events(vec![BackupEvent::HoldEnded { at: until }]);
    TestFramework::<Backup>::with(())
        .given(vec![held, failed(1, None)])
        .when(BackupCommand::EndHold { at: until })
        .then_expect_events(vec![]);
}
