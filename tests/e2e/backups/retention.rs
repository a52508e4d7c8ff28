//! Scheduled backups and retention on a test clock: 40 simulated days of daily backups of a
//! real site leave exactly the grandfather-father-son set the plan keeps, in the view and in
//! the bucket.

use std::collections::BTreeSet;
use std::time::Duration;

use berth::app::Roles;
use berth_domain::backup::retention::gfs;
use berth_domain::ids::BackupId;
use berth_domain::plan::GfsKeep;
use berth_eventstore::clock::ManualClock;
use futures::StreamExt;
use object_store::ObjectStore;
use reqwest::Method;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::harness::{actions, backup_settings, storage, test_prefix};
use crate::api::Api;
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, wait_for, wait_for_status, LocalNode, NODE_SETTINGS,
};

const KEEP: GfsKeep = GfsKeep { hourly: 0, daily: 7, weekly: 4, monthly: 2 };

fn time_of(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap(), &Rfc3339).unwrap()
}

async fn scheduled(api: &Api, token: &str, site: &str) -> Vec<Value> {
    let (status, page) = api.read(&format!("/v1/sites/{site}/backups?limit=200"), token).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().iter().filter(|b| b["trigger"] == "scheduled").cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_days_of_daily_backups_leave_exactly_the_gfs_set() {
    let _serial = one_at_a_time().await;
    let node = LocalNode::up("tbkg").await;
    let config = storage(&test_prefix());
    let backups = backup_settings(&config);
    let mut settings: Vec<(&str, &str)> = NODE_SETTINGS.to_vec();
    settings.extend(backups.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    settings.push(("BERTH_BILLING__TRIAL_PLAN", "gfs"));
    let clock = ManualClock::at(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap());
    let api = Api::start_with_clock(&settings, Roles::ALL, clock.clone()).await;
    let operator = operator_token(&api).await;
    let plan = json!({
        "code": "gfs", "name": "GFS",
        "prices": [{"period": "month", "price": {"amount_minor": 1000, "currency": "EUR"}}],
        "limits": {"sites": 5, "storage_gb": 10, "support": "standard", "backups": {
            "frequency": "daily", "retention_days": 90,
            "keep": {"hourly": KEEP.hourly, "daily": KEEP.daily, "weekly": KEEP.weekly, "monthly": KEEP.monthly}}},
        "trial_days": 90, "overage": []
    });
    let response = api.send(Method::POST, "/v1/plans", Some(&operator), Some(plan)).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    add_node(&api, &operator, &node, (4, 8192, 80)).await;
    let owner = api.register("Retention").await;
    let site = create_site(&api, &owner.token, "www.retention.test", "static", None).await;
    let view = wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await;
    assert_eq!(view["status"], "active", "{view}");

    // The schedule starts when the site goes live, on the plan's terms.
    let started = wait_for(Duration::from_secs(60), || async {
        let trail = actions(&api, &owner.token, &site).await;
        trail.into_iter().find(|e| e["action"] == "BackupScheduleStarted")
    })
    .await;
    assert_eq!(started["details"]["keep"]["monthly"], 2, "{started}");
    let mut next = time_of(&started["details"]["next_at"]);

    for day in 1..=40usize {
        clock.set(next);
        wait_for(Duration::from_secs(120), || async {
            let all = scheduled(&api, &owner.token, &site).await;
            let settled = all.iter().filter(|b| b["status"] == "verified" || b["status"] == "pruned").count();
            assert!(all.iter().all(|b| b["status"] != "abandoned"), "a backup failed: {all:?}");
            if std::env::var_os("BACKUP_TEST_TRACE").is_some() {
                eprintln!("day {day}: {all:?} {:?}", actions(&api, &owner.token, &site).await.last());
            }
            (settled == day).then_some(())
        })
        .await;
        next += time::Duration::DAY;
    }

    // Retention runs after each verified backup: wait for it to settle, then compare.
    let (kept, expected) = wait_for(Duration::from_secs(60), || async {
        let all = scheduled(&api, &owner.token, &site).await;
        let taken: Vec<(BackupId, OffsetDateTime)> = all
            .iter()
            .map(|b| (b["backup_id"].as_str().unwrap().parse().unwrap(), time_of(&b["requested_at"])))
            .collect();
        let expected = gfs(&taken, KEEP);
        let kept: BTreeSet<BackupId> = all
            .iter()
            .filter(|b| b["status"] == "verified")
            .map(|b| b["backup_id"].as_str().unwrap().parse().unwrap())
            .collect();
        (kept == expected).then_some((kept, expected))
    })
    .await;
    assert_eq!(kept.len(), expected.len());
    assert!(
        kept.len() >= 10 && kept.len() <= 13,
        "7 dailies, up to 4 weeklies and 2 monthlies: {}",
        kept.len()
    );

    // The bucket holds exactly the kept backups' objects.
    let store = berth_sagas::backup::store::connect(&config).unwrap();
    let tenant: berth_domain::ids::TenantId = owner.tenant_id.parse().unwrap();
    let prefix = berth_sagas::backup::store::tenant_prefix(&config.prefix, tenant);
    let listed: Vec<_> = store.list(Some(&prefix)).collect::<Vec<_>>().await;
    let objects: BTreeSet<String> = listed.iter().map(|o| o.as_ref().unwrap().location.to_string()).collect();
    let wanted: BTreeSet<String> = kept
        .iter()
        .map(|id| berth_sagas::backup::store::object_key(&config.prefix, tenant, *id).to_string())
        .collect();
    assert_eq!(objects, wanted, "the bucket holds exactly what retention keeps");
    for object in listed {
        store.delete(&object.unwrap().location).await.unwrap();
    }
    api.stop().await;
}
