use cqrs_es::test::TestFramework;
use time::macros::date;
use uuid::Uuid;

use super::*;
use crate::billing::Quantity;

fn subscription() -> SubscriptionId {
    SubscriptionId::from_uuid(Uuid::from_u128(4))
}

fn september() -> ServicePeriod {
    ServicePeriod::new(date!(2025 - 09 - 01), date!(2025 - 09 - 30)).unwrap()
}

fn record(metric: Metric, thousandths: i64, key: &str) -> UsageEvent {
    UsageEvent::Recorded {
        tenant_id: TenantId::from_uuid(Uuid::from_u128(3)),
        subscription_id: subscription(),
        metric,
        quantity: Quantity::from_thousandths(thousandths).unwrap(),
        period: september(),
        key: UsageKey::parse(key).unwrap(),
    }
}

fn replay(events: Vec<UsageEvent>) -> Usage {
    let mut usage = Usage::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut usage, event);
    }
    usage
}

#[test]
fn storage_counts_its_peak_and_transfer_its_sum() {
    let usage = replay(vec![
        record(Metric::StorageGb, 8_000, "s1"),
        record(Metric::StorageGb, 12_500, "s2"),
        record(Metric::StorageGb, 9_000, "s3"),
        record(Metric::TransferGb, 1_250, "t1"),
        record(Metric::TransferGb, 2_000, "t2"),
    ]);
    assert_eq!(usage.total(september(), Metric::StorageGb), 12_500);
    assert_eq!(usage.total(september(), Metric::TransferGb), 3_250);
    let october = ServicePeriod::new(date!(2025 - 10 - 01), date!(2025 - 10 - 31)).unwrap();
    assert_eq!(usage.total(october, Metric::StorageGb), 0);
}

#[test]
fn a_reading_is_recorded_and_its_key_gives_a_stable_command_id() {
    let UsageEvent::Recorded { tenant_id, subscription_id, metric, quantity, period, key } =
        record(Metric::StorageGb, 1_000, "node-1:2025-09-01T10");
    TestFramework::<Usage>::with(())
        .given_no_previous_events()
        .when(UsageCommand::Record { tenant_id, subscription_id, metric, quantity, period, key: key.clone() })
        .then_expect_events(vec![record(Metric::StorageGb, 1_000, "node-1:2025-09-01T10")]);
    assert_eq!(usage_command_id(subscription(), &key), usage_command_id(subscription(), &key));
    let other = UsageKey::parse("node-1:2025-09-01T11").unwrap();
    assert_ne!(usage_command_id(subscription(), &key), usage_command_id(subscription(), &other));
    assert!(UsageKey::parse("has space").is_err());
}

#[test]
fn a_period_is_one_span_of_days_and_a_stream_one_subscription() {
    let UsageEvent::Recorded { tenant_id, metric, quantity, key, .. } = record(Metric::StorageGb, 1_000, "k");
    let short = ServicePeriod::new(date!(2025 - 09 - 01), date!(2025 - 09 - 15)).unwrap();
    TestFramework::<Usage>::with(())
        .given(vec![record(Metric::TransferGb, 1_000, "t")])
        .when(UsageCommand::Record {
            tenant_id,
            subscription_id: subscription(),
            metric,
            quantity,
            period: short,
            key: key.clone(),
        })
        .then_expect_error(UsageError::PeriodMismatch { known: september(), given: short });
    TestFramework::<Usage>::with(())
        .given(vec![record(Metric::TransferGb, 1_000, "t")])
        .when(UsageCommand::Record {
            tenant_id,
            subscription_id: SubscriptionId::from_uuid(Uuid::from_u128(5)),
            metric,
            quantity,
            period: september(),
            key,
        })
        .then_expect_error(UsageError::OtherSubscription);
}
