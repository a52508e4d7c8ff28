use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::allocation::demand;
use crate::money::Currency;
use crate::php::SiteKind;

fn site(n: u128) -> SiteId {
    SiteId::from_uuid(Uuid::from_u128(n))
}

fn allocated(n: u128, demand: Resources) -> NodeEvent {
    NodeEvent::CapacityAllocated { site_id: site(n), demand }
}

fn ready() -> Vec<NodeEvent> {
    vec![registered(), NodeEvent::Ready { scripts_version: "1".into() }]
}

fn registered() -> NodeEvent {
    NodeEvent::Registered {
        node_id: NodeId::from_uuid(Uuid::from_u128(1)),
        spec: Box::new(NodeSpec {
            name: DisplayName::parse("fra-1").unwrap(),
            address: "10.0.0.2".to_owned(),
            ssh_port: 22,
            ssh_user: "berth".to_owned(),
            host_key: HostKey::parse(
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
            )
            .unwrap(),
            capacity: Resources { millicores: 4000, memory_mb: 8192, disk_gb: 160 },
            provider: "hetzner".to_owned(),
            region: "fsn1".to_owned(),
            monthly_cost: Money::new(1590, Currency::parse("EUR").unwrap()).unwrap(),
            key_id: Uuid::from_u128(9),
        }),
    }
}

#[test]
fn a_node_becomes_ready_drains_and_retires_only_when_empty() {
    TestFramework::<Node>::with(())
        .given(vec![registered()])
        .when(NodeCommand::MarkReady { scripts_version: "1".into() })
        .then_expect_events(vec![NodeEvent::Ready { scripts_version: "1".into() }]);
    TestFramework::<Node>::with(())
        .given(vec![
            registered(),
            NodeEvent::Ready { scripts_version: "1".into() },
            allocated(7, demand(SiteKind::Static)),
            allocated(8, demand(SiteKind::Static)),
            NodeEvent::DrainStarted,
        ])
        .when(NodeCommand::Decommission)
        .then_expect_error(NodeError::NotEmpty(2));
    TestFramework::<Node>::with(())
        .given(vec![registered(), NodeEvent::DrainStarted])
        .when(NodeCommand::Decommission)
        .then_expect_events(vec![NodeEvent::Decommissioned]);
}

#[test]
fn health_is_an_event_only_when_it_changes() {
    TestFramework::<Node>::with(())
        .given(vec![registered()])
        .when(NodeCommand::RecordHealth { health: Health::Healthy, reason: "ok".into() })
        .then_expect_events(vec![NodeEvent::HealthChanged {
            from: Health::Unknown,
            to: Health::Healthy,
            reason: "ok".into(),
        }]);
    TestFramework::<Node>::with(())
        .given(vec![
            registered(),
            NodeEvent::HealthChanged { from: Health::Unknown, to: Health::Healthy, reason: "ok".into() },
        ])
        .when(NodeCommand::RecordHealth { health: Health::Healthy, reason: "still ok".into() })
        .then_expect_events(vec![]);
}

#[test]
fn a_changed_host_key_blocks_the_node() {
    TestFramework::<Node>::with(())
        .given(vec![registered(), NodeEvent::HostKeyMismatched { presented: "ssh-rsa AAAA".into() }])
        .when(NodeCommand::MarkReady { scripts_version: "1".into() })
        .then_expect_error(NodeError::Blocked);
}

#[test]
fn allocation_is_idempotent_per_site_and_never_overflows() {
    let wp = demand(SiteKind::Wordpress);
    TestFramework::<Node>::with(())
        .given(ready())
        .when(NodeCommand::Allocate { site_id: site(7), demand: wp })
        .then_expect_events(vec![allocated(7, wp)]);
    let mut given = ready();
    given.push(allocated(7, wp));
    TestFramework::<Node>::with(())
        .given(given.clone())
        .when(NodeCommand::Allocate { site_id: site(7), demand: wp })
        .then_expect_events(vec![]);
    // 4000 millicores hold eight WordPress sites at 500 each; the ninth does not fit.
    let full: Vec<NodeEvent> = ready().into_iter().chain((1..=8).map(|n| allocated(n, wp))).collect();
    TestFramework::<Node>::with(())
        .given(full.clone())
        .when(NodeCommand::Allocate { site_id: site(9), demand: wp })
        .then_expect_error(NodeError::NoRoom);
    let mut freed = full;
    freed.push(NodeEvent::CapacityReleased { site_id: site(1), demand: wp });
    TestFramework::<Node>::with(())
        .given(freed)
        .when(NodeCommand::Allocate { site_id: site(9), demand: wp })
        .then_expect_events(vec![allocated(9, wp)]);
}

