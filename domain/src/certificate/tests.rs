use cqrs_es::test::TestFramework;
use time::macros::datetime;
use time::Duration;
use uuid::Uuid;

use super::*;
use crate::aggregate::Consequences;
use crate::domain_name::DomainName;

fn names() -> CertificateNames {
    CertificateNames {
        primary: DomainName::parse("blog.acme.test").unwrap(),
        wildcard: false,
        aliases: vec![],
    }
}

fn requested(attempt: u32, reason: Reason) -> CertificateEvent {
    CertificateEvent::IssuanceRequested {
        site_id: SiteId::from_uuid(Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        attempt,
        names: names(),
        hsts: false,
        reason,
    }
}

fn request(reason: Reason) -> CertificateCommand {
    CertificateCommand::Request {
        site_id: SiteId::from_uuid(Uuid::from_u128(1)),
        tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
        names: names(),
        hsts: false,
        reason,
    }
}

const NOT_AFTER: OffsetDateTime = datetime!(2030-06-30 00:00 UTC);

fn issued(attempt: u32, serial: &str) -> CertificateEvent {
    CertificateEvent::Issued {
        attempt,
        certificate: IssuedCertificate {
            serial: serial.to_owned(),
            issuer: "CN=Pebble Intermediate CA".to_owned(),
            names: vec!["blog.acme.test".to_owned()],
            not_before: datetime!(2030-04-01 00:00 UTC),
            not_after: NOT_AFTER,
            key_id: Uuid::from_u128(9),
            method: ChallengeMethod::Http01,
        },
        renew_at: NOT_AFTER - Duration::days(30),
        took_ms: 900,
    }
}

fn failure(attempt: u32, now: OffsetDateTime) -> CertificateCommand {
    CertificateCommand::RecordFailure {
        attempt,
        code: FailureCode::CaUnavailable,
        reason: "connection refused".into(),
        now,
        retry_at: now + Duration::hours(1),
    }
}

#[test]
fn a_request_starts_an_attempt_and_a_repeat_changes_nothing() {
    TestFramework::<Certificate>::with(())
        .given_no_previous_events()
        .when(request(Reason::Requested))
        .then_expect_events(vec![requested(1, Reason::Requested)]);
    TestFramework::<Certificate>::with(())
        .given(vec![requested(1, Reason::Requested)])
        .when(request(Reason::Requested))
        .then_expect_events(vec![]);
    // An automatic request only ever starts the first certificate.
    TestFramework::<Certificate>::with(())
        .given(vec![requested(1, Reason::Requested), issued(1, "01")])
        .when(request(Reason::Automatic))
        .then_expect_events(vec![]);
}

#[test]
fn issuing_schedules_the_renewal_thirty_days_ahead_of_expiry() {
    let timers = Certificate::timers("s", &issued(1, "01"));
    assert!(matches!(
        &timers[0],
        TimerChange::Schedule { key, due_at, command: CertificateCommand::Renew { .. } }
            if key.as_str() == "certificate-renewal:s" && *due_at == NOT_AFTER - Duration::days(30)
    ));
    // Renewal starts at the first threshold: a failing renewal warns, no notice timer does.
    assert!(timers[1..].iter().all(|t| matches!(t, TimerChange::Cancel { .. })), "{timers:?}");
    assert_eq!(timers.len(), 4);
    TestFramework::<Certificate>::with(())
        .given(vec![requested(1, Reason::Requested), issued(1, "01")])
        .when(CertificateCommand::Renew { now: NOT_AFTER - Duration::days(30) })
        .then_expect_events(vec![requested(2, Reason::Renewal)]);
}

#[test]
fn an_outcome_for_an_older_attempt_is_refused() {
    TestFramework::<Certificate>::with(())
        .given(vec![requested(1, Reason::Requested), requested(2, Reason::NamesChanged)])
        .when(CertificateCommand::RecordIssued {
            attempt: 1,
            certificate: match issued(1, "01") {
                CertificateEvent::Issued { certificate, .. } => certificate,
                _ => unreachable!(),
            },
            renew_at: NOT_AFTER,
            took_ms: 1,
        })
        .then_expect_error(CertificateError::StaleAttempt(1));
}

#[test]
fn a_failure_is_retried_on_a_timer() {
    let now = datetime!(2030-01-01 00:00 UTC);
    let failed = CertificateEvent::IssuanceFailed {
        attempt: 1,
        code: FailureCode::CaUnavailable,
        reason: "connection refused".into(),
        retry_at: now + Duration::hours(1),
    };
    TestFramework::<Certificate>::with(())
        .given(vec![requested(1, Reason::Requested)])
        .when(failure(1, now))
        .then_expect_events(vec![failed.clone()]);
    let timers = Certificate::timers("s", &failed);
    assert!(matches!(
        &timers[..],
        [TimerChange::Schedule { command: CertificateCommand::Retry { attempt: 1 }, .. }]
    ));
    TestFramework::<Certificate>::with(())
        .given(vec![requested(1, Reason::Requested), failed.clone()])
        .when(CertificateCommand::Retry { attempt: 1 })
        .then_expect_events(vec![requested(2, Reason::Retry)]);
    // A retry for an attempt that is not the last failed one does nothing.
    TestFramework::<Certificate>::with(())
        .given(vec![requested(1, Reason::Requested), failed, requested(2, Reason::Requested)])
        .when(CertificateCommand::Retry { attempt: 1 })
        .then_expect_events(vec![]);
}

#[test]
fn a_failing_renewal_warns_at_thirty_fourteen_and_seven_days_once_each() {
    let mut history = vec![requested(1, Reason::Requested), issued(1, "01"), requested(2, Reason::Renewal)];
    let warning = |days_left: u32| CertificateEvent::RenewalWarningDue {
        days_left,
        not_after: NOT_AFTER,
        reason: "connection refused".into(),
    };
    let mut attempt = 2;
    for (days_before, warned) in
        [(29, Some(30)), (20, None), (13, Some(14)), (10, None), (3, Some(7)), (1, None)]
    {
        let now = NOT_AFTER - Duration::days(days_before);
        let mut expected = vec![CertificateEvent::IssuanceFailed {
            attempt,
            code: FailureCode::CaUnavailable,
            reason: "connection refused".into(),
            retry_at: now + Duration::hours(1),
        }];
        expected.extend(warned.map(warning));
        TestFramework::<Certificate>::with(())
            .given(history.clone())
            .when(failure(attempt, now))
            .then_expect_events(expected.clone());
        history.extend(expected);
        attempt += 1;
        history.push(requested(attempt, Reason::Retry));
    }
    // A first certificate that fails warns nobody: nothing is about to expire.
    TestFramework::<Certificate>::with(())
        .given(vec![requested(1, Reason::Requested)])
        .when(failure(1, NOT_AFTER))
        .then_expect_events(vec![CertificateEvent::IssuanceFailed {
            attempt: 1,
            code: FailureCode::CaUnavailable,
            reason: "connection refused".into(),
            retry_at: NOT_AFTER + Duration::hours(1),
        }]);
}

#[test]
fn installing_is_recorded_once_and_a_retired_certificate_takes_nothing() {
    let given = vec![requested(1, Reason::Requested), issued(1, "01")];
    TestFramework::<Certificate>::with(())
        .given(given.clone())
        .when(CertificateCommand::RecordInstalled { serial: "01".into(), took_ms: 5 })
        .then_expect_events(vec![CertificateEvent::Installed { serial: "01".into(), took_ms: 5 }]);
    TestFramework::<Certificate>::with(())
        .given(vec![
            requested(1, Reason::Requested),
            issued(1, "01"),
            CertificateEvent::Installed { serial: "01".into(), took_ms: 5 },
        ])
        .when(CertificateCommand::RecordInstalled { serial: "01".into(), took_ms: 5 })
        .then_expect_events(vec![]);
    let mut retired = given;
    retired.push(CertificateEvent::Retired);
    TestFramework::<Certificate>::with(())
        .given(retired)
        .when(request(Reason::Requested))
        .then_expect_error(CertificateError::Retired);
    let cancelled = Certificate::timers("s", &CertificateEvent::Retired);
    assert_eq!(cancelled.len(), 6);
    assert!(cancelled
        .iter()
        .any(|t| matches!(t, TimerChange::Cancel { key } if key.as_str() == "certificate-notice-7:s")));
}

#[test]
fn names_list_the_primary_then_the_wildcard_then_aliases_once() {
    let names = CertificateNames {
        primary: DomainName::parse("acme.test").unwrap(),
        wildcard: true,
        aliases: vec![DomainName::parse("shop.example").unwrap(), DomainName::parse("acme.test").unwrap()],
    };
    assert_eq!(names.all(), ["acme.test", "*.acme.test", "shop.example"]);
}

#[test]
fn a_removed_alias_leaves_the_next_attempt_without_it() {
    let with_alias =
        CertificateNames { aliases: vec![DomainName::parse("shop.example").unwrap()], ..names() };
    let mut given = vec![requested(1, Reason::Requested), issued(1, "01")];
    if let CertificateEvent::IssuanceRequested { names, .. } = &mut given[0] {
        *names = with_alias;
    }
    TestFramework::<Certificate>::with(())
        .given(given.clone())
        .when(CertificateCommand::SetNames { names: names() })
        .then_expect_events(vec![CertificateEvent::NamesChanged { names: names() }]);
    given.push(CertificateEvent::NamesChanged { names: names() });
    TestFramework::<Certificate>::with(())
        .given(given)
        .when(CertificateCommand::Renew { now: NOT_AFTER - Duration::days(30) })
        .then_expect_events(vec![requested(2, Reason::Renewal)]);
}

/// Issued with its renewal starting five days before expiry, after every threshold.
fn issued_renewing_late(attempt: u32, serial: &str) -> CertificateEvent {
    match issued(attempt, serial) {
        CertificateEvent::Issued { attempt, certificate, took_ms, .. } => CertificateEvent::Issued {
            attempt,
            certificate,
            renew_at: NOT_AFTER - Duration::days(5),
            took_ms,
        },
        _ => unreachable!(),
    }
}

fn notice(days_left: u32) -> CertificateCommand {
    CertificateCommand::NoticeExpiry { not_after: NOT_AFTER, days_left }
}

#[test]
fn thresholds_before_the_renewal_get_notice_timers_that_tell_once_each() {
    let timers = Certificate::timers("s", &issued_renewing_late(1, "01"));
    for days in WARNING_DAYS {
        assert!(
            timers.iter().any(|t| matches!(t,
                TimerChange::Schedule { key, due_at, command: CertificateCommand::NoticeExpiry { days_left, not_after } }
                    if key.as_str() == format!("certificate-notice-{days}:s")
                        && *due_at == NOT_AFTER - Duration::days(i64::from(days))
                        && *days_left == days && *not_after == NOT_AFTER)),
            "no notice timer at {days} days: {timers:?}"
        );
    }
    let given = vec![requested(1, Reason::Requested), issued_renewing_late(1, "01")];
    let due = CertificateEvent::ExpiryNoticeDue { days_left: 14, not_after: NOT_AFTER };
    TestFramework::<Certificate>::with(())
        .given(given.clone())
        .when(notice(14))
        .then_expect_events(vec![due.clone()]);
    let mut told = given.clone();
    told.push(due);
    TestFramework::<Certificate>::with(()).given(told).when(notice(14)).then_expect_events(vec![]);
}

#[test]
fn no_notice_for_a_renewed_retired_or_renewing_certificate() {
    let given = vec![requested(1, Reason::Requested), issued_renewing_late(1, "01")];
    // The timer was set for a certificate that has since been replaced.
    TestFramework::<Certificate>::with(())
        .given(given.clone())
        .when(CertificateCommand::NoticeExpiry { not_after: NOT_AFTER - Duration::days(90), days_left: 30 })
        .then_expect_events(vec![]);
    let mut renewing = given.clone();
    renewing.push(requested(2, Reason::Requested));
    TestFramework::<Certificate>::with(()).given(renewing).when(notice(30)).then_expect_events(vec![]);
    let mut retired = given;
    retired.push(CertificateEvent::Retired);
    TestFramework::<Certificate>::with(())
        .given(retired)
        .when(notice(30))
        .then_expect_error(CertificateError::Retired);
}
