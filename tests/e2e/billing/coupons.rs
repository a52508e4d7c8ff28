//! Coupons against the real store: they expire, and they run out — also when twenty
//! subscriptions redeem the last five uses at once.

use std::time::Duration;

use berth_domain::coupon::{Coupon, CouponCode, CouponCommand, CouponDiscount, CouponDuration, CouponError};
use berth_domain::ids::CouponId;
use berth_eventstore::billing::subscribe;
use berth_eventstore::execute::RetryPolicy;
use time::macros::{date, datetime};
use time::OffsetDateTime;
use uuid::Uuid;

use super::subscriptions::{request, NOW};
use super::{by, operator, refusal, romanian_company, run, World};

async fn coupon(world: &World, code: &str, max: Option<u32>, expires_at: Option<OffsetDateTime>) -> CouponId {
    let id = CouponId::from_uuid(Uuid::now_v7());
    let create = CouponCommand::Create {
        coupon_id: id,
        code: CouponCode::parse(code).unwrap(),
        discount: CouponDiscount::Percent(berth_domain::billing::Percent::from_basis_points(1000).unwrap()),
        duration: CouponDuration::Once,
        max_redemptions: max,
        expires_at,
        plans: vec![],
        now: NOW,
    };
    run::<Coupon>(&world.store, &id.to_string(), create, &operator()).await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coupon_is_never_redeemed_more_often_than_it_may_be_even_at_once() {
    let world = World::new().await;
    let plans = world.plans().await;
    coupon(&world, "FIRST5", Some(5), None).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let tenant = world.tenant(romanian_company(), "EUR").await;
        let (store, request) =
            (world.store.clone(), request(tenant, plans[0], "EUR", Some("FIRST5"), date!(2025 - 09 - 01)));
        let patient = RetryPolicy { max_attempts: 100, base_delay: Duration::from_millis(1) };
        tasks.push(tokio::spawn(async move { subscribe(&store, &request, &by(tenant), patient).await }));
    }
    let (mut redeemed, mut used_up) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => redeemed += 1,
            Err(error) => {
                assert_eq!(refusal::<CouponError>(&error), CouponError::UsedUp);
                used_up += 1;
            }
        }
    }
    assert_eq!((redeemed, used_up), (5, 15));
    let redemptions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'CouponRedeemed'")
            .fetch_one(&world.env.pool)
            .await
            .unwrap();
    let subscribed: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'Subscribed'")
        .fetch_one(&world.env.pool)
        .await
        .unwrap();
    assert_eq!((redemptions, subscribed), (5, 5), "a refused redemption left no subscription behind");
    world.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_or_unknown_coupon_is_refused_and_nothing_is_written() {
    let world = World::new().await;
    let plans = world.plans().await;
    coupon(&world, "SUMMER", None, Some(datetime!(2025-09-01 12:00 UTC))).await;
    let tenant = world.tenant(romanian_company(), "EUR").await;
    let before = world.env.event_count().await;
    let mut late = request(tenant, plans[0], "EUR", Some("summer"), date!(2025 - 09 - 01));
    late.now = datetime!(2025-09-01 12:00 UTC);
    let error = subscribe(&world.store, &late, &by(tenant), RetryPolicy::default()).await.unwrap_err();
    assert_eq!(refusal::<CouponError>(&error), CouponError::Expired);
    let unknown = request(tenant, plans[0], "EUR", Some("NOSUCH"), date!(2025 - 09 - 01));
    let error = subscribe(&world.store, &unknown, &by(tenant), RetryPolicy::default()).await.unwrap_err();
    assert_eq!(refusal::<CouponError>(&error), CouponError::NotFound);
    assert_eq!(world.env.event_count().await, before);
    world.env.cleanup().await;
}
