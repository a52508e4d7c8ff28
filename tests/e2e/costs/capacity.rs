//! The capacity forecast on a history the test knows: sites reserved at a known rate, read on
//! a test clock, give the growth rates, the exhaustion days and the recommendation computed by
//! hand.

use berth_domain::php::SiteKind;
use time::{Duration, OffsetDateTime};

use super::fleet::{placed_site, quiet_at, ready_node};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_reserved_at_a_known_rate_run_the_region_out_on_the_day_computed_by_hand() {
    // Arrange: the clock two days after now, so every reservation made now is in the last
    // week; a 4 vCPU / 8 GiB / 80 GiB node in fsn1 and a 2 / 4 / 40 one in nbg1.
    let now = (OffsetDateTime::now_utc() + Duration::days(2)).replace_nanosecond(0).unwrap();
    let billing = quiet_at(&[], now).await;
    let a = ready_node(&billing, "cap-a", "fsn1", (4, 8192, 80), 4_000).await;
    ready_node(&billing, "cap-b", "nbg1", (2, 4096, 40), 2_000).await;
    let (tenant, _) = billing.register("Growth").await;
    let store = billing.env.store();
    // Three WordPress sites (500 millicores, 512 MiB, 10 GiB each) on A.
    for _ in 0..3 {
        placed_site(&store, tenant.parse().unwrap(), SiteKind::Wordpress, a).await;
    }

    // Act: allocations and their history are two projections; wait for both to hold all three.
    let report = billing
        .until("/v1/ops/capacity", &billing.operator, "three reservations in fsn1", |r| {
            let cpu = &r["regions"][0]["resources"][0];
            cpu["allocated"] == 1_500
                && cpu["growth_per_day_7d"].as_f64().is_some_and(|w| (w * 7.0 - 1_500.0).abs() < 1e-6)
        })
        .await;

    // Assert: 1500 millicores in 7 days is 214.29 a day; 2500 free last 11.67 → 11 days.
    // Memory: 1536 MiB → 219.43 a day, 6656 free → 30 days; disk: 30 GiB → 4.29, 50 → 11.
    let fsn1 = &report["regions"][0];
    assert_eq!(fsn1["region"], "fsn1", "{report}");
    let today = now.date();
    let day = |d: i64| (today + Duration::days(d)).to_string();
    let expected = [
        ("cpu", 4_000, 1_500, 2_500, 1_500.0, 11),
        ("memory", 8_192, 1_536, 6_656, 1_536.0, 30),
        ("disk", 80, 30, 50, 30.0, 11),
    ];
    for (i, (name, capacity, allocated, free, reserved, days)) in expected.into_iter().enumerate() {
        let r = &fsn1["resources"][i];
        assert_eq!(r["resource"], name);
        assert_eq!(
            (r["capacity"].as_i64(), r["allocated"].as_i64(), r["free"].as_i64()),
            (Some(capacity), Some(allocated), Some(free)),
            "{r}"
        );
        let week = r["growth_per_day_7d"].as_f64().unwrap();
        let month = r["growth_per_day_30d"].as_f64().unwrap();
        assert!((week - reserved / 7.0).abs() < 1e-9 && (month - reserved / 30.0).abs() < 1e-9, "{r}");
        assert_eq!(r["exhausted_on"], day(days), "{name}: {r}");
    }
    assert_eq!(fsn1["recommendation"], format!("add one node of 4 vCPU / 8 GB in fsn1 before {}", day(11)));
    // nbg1 saw no growth: it never runs out, and nothing is recommended.
    let nbg1 = &report["regions"][1];
    assert_eq!(nbg1["region"], "nbg1");
    assert!(nbg1["resources"].as_array().unwrap().iter().all(|r| r["exhausted_on"].is_null()), "{nbg1}");
    assert!(nbg1["recommendation"].is_null());
    billing.stop().await;
}