#[test]
fn no_allocation_on_a_draining_down_blocked_or_unready_node() {
    let wp = demand(SiteKind::Wordpress);
    let allocate = || NodeCommand::Allocate { site_id: site(7), demand: wp };
    TestFramework::<Node>::with(())
        .given(vec![registered()])
        .when(allocate())
        .then_expect_error(NodeError::WrongState(NodeState::Registered));
    let mut draining = ready();
    draining.push(NodeEvent::DrainStarted);
    TestFramework::<Node>::with(())
        .given(draining)
        .when(allocate())
        .then_expect_error(NodeError::WrongState(NodeState::Draining));
    let mut down = ready();
    down.push(NodeEvent::HealthChanged { from: Health::Unknown, to: Health::Down, reason: "x".into() });
    TestFramework::<Node>::with(()).given(down).when(allocate()).then_expect_error(NodeError::Down);
    let mut blocked = ready();
    blocked.push(NodeEvent::HostKeyMismatched { presented: "ssh-ed25519 AAAA".into() });
    TestFramework::<Node>::with(()).given(blocked).when(allocate()).then_expect_error(NodeError::Blocked);
}

#[test]
fn release_gives_back_what_was_reserved_once() {
    let wp = demand(SiteKind::Wordpress);
    let mut given = ready();
    given.push(allocated(7, wp));
    TestFramework::<Node>::with(())
        .given(given.clone())
        .when(NodeCommand::Release { site_id: site(7) })
        .then_expect_events(vec![NodeEvent::CapacityReleased { site_id: site(7), demand: wp }]);
    given.push(NodeEvent::CapacityReleased { site_id: site(7), demand: wp });
    TestFramework::<Node>::with(())
        .given(given)
        .when(NodeCommand::Release { site_id: site(7) })
        .then_expect_events(vec![]);
}

#[test]
fn an_evacuation_drains_the_node_and_names_its_sites() {
    let mut given = ready();
    given.push(allocated(7, demand(SiteKind::Static)));
    let evacuation_id = crate::ids::EvacuationId::from_uuid(Uuid::from_u128(9));
    let mode = crate::evacuation::EvacuationMode::FromBackup;
    TestFramework::<Node>::with(())
        .given(given)
        .when(NodeCommand::Evacuate { evacuation_id, mode })
        .then_expect_events(vec![
            NodeEvent::DrainStarted,
            NodeEvent::EvacuationStarted { evacuation_id, mode, sites: vec![site(7)] },
        ]);
}

#[test]
fn retiring_a_node_that_holds_sites_gives_everything_back() {
    let mut given = ready();
    given.push(allocated(7, demand(SiteKind::Static)));
    TestFramework::<Node>::with(())
        .given(given.clone())
        .when(NodeCommand::Retire { reason: "the VPS is gone".into() })
        .then_expect_events(vec![NodeEvent::Retired {
            reason: "the VPS is gone".into(),
            sites: vec![site(7)],
        }]);
    let mut node = Node::default();
    for event in given {
        cqrs_es::Aggregate::apply(&mut node, event);
    }
    let retired = NodeEvent::Retired { reason: "gone".into(), sites: vec![site(7)] };
    cqrs_es::Aggregate::apply(&mut node, retired.clone());
    assert_eq!(node.state(), Some(NodeState::Decommissioned));
    assert_eq!(node.load().unwrap().sites, 0);
    use crate::aggregate::Consequences;
    assert_eq!(node.uniques(&retired).len(), 2, "the name and the address are free again");
}
