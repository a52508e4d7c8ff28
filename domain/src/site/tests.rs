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
