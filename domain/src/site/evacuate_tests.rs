use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::evacuation::{EvacuationMode, EvacuationStep};
use crate::ids::{EvacuationId, NodeId};

fn node(n: u128) -> NodeId {
    NodeId::from_uuid(Uuid::from_u128(n))
}

fn evacuation() -> EvacuationId {
    EvacuationId::from_uuid(Uuid::from_u128(50))
}

fn active_on_node_10() -> Vec<SiteEvent> {
    vec![
        SiteEvent::Created {
            site_id: SiteId::from_uuid(Uuid::from_u128(1)),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
            domain: DomainName::parse("blog.example.com").unwrap(),
            kind: SiteKind::Wordpress,
            php_version: Some(PhpVersion::V8_3),
        },
        SiteEvent::NodeAssigned {
            node_id: node(10),
            node_name: "a".into(),
            address: "10.0.0.1".into(),
            took_ms: 1,
        },
        SiteEvent::Provisioned { took_ms: 1 },
        SiteEvent::Activated { took_ms: 1 },
    ]
}

fn started(mode: EvacuationMode) -> SiteEvent {
    SiteEvent::EvacuationStarted { evacuation_id: evacuation(), mode, from_node: node(10) }
}

fn placed_on_11() -> SiteEvent {
    SiteEvent::EvacuationStepCompleted {
        evacuation_id: evacuation(),
        step: EvacuationStep::Place,
        took_ms: 3,
        target: Some(Placement { node_id: node(11), node_name: "b".into(), address: "10.0.0.2".into() }),
        backup_id: None,
        detail: None,
    }
}

fn lost() -> SiteEvent {
    SiteEvent::Lost { node_id: node(10), latest_backup_id: None, latest_backup_at: None }
}

#[test]
fn an_evacuation_starts_on_the_sites_node_and_blocks_other_changes() {
    let start = SiteCommand::StartEvacuation {
        evacuation_id: evacuation(),
        mode: EvacuationMode::FromBackup,
        from_node: node(10),
    };
    TestFramework::<Site>::with(())
        .given(active_on_node_10())
        .when(start)
        .then_expect_events(vec![started(EvacuationMode::FromBackup)]);
    let mut given = active_on_node_10();
    given.push(started(EvacuationMode::Live));
    TestFramework::<Site>::with(())
        .given(given)
        .when(SiteCommand::Suspend)
        .then_expect_error(SiteError::Busy("evacuation"));
}

#[test]
fn a_site_on_another_node_is_not_moved() {
    let start = SiteCommand::StartEvacuation {
        evacuation_id: evacuation(),
        mode: EvacuationMode::Live,
        from_node: node(99),
    };
    TestFramework::<Site>::with(()).given(active_on_node_10()).when(start).then_expect_events(vec![]);
}

#[test]
fn the_switch_puts_the_site_on_its_new_node() {
    let mut given = active_on_node_10();
    given.extend([started(EvacuationMode::FromBackup), placed_on_11()]);
    TestFramework::<Site>::with(())
        .given(given)
        .when(SiteCommand::CompleteEvacuation { evacuation_id: evacuation(), took_ms: 9 })
        .then_expect_events(vec![SiteEvent::Evacuated {
            evacuation_id: evacuation(),
            from_node: node(10),
            node_id: node(11),
            node_name: "b".into(),
            address: "10.0.0.2".into(),
            was_lost: false,
            mode: EvacuationMode::FromBackup,
            backup_id: None,
            took_ms: 9,
        }]);
}

#[test]
fn a_lost_site_refuses_its_tenants_changes_naming_the_state_but_can_be_deleted() {
    let mut given = active_on_node_10();
    given.push(lost());
    TestFramework::<Site>::with(())
        .given(given.clone())
        .when(SiteCommand::Suspend)
        .then_expect_error(SiteError::WrongStatus("lost"));
    TestFramework::<Site>::with(())
        .given(given)
        .when(SiteCommand::Delete)
        .then_expect_events(vec![SiteEvent::Deleted { took_ms: 0 }]);
}

#[test]
fn a_lost_site_gives_its_domain_back_and_claims_it_again_when_restored() {
    use crate::aggregate::Consequences;
    use crate::unique::UniqueChange;
    let mut site = Site::default();
    for event in active_on_node_10() {
        cqrs_es::Aggregate::apply(&mut site, event);
    }
    cqrs_es::Aggregate::apply(&mut site, lost());
    assert!(matches!(site.uniques(&lost())[..], [UniqueChange::Release(_)]));
    let restore = started(EvacuationMode::FromBackup);
    cqrs_es::Aggregate::apply(&mut site, restore.clone());
    assert!(matches!(site.uniques(&restore)[..], [UniqueChange::Claim(_)]));
}

#[test]
fn a_failed_move_leaves_the_site_where_it_was() {
    let mut given = active_on_node_10();
    given.extend([
        started(EvacuationMode::Live),
        placed_on_11(),
        SiteEvent::EvacuationFailed {
            evacuation_id: evacuation(),
            step: EvacuationStep::Restore,
            reason: "no".into(),
        },
    ]);
    let mut site = Site::default();
    for event in given {
        cqrs_es::Aggregate::apply(&mut site, event);
    }
    assert_eq!(site.node().unwrap().node_id, node(10));
    assert!(site.moving().is_none());
    assert_eq!(site.status(), SiteStatus::Active);
}
