use cqrs_es::test::TestFramework;

use super::share::{bandwidth_cost, site_share, storage_cost};
use super::*;
use crate::allocation::Resources;
use crate::money::Currency;

fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

fn terms(storage: i64) -> CostTerms {
    CostTerms::new(eur(), storage, 1, 5_000, vec![(CostCategory::Compute, 10_000, 80)]).unwrap()
}

#[test]
fn bad_terms_are_refused_naming_the_field() {
    let negative = CostTerms::new(eur(), -1, 0, 0, vec![]).unwrap_err();
    assert_eq!(negative.field(), "storage_gb_month_minor");
    let unknown = CostTerms::new(Currency::parse("JPY").unwrap(), 0, 0, 0, vec![]).unwrap_err();
    assert_eq!(unknown.field(), "currency");
    for threshold in [-1, 101] {
        let error = CostTerms::new(
            eur(),
            0,
            0,
            0,
            vec![(CostCategory::Storage, 1, 50), (CostCategory::Compute, 1, threshold)],
        )
        .unwrap_err();
        assert_eq!(error.field(), "budgets.1.threshold_percent");
    }
    let twice =
        CostTerms::new(eur(), 0, 0, 0, vec![(CostCategory::Storage, 1, 0), (CostCategory::Storage, 2, 100)]);
    assert_eq!(twice.unwrap_err().field(), "budgets.1.category");
}

#[test]
fn terms_are_set_and_the_same_terms_again_are_a_conflict() {
    TestFramework::<CostModel>::with(())
        .given_no_previous_events()
        .when(CostModelCommand::Set { terms: terms(2) })
        .then_expect_events(vec![CostModelEvent::Set { terms: terms(2) }]);
    TestFramework::<CostModel>::with(())
        .given(vec![CostModelEvent::Set { terms: terms(2) }])
        .when(CostModelCommand::Set { terms: terms(2) })
        .then_expect_error(CostModelError::Unchanged);
}

#[test]
fn a_site_bears_the_mean_of_its_shares_of_its_node_rounded_half_up() {
    let node = Resources { millicores: 4000, memory_mb: 8192, disk_gb: 80 };
    let wordpress = Resources { millicores: 500, memory_mb: 512, disk_gb: 10 };
    // (1/8 + 1/16 + 1/8) / 3 = 5/48 of 40.00 = 4.1666… → 4.17
    assert_eq!(site_share(4_000, node, wordpress), 417);
    assert_eq!(site_share(4_000, node, node), 4_000);
    assert_eq!(site_share(4_000, Resources::default(), wordpress), 0);
}

#[test]
fn storage_and_transfer_cost_their_gigabytes() {
    // 2.5 GB at 0.03 a GB-month is 0.075 → 0.08; 1.5 GB transferred at 0.01 is 0.015 → 0.02.
    assert_eq!(storage_cost(2_500_000_000, 3), 8);
    assert_eq!(bandwidth_cost(1_500, 1), 2);
    assert_eq!(storage_cost(0, 3), 0);
}
