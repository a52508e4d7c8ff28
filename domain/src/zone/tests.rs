use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::aggregate::Consequences;

fn zone_name() -> DomainName {
    DomainName::parse("acme.test").unwrap()
}

fn created() -> ZoneEvent {
    ZoneEvent::Created {
        zone_id: ZoneId::from_uuid(Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        name: zone_name(),
    }
}

fn set(name: &str, rtype: &str, values: &[&str]) -> RecordSet {
    let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    parse_record_set(&zone_name(), name, rtype, 300, &values).unwrap()
}

#[test]
fn create_claims_the_name_and_deleted_gives_it_back() {
    let mut zone = Zone::default();
    zone.apply(created());
    let claims = zone.uniques(&created());
    assert!(
        matches!(&claims[..], [UniqueChange::Claim(u)] if u.value == "acme.test" && u.scope == UniqueScope::Zone)
    );
    assert!(matches!(&zone.uniques(&ZoneEvent::Deleted)[..], [UniqueChange::Release(_)]));
}

#[test]
fn a_record_set_is_set_once_and_a_repeat_changes_nothing() {
    let www = set("www", "A", &["192.0.2.1"]);
    TestFramework::<Zone>::with(())
        .given(vec![created()])
        .when(ZoneCommand::SetRecordSet { set: www.clone() })
        .then_expect_events(vec![ZoneEvent::RecordSetChanged { set: www.clone() }]);
    TestFramework::<Zone>::with(())
        .given(vec![created(), ZoneEvent::RecordSetChanged { set: www.clone() }])
        .when(ZoneCommand::SetRecordSet { set: www })
        .then_expect_events(vec![]);
}

#[test]
fn a_cname_never_sits_beside_other_records() {
    let www_a = ZoneEvent::RecordSetChanged { set: set("www", "A", &["192.0.2.1"]) };
    TestFramework::<Zone>::with(())
        .given(vec![created(), www_a])
        .when(ZoneCommand::SetRecordSet { set: set("www", "CNAME", &["elsewhere.example."]) })
        .then_expect_error(ZoneError::CnameConflict("www.acme.test".into()));
    let www_cname = ZoneEvent::RecordSetChanged { set: set("www", "CNAME", &["elsewhere.example."]) };
    TestFramework::<Zone>::with(())
        .given(vec![created(), www_cname])
        .when(ZoneCommand::SetRecordSet { set: set("www", "TXT", &["hello"]) })
        .then_expect_error(ZoneError::CnameConflict("www.acme.test".into()));
}

#[test]
fn names_are_read_inside_the_zone() {
    let zone = zone_name();
    assert_eq!(RecordName::parse("@", &zone).unwrap().as_str(), "acme.test");
    assert_eq!(RecordName::parse("WWW", &zone).unwrap().as_str(), "www.acme.test");
    assert_eq!(RecordName::parse("mail.eu", &zone).unwrap().as_str(), "mail.eu.acme.test");
    assert_eq!(RecordName::parse("shop.acme.test", &zone).unwrap().as_str(), "shop.acme.test");
    assert_eq!(RecordName::parse("_dmarc.acme.test.", &zone).unwrap().as_str(), "_dmarc.acme.test");
    assert_eq!(RecordName::parse("*.dev", &zone).unwrap().as_str(), "*.dev.acme.test");
    assert!(matches!(RecordName::parse("www.other.test.", &zone), Err(RecordError::OutsideZone { .. })));
    assert!(matches!(RecordName::parse("notacme.test.", &zone), Err(RecordError::OutsideZone { .. })));
    for bad in ["a..b", "a b", "-x", "a.*", "é", &"x".repeat(64)] {
        assert!(matches!(RecordName::parse(bad, &zone), Err(RecordError::BadName(_))), "{bad:?}");
    }
}

#[test]
fn each_part_of_a_record_set_is_named_when_it_is_wrong() {
    let zone = zone_name();
    let field = |name: &str, rtype: &str, ttl: u32, values: &[&str]| {
        let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        parse_record_set(&zone, name, rtype, ttl, &values).unwrap_err().0
    };
    assert_eq!(field("www.other.test.", "A", 300, &["192.0.2.1"]), "name");
    assert_eq!(field("@", "CNAME", 300, &["x.example."]), "name");
    assert_eq!(field("www", "NS", 300, &["ns.example."]), "type");
    assert_eq!(field("www", "A", 5, &["192.0.2.1"]), "ttl");
    assert_eq!(field("www", "MX", 300, &["10 mx.example.", "99999 mx.example."]), "records[1]");
    assert_eq!(field("www", "CAA", 300, &["0 issue ca.example", "0 bogus ca.example"]), "records[1]");
    assert_eq!(field("www", "A", 300, &[]), "records");
    assert_eq!(field("www", "CNAME", 300, &["a.example.", "b.example."]), "records");
}

#[test]
fn a_conditional_removal_leaves_a_changed_set_alone() {
    let www = set("www", "A", &["192.0.2.1"]);
    let name = www.name().clone();
    let given = vec![created(), ZoneEvent::RecordSetChanged { set: www.clone() }];
    TestFramework::<Zone>::with(())
        .given(given.clone())
        .when(ZoneCommand::RemoveRecordSet {
            name: name.clone(),
            rtype: RecordType::A,
            only_if: Some(vec![RecordValue::parse(RecordType::A, "192.0.2.9").unwrap()]),
        })
        .then_expect_events(vec![]);
    TestFramework::<Zone>::with(())
        .given(given)
        .when(ZoneCommand::RemoveRecordSet { name: name.clone(), rtype: RecordType::A, only_if: None })
        .then_expect_events(vec![ZoneEvent::RecordSetRemoved { name, rtype: RecordType::A }]);
}

#[test]
fn publishing_and_drift_follow_the_revision() {
    let www = ZoneEvent::RecordSetChanged { set: set("www", "A", &["192.0.2.1"]) };
    TestFramework::<Zone>::with(())
        .given(vec![created(), www.clone()])
        .when(ZoneCommand::RecordPublished { revision: 2 })
        .then_expect_events(vec![ZoneEvent::Published { revision: 2 }]);
    TestFramework::<Zone>::with(())
        .given(vec![created(), www.clone(), ZoneEvent::Published { revision: 2 }])
        .when(ZoneCommand::RecordPublished { revision: 1 })
        .then_expect_events(vec![]);
    let drift = Drift {
        name: RecordName::parse("www", &zone_name()).unwrap(),
        rtype: RecordType::A,
        expected: vec![RecordValue::parse(RecordType::A, "192.0.2.1").unwrap()],
        found: vec![RecordValue::parse(RecordType::A, "203.0.113.66").unwrap()],
    };
    // Compared with an older revision, a difference may be Berth's own change in flight.
    TestFramework::<Zone>::with(())
        .given(vec![created(), www.clone()])
        .when(ZoneCommand::ReportDrift { revision: 1, differences: vec![drift.clone()] })
        .then_expect_events(vec![]);
    TestFramework::<Zone>::with(())
        .given(vec![created(), www])
        .when(ZoneCommand::ReportDrift { revision: 2, differences: vec![drift.clone()] })
        .then_expect_events(vec![ZoneEvent::DriftFound { differences: vec![drift] }]);
}

#[test]
fn a_deleted_zone_takes_no_records() {
    TestFramework::<Zone>::with(())
        .given(vec![created(), ZoneEvent::DeletionRequested])
        .when(ZoneCommand::SetRecordSet { set: set("www", "A", &["192.0.2.1"]) })
        .then_expect_error(ZoneError::Deleted);
    TestFramework::<Zone>::with(())
        .given(vec![created(), ZoneEvent::DeletionRequested])
        .when(ZoneCommand::RecordDeleted)
        .then_expect_events(vec![ZoneEvent::Deleted]);
}

#[test]
fn a_stored_record_set_reads_back_and_a_tampered_one_does_not() {
    let event = ZoneEvent::RecordSetChanged { set: set("@", "MX", &["10 mx.acme.test"]) };
    let payload = serde_json::to_value(&event).unwrap();
    assert_eq!(
        payload["RecordSetChanged"]["set"],
        serde_json::json!({"name": "acme.test", "type": "MX", "ttl": 300, "values": ["10 mx.acme.test."]})
    );
    let read = crate::event::Event::decode("zone", "ZoneRecordSetChanged", "1", payload.clone());
    assert_eq!(read, Ok(crate::event::Event::Zone(event)));
    let mut tampered = payload;
    tampered["RecordSetChanged"]["set"]["values"][0] = "ten mx".into();
    assert!(crate::event::Event::decode("zone", "ZoneRecordSetChanged", "1", tampered).is_err());
}
