use cqrs_es::test::TestFramework;
use time::macros::datetime;
use uuid::Uuid;

use super::*;
use crate::aggregate::Consequences;

const NOW: OffsetDateTime = datetime!(2030-01-01 03:00 UTC);
const KEEP: GfsKeep = GfsKeep { hourly: 0, daily: 7, weekly: 4, monthly: 3 };

fn start() -> ScheduleCommand {
    ScheduleCommand::Start {
        site_id: SiteId::from_uuid(Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        frequency: BackupFrequency::Daily,
        keep: KEEP,
        now: NOW,
    }
}

fn started() -> ScheduleEvent {
    ScheduleEvent::Started {
        site_id: SiteId::from_uuid(Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        frequency: BackupFrequency::Daily,
        keep: KEEP,
        next_at: NOW + time::Duration::DAY,
    }
}

#[test]
fn a_start_schedules_the_first_backup_one_interval_on() {
    TestFramework::<BackupSchedule>::with(())
        .given_no_previous_events()
        .when(start())
        .then_expect_events(vec![started()]);
    assert_eq!(
        BackupSchedule::timers("s", &started()),
        vec![TimerChange::Schedule {
            key: timer("s", NOW + time::Duration::DAY),
            due_at: NOW + time::Duration::DAY,
            command: ScheduleCommand::Fire { due: NOW + time::Duration::DAY }
        }]
    );
}

#[test]
fn a_repeated_start_changes_nothing() {
    TestFramework::<BackupSchedule>::with(()).given(vec![started()]).when(start()).then_expect_events(vec![]);
}

#[test]
fn each_firing_schedules_the_next_and_a_stale_one_is_ignored() {
    let due = NOW + time::Duration::DAY;
    TestFramework::<BackupSchedule>::with(())
        .given(vec![started()])
        .when(ScheduleCommand::Fire { due })
        .then_expect_events(vec![ScheduleEvent::Due { due, next_at: due + time::Duration::DAY }]);
    TestFramework::<BackupSchedule>::with(())
        .given(vec![started(), ScheduleEvent::Due { due, next_at: due + time::Duration::DAY }])
        .when(ScheduleCommand::Fire { due })
        .then_expect_events(vec![]);
}

#[test]
fn a_stopped_schedule_fires_no_more() {
    TestFramework::<BackupSchedule>::with(())
        .given(vec![started(), ScheduleEvent::Stopped { next_at: Some(NOW + time::Duration::DAY) }])
        .when(ScheduleCommand::Fire { due: NOW + time::Duration::DAY })
        .then_expect_events(vec![]);
}
