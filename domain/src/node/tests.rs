use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::money::Currency;

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
        .given(vec![registered(), NodeEvent::Ready { scripts_version: "1".into() }, NodeEvent::DrainStarted])
        .when(NodeCommand::Decommission { sites: 2 })
        .then_expect_error(NodeError::NotEmpty(2));
    TestFramework::<Node>::with(())
        .given(vec![registered(), NodeEvent::DrainStarted])
        .when(NodeCommand::Decommission { sites: 0 })
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
