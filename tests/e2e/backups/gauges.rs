//! The missing-backup alert's gauges come from the log: a sagas process that verified nothing
//! itself still exports, for every scheduled site, its latest verified backup (or, for one never
//! backed up, its schedule's start) and its interval.

use std::time::Duration;

use berth::app::Roles;
use berth_domain::backup::{Backup, BackupCommand, BackupKind, BackupTrigger, Manifest, Sha256Hex};
use berth_domain::backup_schedule::{BackupSchedule, ScheduleCommand};
use berth_domain::ids::{BackupId, TenantId};
use berth_domain::plan::{BackupFrequency, GfsKeep};
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::Api;
use crate::common::{create_site, eventually};

/// The value of `name{site="<site>"}` in a Prometheus text exposition.
fn gauge(text: &str, name: &str, site: &str) -> Option<f64> {
    let prefix = format!("{name}{{site=\"{site}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&prefix)).and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scheduled_site_has_its_gauges_whoever_verified_its_backups() {
    // Arrange: the backup sagas are off (no node, no storage); the schedules and the backup are
    // recorded by hand, so this process verified nothing itself.
    let api = Api::start_roles(
        &[
            ("BERTH_SAGAS__BACKUP_GAUGES__INTERVAL_SECS", "1"),
            ("BERTH_SAGAS__PROVISIONING__ENABLED", "false"),
            ("BERTH_SAGAS__BACKUPS__ENABLED", "false"),
            ("BERTH_SAGAS__BACKUP_SCHEDULE__ENABLED", "false"),
        ],
        Roles::ALL,
    )
    .await;
    let store = api.env.store();
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let meta = || CommandMetadata::new(Some(tenant.as_uuid()), "saga:test");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let (backed_up, never) = (create_site(&store, tenant).await, create_site(&store, tenant).await);
    for site in [backed_up, never] {
        let start = ScheduleCommand::Start {
            site_id: site,
            tenant_id: tenant,
            frequency: BackupFrequency::Daily,
            keep: GfsKeep::default(),
            now,
        };
        store
            .execute::<BackupSchedule>(&site.to_string(), start, &meta(), RetryPolicy::default())
            .await
            .unwrap();
    }
    let backup = BackupId::from_uuid(Uuid::now_v7()).to_string();
    let verified_at = now + time::Duration::minutes(3);
    let manifest = Manifest {
        size: 4096,
        sha256: Sha256Hex::parse(&"ab".repeat(32)).unwrap(),
        object_key: format!("berth/{tenant}/{backup}"),
        kind: BackupKind::Full,
        parts: 1,
        key_id: Uuid::now_v7(),
    };
    for command in [
        BackupCommand::Request {
            site_id: backed_up,
            tenant_id: tenant,
            kind: BackupKind::Full,
            trigger: BackupTrigger::Scheduled,
            note: None,
            now,
            keep_until: None,
            restore_id: None,
        },
        BackupCommand::RecordTaken { attempt: 1, manifest, now: now + time::Duration::minutes(2) },
        BackupCommand::RecordVerified { attempt: 1, now: verified_at },
    ] {
        store.execute::<Backup>(&backup, command, &meta(), RetryPolicy::default()).await.unwrap();
    }
    let next_at =
        store.load::<BackupSchedule>(&never.to_string()).await.unwrap().aggregate.next_at().unwrap();

    // Act and assert: the exporter finds both from the views and the schedules.
    let expected = [
        (backed_up.to_string(), verified_at.unix_timestamp() as f64),
        (never.to_string(), (next_at - time::Duration::days(1)).unix_timestamp() as f64),
    ];
    let text = std::cell::RefCell::new(String::new());
    let url = format!("{}/metrics", api.command);
    let exported = eventually(Duration::from_secs(30), || async {
        let got = api.http.get(&url).send().await.unwrap().text().await.unwrap();
        let all = expected.iter().all(|(site, since)| {
            gauge(&got, "berth_site_last_verified_backup_timestamp_seconds", site) == Some(*since)
                && gauge(&got, "berth_site_backup_interval_seconds", site) == Some(86_400.0)
        });
        *text.borrow_mut() = got;
        all
    })
    .await;
    let text = text.into_inner();
    let shown: Vec<&str> = text.lines().filter(|l| l.starts_with("berth_site_")).collect();
    assert!(exported, "{expected:?} not in {shown:#?}");
    api.stop().await;
}
