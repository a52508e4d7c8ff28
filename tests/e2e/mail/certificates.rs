//! Certificate expiry notices on a test clock: a certificate that reaches 30, 14 and 7 days
//! before expiry unrenewed mails its tenant's owners once at each; one retired or renewed
//! before then mails nobody.

use std::time::Duration;

use berth::app::{Application, Roles};
use berth::settings::Settings;
use berth_domain::certificate::{
    Certificate, CertificateCommand, CertificateNames, ChallengeMethod, IssuedCertificate, Reason,
};
use berth_domain::domain_name::DomainName;
use berth_domain::email::Email;
use berth_domain::ids::{SiteId, TenantId, UserId};
use berth_domain::name::DisplayName;
use berth_domain::organization::{Organization, OrganizationCommand};
use berth_eventstore::clock::{Clock, ManualClock};
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::store::EventStore;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{messages_to, unique_address, wait_for_messages};
use crate::common::TestEnv;

/// A tenant whose only owner receives at `owner`.
pub(super) async fn tenant(store: &EventStore, owner: &str) -> TenantId {
    let tenant = TenantId::from_uuid(Uuid::now_v7());
    let register = OrganizationCommand::Register {
        tenant_id: tenant,
        name: DisplayName::parse("Notices").unwrap(),
        owner: UserId::from_uuid(Uuid::now_v7()),
        owner_email: Email::parse(owner).unwrap(),
    };
    let meta = CommandMetadata::new(Some(tenant.as_uuid()), "user:test");
    store
        .execute::<Organization>(&tenant.to_string(), register, &meta, RetryPolicy::default())
        .await
        .unwrap();
    tenant
}

/// Records attempt `attempt` of `site`'s certificate as issued, valid until `not_after`, with
/// its renewal due two days before then (after every notice threshold).
async fn issue(store: &EventStore, tenant: TenantId, site: SiteId, attempt: u32, not_after: OffsetDateTime) {
    let id = site.to_string();
    // Each command its own id: a repeated id is answered as the first command was.
    let meta = || CommandMetadata::new(Some(tenant.as_uuid()), "user:test");
    let names = CertificateNames {
        primary: DomainName::parse(&format!("s{}.notices.test", site.as_uuid().simple())).unwrap(),
        wildcard: false,
        aliases: Vec::new(),
    };
    let request = CertificateCommand::Request {
        site_id: site,
        tenant_id: tenant,
        names,
        hsts: false,
        reason: Reason::Requested,
    };
    store.execute::<Certificate>(&id, request, &meta(), RetryPolicy::default()).await.unwrap();
    let certificate = IssuedCertificate {
        serial: format!("{attempt:02x}"),
        issuer: "CN=Test CA".to_owned(),
        names: Vec::new(),
        not_before: not_after - time::Duration::days(90),
        not_after,
        key_id: Uuid::now_v7(),
        method: ChallengeMethod::Http01,
    };
    let issued = CertificateCommand::RecordIssued {
        attempt,
        certificate,
        renew_at: not_after - time::Duration::days(2),
        took_ms: 1,
    };
    store.execute::<Certificate>(&id, issued, &meta(), RetryPolicy::default()).await.unwrap();
}

async fn notice_timers(env: &TestEnv, site: SiteId) -> Vec<(String, OffsetDateTime)> {
    sqlx::query_as(
        "SELECT status, due_at FROM timers WHERE key LIKE 'certificate-notice-%' AND key LIKE '%' || $1 ORDER BY due_at",
    )
    .bind(site.to_string())
    .fetch_all(&env.pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrenewed_certificate_mails_its_owners_once_at_thirty_fourteen_and_seven_days() {
    // Arrange: three tenants' certificates, expiring in 40 days; no CA (the certificates
    // saga is off: the certificates here are recorded by hand).
    let env = TestEnv::new().await;
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = ManualClock::at(start);
    let mut vars = env.env_vars();
    for (k, v) in [
        ("BERTH_SAGAS__CERTIFICATES__ENABLED", "false"),
        ("BERTH_SAGAS__PROVISIONING__ENABLED", "false"),
        ("BERTH_SAGAS__TIMERS__POLL_MS", "100"),
        ("BERTH_SAGAS__MAIL__POLL_MS", "100"),
    ] {
        vars.push((k.to_owned(), v.to_owned()));
    }
    let settings = Settings::load_from(None, vars).expect("settings");
    let app = Application::build_with_clock(settings, Roles::ALL, clock.clone()).await.expect("application");
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    let store = env.store();
    let not_after = start + time::Duration::days(40);
    let (kept, retired, renewed) =
        (unique_address("kept"), unique_address("retired"), unique_address("renewed"));
    let (kept_site, retired_site, renewed_site) = (
        SiteId::from_uuid(Uuid::now_v7()),
        SiteId::from_uuid(Uuid::now_v7()),
        SiteId::from_uuid(Uuid::now_v7()),
    );
    let kept_tenant = tenant(&store, &kept).await;
    issue(&store, kept_tenant, kept_site, 1, not_after).await;
    let retired_tenant = tenant(&store, &retired).await;
    issue(&store, retired_tenant, retired_site, 1, not_after).await;
    let meta = CommandMetadata::new(Some(retired_tenant.as_uuid()), "user:test");
    store
        .execute::<Certificate>(
            &retired_site.to_string(),
            CertificateCommand::Retire,
            &meta,
            RetryPolicy::default(),
        )
        .await
        .unwrap();
    let renewed_tenant = tenant(&store, &renewed).await;
    issue(&store, renewed_tenant, renewed_site, 1, not_after).await;
    issue(&store, renewed_tenant, renewed_site, 2, not_after + time::Duration::days(160)).await;

    // Act and assert: the clock passes each threshold; one mail each time.
    for (n, days) in [(1, 30), (2, 14), (3, 7)] {
        clock.set(not_after - time::Duration::days(days) + time::Duration::seconds(1));
        let mails = wait_for_messages(&kept, n, Duration::from_secs(30)).await;
        assert_eq!(mails.len(), n, "{mails:?}");
        let subject = mails[n - 1]["subject"].as_str().unwrap();
        assert!(subject.ends_with(&format!("expires in {days} days")), "{subject}");
    }
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM mail_outbox ORDER BY id").fetch_all(&env.pool).await.unwrap();
    let expiry = not_after.unix_timestamp();
    assert_eq!(
        keys,
        [30, 14, 7].map(|d| format!("certificate-expiring:{kept_site}:{expiry}:{d}")),
        "one mail per certificate, expiry and threshold, and none for the others"
    );
    // The retired certificate's timers were cancelled and the renewed one's moved to its new
    // expiry; so neither has anything to tell.
    let retired_timers = notice_timers(&env, retired_site).await;
    assert!(
        retired_timers.len() == 3 && retired_timers.iter().all(|(s, _)| s == "cancelled"),
        "{retired_timers:?}"
    );
    let renewed_expiry = not_after + time::Duration::days(160);
    let moved: Vec<(String, OffsetDateTime)> =
        [30, 14, 7].map(|d| ("scheduled".to_owned(), renewed_expiry - time::Duration::days(d))).to_vec();
    assert_eq!(notice_timers(&env, renewed_site).await, moved);
    assert!(messages_to(&retired).await.is_empty() && messages_to(&renewed).await.is_empty());
    assert!(Clock::now(&*clock) > not_after - time::Duration::days(7));
    shutdown.cancel();
    running.await.unwrap().unwrap();
    env.cleanup().await;
}
