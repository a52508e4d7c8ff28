//! The backup failure notice: a backup whose last attempt fails mails its tenant's owners
//! once, with the reason in words; an attempt that is retried mails nobody.

use std::time::Duration;

use berth::app::{Application, Roles};
use berth::settings::Settings;
use berth_domain::backup::{Backup, BackupCommand, BackupKind, BackupTrigger, FailureReason};
use berth_domain::ids::BackupId;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::certificates::tenant;
use super::{messages_to, raw_message, unique_address, wait_for_messages};
use crate::common::{create_site, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_failed_attempt_of_a_backup_mails_the_owners_once() {
    // Arrange: no node and no storage; the backup's attempts are recorded by hand (the backup
    // sagas are off).
    let env = TestEnv::new().await;
    let mut vars = env.env_vars();
    for (k, v) in [
        ("BERTH_SAGAS__BACKUPS__ENABLED", "false"),
        ("BERTH_SAGAS__BACKUP_SCHEDULE__ENABLED", "false"),
        ("BERTH_SAGAS__PROVISIONING__ENABLED", "false"),
        ("BERTH_SAGAS__MAIL__POLL_MS", "100"),
    ] {
        vars.push((k.to_owned(), v.to_owned()));
    }
    let settings = Settings::load_from(None, vars).expect("settings");
    let app = Application::build(settings, Roles::ALL).await.expect("application");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let store = env.store();
    let owner = unique_address("backups");
    let tenant_id = tenant(&store, &owner).await;
    let site = create_site(&store, tenant_id).await;
    let backup = BackupId::from_uuid(Uuid::now_v7());
    let now = OffsetDateTime::now_utc();
    let record = |command: BackupCommand| {
        let store = store.clone();
        async move {
            let meta = CommandMetadata::new(Some(tenant_id.as_uuid()), "saga:backups");
            store
                .execute::<Backup>(&backup.to_string(), command, &meta, RetryPolicy::default())
                .await
                .unwrap();
        }
    };

    // Act: the first attempt fails and is retried; the second fails for good.
    record(BackupCommand::Request {
        site_id: site,
        tenant_id,
        kind: BackupKind::Full,
        trigger: BackupTrigger::Scheduled,
        note: None,
        now,
        keep_until: None,
        restore_id: None,
    })
    .await;
    let failure = |attempt, reason, retry_at| BackupCommand::RecordFailure {
        attempt,
        reason,
        detail: "from the test".to_owned(),
        now,
        retry_at,
    };
    record(failure(1, FailureReason::UploadFailed, Some(now + time::Duration::minutes(5)))).await;
    record(BackupCommand::Retry { attempt: 1 }).await;
    record(failure(2, FailureReason::DiskFull, None)).await;

    // Assert: one mail, after the last attempt, saying why.
    let mails = wait_for_messages(&owner, 1, Duration::from_secs(60)).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    let subject = mails[0]["subject"].as_str().unwrap();
    assert!(subject.starts_with("A backup of s") && subject.ends_with("failed"), "{subject}");
    let body = raw_message(mails[0]["id"].as_str().unwrap()).await.replace("=\r\n", "");
    assert!(body.contains("after 2 attempts") && body.contains("ran out of disk space"), "{body}");
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM mail_outbox WHERE key LIKE 'backup-failed:%'")
            .fetch_all(&env.pool)
            .await
            .unwrap();
    assert_eq!(
        keys,
        [format!("backup-failed:{backup}")],
        "one notice for the backup, none for the retried attempt"
    );
    assert_eq!(messages_to(&owner).await.len(), 1);
    shutdown.cancel();
    running.await.unwrap().unwrap();
    env.cleanup().await;
}
