use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;

fn created() -> SiteEvent {
    SiteEvent::Created {
        site_id: SiteId::from_uuid(Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        domain: DomainName::parse("blog.example.com").unwrap(),
        kind: SiteKind::Wordpress,
        php_version: Some(PhpVersion::V8_3),
    }
}

fn create(kind: SiteKind, php_version: Option<PhpVersion>) -> SiteCommand {
    SiteCommand::Create {
        site_id: SiteId::from_uuid(Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        domain: DomainName::parse("blog.example.com").unwrap(),
        kind,
        php_version,
    }
}

#[test]
fn create_emits_created() {
    TestFramework::<Site>::with(())
        .given_no_previous_events()
        .when(create(SiteKind::Wordpress, Some(PhpVersion::V8_3)))
        .then_expect_events(vec![created()]);
}

#[test]
fn create_twice_is_refused() {
    TestFramework::<Site>::with(())
        .given(vec![created()])
        .when(create(SiteKind::Wordpress, Some(PhpVersion::V8_3)))
        .then_expect_error(SiteError::AlreadyExists);
}

#[test]
fn php_version_rules_follow_the_kind() {
    TestFramework::<Site>::with(())
        .given_no_previous_events()
        .when(create(SiteKind::Php, None))
        .then_expect_error(SiteError::PhpVersionRequired(SiteKind::Php));
    TestFramework::<Site>::with(())
        .given_no_previous_events()
        .when(create(SiteKind::Static, Some(PhpVersion::V8_1)))
        .then_expect_error(SiteError::PhpVersionNotAllowed);
}

#[test]
fn update_emits_only_what_changed() {
    TestFramework::<Site>::with(())
        .given(vec![created()])
        .when(SiteCommand::Update { php_version: Some(PhpVersion::V8_3), label: None })
        .then_expect_events(vec![]);
    TestFramework::<Site>::with(())
        .given(vec![created()])
        .when(SiteCommand::Update { php_version: Some(PhpVersion::V8_4), label: None })
        .then_expect_events(vec![SiteEvent::Updated { php_version: Some(PhpVersion::V8_4), label: None }]);
}

#[test]
fn commands_on_a_missing_or_deleted_site_are_refused() {
    TestFramework::<Site>::with(())
        .given_no_previous_events()
        .when(SiteCommand::Delete)
        .then_expect_error(SiteError::NotFound);
    TestFramework::<Site>::with(())
        .given(vec![created(), SiteEvent::DeletionRequested])
        .when(SiteCommand::Update { php_version: None, label: Some(SiteLabel::parse("x").unwrap()) })
        .then_expect_error(SiteError::Deleted);
}

#[test]
fn labels_are_bounded() {
    assert!(SiteLabel::parse(&"a".repeat(SiteLabel::MAX)).is_ok());
    assert_eq!(
        SiteLabel::parse(&"a".repeat(SiteLabel::MAX + 1)),
        Err(SiteError::LabelTooLong { max: SiteLabel::MAX })
    );
}

fn node() -> SiteCommand {
    SiteCommand::AssignNode {
        node_id: NodeId::from_uuid(Uuid::from_u128(5)),
        node_name: "fra-1".into(),
        address: "10.0.0.2".into(),
        took_ms: 3,
    }
}

fn assigned() -> SiteEvent {
    SiteEvent::NodeAssigned {
        node_id: NodeId::from_uuid(Uuid::from_u128(5)),
        node_name: "fra-1".into(),
        address: "10.0.0.2".into(),
        took_ms: 3,
    }
}

fn active() -> Vec<SiteEvent> {
    vec![created(), assigned(), SiteEvent::Provisioned { took_ms: 500 }, SiteEvent::Activated { took_ms: 40 }]
}

#[test]
fn provisioning_runs_assign_provision_activate_and_repeats_add_nothing() {
    TestFramework::<Site>::with(()).given(vec![created()]).when(node()).then_expect_events(vec![assigned()]);
    TestFramework::<Site>::with(())
        .given(vec![created(), assigned()])
        .when(node())
        .then_expect_events(vec![]);
    TestFramework::<Site>::with(())
        .given(vec![created(), assigned()])
        .when(SiteCommand::Activate { took_ms: 1 })
        .then_expect_error(SiteError::WrongStatus("provisioning"));
    TestFramework::<Site>::with(())
        .given(vec![created(), assigned(), SiteEvent::Provisioned { took_ms: 500 }])
        .when(SiteCommand::Activate { took_ms: 40 })
        .then_expect_events(vec![SiteEvent::Activated { took_ms: 40 }]);
    TestFramework::<Site>::with(())
        .given(active())
        .when(SiteCommand::RecordProvisioned { took_ms: 1 })
        .then_expect_events(vec![]);
}

#[test]
fn a_failed_site_can_be_retried_or_deleted_but_not_suspended() {
    let failed = vec![
        created(),
        assigned(),
        SiteEvent::ProvisioningFailed {
            step: ProvisioningStep::Provision,
            code: FailureCode::NodeUnreachable,
            reason: "node unreachable".into(),
        },
    ];
    TestFramework::<Site>::with(())
        .given(failed.clone())
        .when(SiteCommand::RetryProvisioning)
        .then_expect_events(vec![SiteEvent::ProvisioningRetried]);
    TestFramework::<Site>::with(())
        .given(failed.clone())
        .when(SiteCommand::Suspend)
        .then_expect_error(SiteError::WrongStatus("failed"));
    TestFramework::<Site>::with(())
        .given(failed)
        .when(SiteCommand::Delete)
        .then_expect_events(vec![SiteEvent::DeletionRequested]);
    // After a retry the site is placed anew.
    TestFramework::<Site>::with(())
        .given(vec![
            created(),
            assigned(),
            SiteEvent::ProvisioningFailed {
                step: ProvisioningStep::Verify,
                code: FailureCode::NotServing,
                reason: "no answer".into(),
            },
            SiteEvent::ProvisioningRetried,
        ])
        .when(node())
        .then_expect_events(vec![assigned()]);
}

#[test]
fn node_side_work_never_overlaps() {
    TestFramework::<Site>::with(())
        .given(vec![created(), assigned()])
        .when(SiteCommand::Delete)
        .then_expect_error(SiteError::Busy("provisioning"));
    let mut suspending = active();
    suspending.push(SiteEvent::SuspensionRequested);
    TestFramework::<Site>::with(())
        .given(suspending.clone())
        .when(SiteCommand::Delete)
        .then_expect_error(SiteError::Busy("suspend"));
    TestFramework::<Site>::with(())
        .given(suspending.clone())
        .when(SiteCommand::CompleteOperation { operation: Operation::Suspend, took_ms: 9 })
        .then_expect_events(vec![SiteEvent::Suspended { took_ms: 9 }]);
    suspending.push(SiteEvent::Suspended { took_ms: 9 });
    TestFramework::<Site>::with(())
        .given(suspending.clone())
        .when(SiteCommand::CompleteOperation { operation: Operation::Suspend, took_ms: 9 })
        .then_expect_events(vec![]);
    TestFramework::<Site>::with(())
        .given(suspending)
        .when(SiteCommand::Resume)
        .then_expect_events(vec![SiteEvent::ResumptionRequested]);
}

#[test]
fn a_failed_deletion_puts_the_site_back_as_it_was() {
    let mut deleting = active();
    deleting.push(SiteEvent::Suspended { took_ms: 1 });
    deleting.push(SiteEvent::DeletionRequested);
    TestFramework::<Site>::with(())
        .given(deleting.clone())
        .when(SiteCommand::FailOperation { operation: Operation::Delete, reason: "node down".into() })
        .then_expect_events(vec![SiteEvent::OperationFailed {
            operation: Operation::Delete,
            reason: "node down".into(),
            status: SiteStatus::Suspended,
        }]);
    deleting.push(SiteEvent::OperationFailed {
        operation: Operation::Delete,
        reason: "node down".into(),
        status: SiteStatus::Suspended,
    });
    TestFramework::<Site>::with(())
        .given(deleting)
        .when(SiteCommand::Resume)
        .then_expect_events(vec![SiteEvent::ResumptionRequested]);
}

#[test]
fn a_version_1_provisioning_failure_reads_as_version_2_through_the_registry() {
    use crate::event::Event;
    let stored = serde_json::json!({"ProvisioningFailed": {
        "step": "provision", "reason": "disk_full: no space left on device: tar"}});
    let event = Event::decode("site", "SiteProvisioningFailed", "1", stored).unwrap();
    assert_eq!(
        event,
        Event::Site(SiteEvent::ProvisioningFailed {
            step: ProvisioningStep::Provision,
            code: FailureCode::DiskFull,
            reason: "disk_full: no space left on device: tar".into(),
        })
    );
    let no_room = serde_json::json!({"ProvisioningFailed": {
        "step": "allocate", "reason": "no ready node has room for a static site"}});
    let Event::Site(SiteEvent::ProvisioningFailed { step, code, .. }) =
        Event::decode("site", "SiteProvisioningFailed", "1", no_room).unwrap()
    else {
        panic!("not a provisioning failure")
    };
    assert_eq!((step, code), (ProvisioningStep::Allocate, FailureCode::NoRoom));
}

#[test]
fn the_current_version_round_trips_through_the_registry() {
    use cqrs_es::DomainEvent;
    let event = SiteEvent::ProvisioningFailed {
        step: ProvisioningStep::Verify,
        code: FailureCode::NotServing,
        reason: "the node answered 502".into(),
    };
    let payload = serde_json::to_value(&event).unwrap();
    let read = crate::event::Event::decode("site", &event.event_type(), &event.event_version(), payload);
    assert_eq!(read, Ok(crate::event::Event::Site(event)));
}

#[test]
fn a_live_site_takes_aliases_once_and_a_provisioning_one_waits() {
    let alias = DomainName::parse("shop.customer.test").unwrap();
    TestFramework::<Site>::with(())
        .given(active())
        .when(SiteCommand::AddAlias { domain: alias.clone() })
        .then_expect_events(vec![SiteEvent::AliasAdded { domain: alias.clone() }]);
    let mut with_alias = active();
    with_alias.push(SiteEvent::AliasAdded { domain: alias.clone() });
    TestFramework::<Site>::with(())
        .given(with_alias.clone())
        .when(SiteCommand::AddAlias { domain: alias.clone() })
        .then_expect_events(vec![]);
    TestFramework::<Site>::with(())
        .given(vec![created(), assigned()])
        .when(SiteCommand::AddAlias { domain: alias.clone() })
        .then_expect_error(SiteError::Busy("provisioning"));
    TestFramework::<Site>::with(())
        .given(with_alias)
        .when(SiteCommand::RemoveAlias { domain: alias.clone() })
        .then_expect_events(vec![SiteEvent::AliasRemoved { domain: alias }]);
}
