//! Certificates end to end, against pebble, PowerDNS and a namespaced node: a new WordPress
//! site gets a certificate by HTTP-01 by itself and plain HTTP redirects to HTTPS; renewal on
//! a test clock replaces the certificate with no failed request in between; with the CA down a
//! renewal's failure is recorded, retried on the clock, warned about (and mailed to the owner)
//! and shown to operators and to Prometheus, and the old certificate serves until the CA is
//! back.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth::app::Roles;
use berth_eventstore::clock::ManualClock;
use reqwest::Method;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::api::Api;
use crate::certs_harness::{
    borrowed, create_zone, http, https, node_and_peer_settings, unique_zone, wait_certificate, wait_served,
    Peers, ZoneCleanup,
};
use crate::common::{eventually, Proxy};
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, wait_for_status, LocalNode,
};

/// A node with a WordPress site in a zone Berth serves, on `api`; the site's id, domain and
/// the node.
async fn site_in_a_zone(
    api: &Api,
    peers: &Peers,
    token: &str,
    node_name: &str,
    kind: &str,
) -> (String, String, LocalNode, ZoneCleanup) {
    let node = LocalNode::up(node_name).await;
    let operator = operator_token(api).await;
    add_node(api, &operator, &node, (2, 4096, 40)).await;
    let zone = unique_zone("c");
    let cleanup = peers.clean_up(&zone);
    create_zone(api, token, &zone).await;
    let domain = format!("blog.{zone}");
    let php = (kind == "wordpress").then_some("8.2");
    let site = create_site(api, token, &domain, kind, php).await;
    assert_eq!(wait_for_status(api, token, &site, &["active", "failed"]).await["status"], "active");
    (site, domain, node, cleanup)
}

fn rfc3339(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_wordpress_site_gets_a_certificate_by_http01_and_http_redirects_to_https() {
    let _serial = one_at_a_time().await;
    let peers = Peers::from_env();
    let root = peers.root();
    let settings = node_and_peer_settings(&peers, &peers.directory);
    let api = Api::start_roles(&borrowed(&settings), Roles::ALL).await;
    let owner = api.register("Secure").await;

    // Nobody asks: a live site whose domain resolves to its node gets one by itself.
    let (site, domain, node, _zone) = site_in_a_zone(&api, &peers, &owner.token, "cert1", "wordpress").await;
    let first = wait_certificate(&api, &owner.token, &site, |c| c["status"] == "active").await;
    assert_eq!(
        (first["method"].as_str(), first["attempt_reason"].as_str()),
        (Some("http-01"), Some("automatic"))
    );
    assert_eq!(first["covers"], json!([domain.clone()]));
    assert!(first["issuer"].as_str().unwrap().contains("Pebble"), "{first}");
    assert!(rfc3339(&first["not_after"]) > OffsetDateTime::now_utc() + time::Duration::days(60));
    assert_eq!(rfc3339(&first["renew_at"]), rfc3339(&first["not_after"]) - time::Duration::days(30));

    // HTTPS answers from the node with a certificate pebble's root vouches for; HTTP redirects.
    let (status, _) = https(&root, &domain, &node.address, "/wp-admin/install.php");
    assert_eq!(status, 200);
    let (status, headers) = http(&domain, &node.address, "/wp-admin/install.php?step=1");
    assert_eq!(status, 301);
    assert!(
        headers.contains(&format!("location: https://{domain}/wp-admin/install.php?step=1")),
        "{headers}"
    );
    wait_served(&domain, &node.address, &first).await;
    assert!(!https(&root, &domain, &node.address, "/").1.contains("strict-transport-security"));

    // Reissue on request, with HSTS: a new certificate, and the header on every HTTPS answer.
    let asked = api
        .send(
            Method::POST,
            &format!("/v1/sites/{site}/certificate"),
            Some(&owner.token),
            Some(json!({"hsts": true})),
        )
        .await;
    assert_eq!(asked.status(), 202, "{}", asked.text().await.unwrap());
    let location = asked.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains(&format!("/v1/certificates/{site}?min_version=")), "{location}");
    let second = wait_certificate(&api, &owner.token, &site, |c| {
        c["status"] == "active" && c["serial"] != first["serial"]
    })
    .await;
    assert_eq!(second["hsts"], true);
    wait_served(&domain, &node.address, &second).await;
    let (status, headers) = https(&root, &domain, &node.address, "/wp-admin/install.php");
    assert_eq!(status, 200);
    assert!(headers.contains("strict-transport-security: max-age=31536000"), "{headers}");

    // Deleting the site retires its certificate.
    let deleted = api.send(Method::DELETE, &format!("/v1/sites/{site}"), Some(&owner.token), None).await;
    assert_eq!(deleted.status(), 202);
    wait_certificate(&api, &owner.token, &site, |c| c["status"] == "retired").await;
    let _ = std::fs::remove_file(root);
    api.stop().await;
}

/// Requests HTTPS from the node over and over until stopped; counts the answers that are not 200.
fn keep_asking(
    root: std::path::PathBuf,
    domain: String,
    address: String,
) -> (Arc<AtomicU32>, Arc<AtomicU32>, tokio::task::JoinHandle<()>, tokio_util::sync::CancellationToken) {
    let (asked, failed) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let stop = tokio_util::sync::CancellationToken::new();
    let (a, f, s) = (asked.clone(), failed.clone(), stop.clone());
    let task = tokio::task::spawn_blocking(move || {
        while !s.is_cancelled() {
            let (status, _) = https(&root, &domain, &address, "/");
            a.fetch_add(1, Ordering::SeqCst);
            if status != 200 {
                f.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    (asked, failed, task, stop)
}

/// From the attempt's request to the node serving its certificate, as the log recorded them.
fn took(certificate: &Value) -> Duration {
    let spent = rfc3339(&certificate["installed_at"]) - rfc3339(&certificate["attempt_at"]);
    Duration::from_secs_f64(spent.as_seconds_f64().max(0.0))
}

fn median_and_max(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], *times.last().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn renewal_on_a_test_clock_replaces_the_certificate_without_a_failed_request() {
    let _serial = one_at_a_time().await;
    let peers = Peers::from_env();
    let root = peers.root();
    let clock = ManualClock::at(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap());
    let settings = node_and_peer_settings(&peers, &peers.directory);
    let api = Api::start_with_clock(&borrowed(&settings), Roles::ALL, clock.clone()).await;
    let owner = api.register("Renewals").await;
    let (site, domain, node, _zone) = site_in_a_zone(&api, &peers, &owner.token, "cert2", "static").await;
    let mut current = wait_certificate(&api, &owner.token, &site, |c| c["status"] == "active").await;

    // Five new sites each get their first certificate (fresh names, so every order is validated).
    let zone = domain.strip_prefix("blog.").unwrap().to_owned();
    let mut issue_times = Vec::new();
    for n in 0..5 {
        let new = create_site(&api, &owner.token, &format!("s{n}.{zone}"), "static", None).await;
        let first = wait_certificate(&api, &owner.token, &new, |c| c["status"] == "active").await;
        issue_times.push(took(&first));
    }
    // Five renewals on the clock, while the site is asked for over HTTPS all along.
    let (asked, failed, asking, stop) = keep_asking(root.clone(), domain.clone(), node.address.clone());
    // A failed assertion below must stop the asking too, or the test hangs instead of failing.
    let _stop_on_failure = stop.clone().drop_guard();
    let (mut renewal_times, mut wall) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let renew_at = rfc3339(&current["renew_at"]);
        let before = current["serial"].clone();
        let started = Instant::now();
        clock.set(renew_at + time::Duration::seconds(1));
        // A renewal attempt the CA fails (pebble under load can time out an order) is retried
        // at its `retry_at`, on this clock: move the clock there, as time would pass.
        let (mut retries, mut attempt) = (0, current["attempt"].as_i64().unwrap_or_default());
        current = loop {
            let seen = wait_certificate(&api, &owner.token, &site, |c| {
                (c["status"] == "active" && c["serial"] != before)
                    || (c["renewal"] == "failing" && c["attempt"].as_i64().unwrap_or_default() > attempt)
            })
            .await;
            if seen["serial"] != before {
                break seen;
            }
            attempt = seen["attempt"].as_i64().unwrap_or_default();
            retries += 1;
            assert!(retries <= 3, "renewal kept failing: {seen}");
            eprintln!("a renewal attempt failed ({}); retrying at its retry time", seen["last_error"]);
            clock.set(rfc3339(&seen["retry_at"]) + time::Duration::seconds(1));
        };
        renewal_times.push(took(&current));
        wall.push(started.elapsed());
        assert_eq!(current["attempt_reason"], "renewal");
        assert!(current["renewal"].is_null(), "{current}");
        wait_served(&domain, &node.address, &current).await;
        // The next renewal is ahead of this clock, never due at once (no renewal loop).
        assert!(rfc3339(&current["renew_at"]) > clock_now(&clock) + time::Duration::days(300), "{current}");
    }
    stop.cancel();
    asking.await.unwrap();
    let (asked, failed) = (asked.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    let (issue_median, issue_max) = median_and_max(issue_times);
    let (renew_median, renew_max) = median_and_max(renewal_times);
    let (wall_median, wall_max) = median_and_max(wall);
    eprintln!("first certificate, requested to served: median {issue_median:?}, max {issue_max:?}");
    eprintln!("renewal, requested to served: median {renew_median:?}, max {renew_max:?}");
    eprintln!("renewal, clock moved to seen served: median {wall_median:?}, max {wall_max:?}");
    eprintln!("{asked} HTTPS requests during the five renewals, {failed} failed");
    let steps: Vec<(String, i64)> = sqlx::query_as(
        "SELECT event_type, COALESCE((payload -> 'Issued' ->> 'took_ms'), (payload -> 'Installed' ->> 'took_ms'))::bigint
           FROM events WHERE aggregate_type = 'certificate' AND aggregate_id = $1
            AND event_type IN ('CertificateIssued', 'CertificateInstalled') ORDER BY global_position",
    )
    .bind(&site)
    .fetch_all(&api.env.pool)
    .await
    .unwrap();
    eprintln!("ACME order to certificate, then install on the node, in ms: {steps:?}");
    assert!(asked > 10, "too few requests to show anything: {asked}");
    assert_eq!(failed, 0, "requests failed while certificates were replaced");
    let _ = std::fs::remove_file(root);
    api.stop().await;
}

fn clock_now(clock: &ManualClock) -> OffsetDateTime {
    berth_eventstore::clock::Clock::now(clock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_ca_down_a_failing_renewal_is_recorded_retried_warned_and_alerted() {
    let _serial = one_at_a_time().await;
    let peers = Peers::from_env();
    let root = peers.root();
    // The CA is reached through a proxy that can be cut; retries wait an hour, on the clock.
    let pebble: std::net::SocketAddr =
        peers.directory.trim_start_matches("https://").split('/').next().unwrap().parse().unwrap();
    let proxy = Proxy::start(pebble).await;
    let directory = peers.directory.replace(&pebble.to_string(), &proxy.addr.to_string());
    let clock = ManualClock::at(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap());
    let mut settings = node_and_peer_settings(&peers, &directory);
    settings.push(("BERTH_SAGAS__CERTIFICATES__RETRY_BASE_SECS".into(), "3600".into()));
    let api = Api::start_with_clock(&borrowed(&settings), Roles::ALL, clock.clone()).await;
    let owner = api.register("Outage").await;
    let operator = operator_token(&api).await;
    let (site, domain, node, _zone) = site_in_a_zone(&api, &peers, &owner.token, "cert3", "static").await;
    let live = wait_certificate(&api, &owner.token, &site, |c| c["status"] == "active").await;
    let not_after = rfc3339(&live["not_after"]);

    // The CA goes away; renewal comes due: the failure is recorded with its retry.
    proxy.cut();
    clock.set(rfc3339(&live["renew_at"]) + time::Duration::seconds(1));
    let failing = wait_certificate(&api, &owner.token, &site, |c| c["renewal"] == "failing").await;
    assert_eq!(
        (failing["error_code"].as_str(), failing["failures"].as_i64()),
        (Some("ca_unavailable"), Some(1)),
        "{failing}"
    );
    assert_eq!(failing["serial"], live["serial"], "the live certificate stays");
    assert_eq!(failing["warned_days"], 30, "the tenant is to be told at 30 days");
    assert_eq!(rfc3339(&failing["retry_at"]), clock_now(&clock) + time::Duration::hours(1));
    assert_eq!(https(&root, &domain, &node.address, "/").0, 200, "the old certificate still serves");
    let warnings: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'CertificateRenewalWarningDue'")
            .fetch_one(&api.env.pool)
            .await
            .unwrap();
    assert_eq!(warnings, 1);

    // Operators see it among the expiring certificates and the failing renewals; so does Prometheus.
    for list in ["expiring", "failing"] {
        let (_, page) = api.read(&format!("/v1/ops/certificates/{list}"), &operator).await;
        assert!(
            page["items"].as_array().unwrap().iter().any(|c| c["site_id"] == site.as_str()),
            "{list}: {page}"
        );
    }
    let metrics = api.http.get(format!("{}/metrics", api.query)).send().await.unwrap().text().await.unwrap();
    let expiry = format!(
        "berth_certificate_expiry_timestamp_seconds{{site=\"{site}\",domain=\"{domain}\"}} {}",
        not_after.unix_timestamp()
    );
    assert!(metrics.contains(&expiry), "no {expiry} in the metrics");
    assert!(metrics
        .contains(&format!("berth_certificate_renewal_failing{{site=\"{site}\",domain=\"{domain}\"}} 1")));

    // The retry an hour later fails too, and waits twice as long; 14 days before expiry the
    // tenant is told again.
    clock.advance(time::Duration::hours(1) + time::Duration::seconds(1));
    let again =
        wait_certificate(&api, &owner.token, &site, |c| c["failures"] == 2 && c["outcome"] == "failed").await;
    assert_eq!(rfc3339(&again["retry_at"]), clock_now(&clock) + time::Duration::hours(2));
    clock.set(not_after - time::Duration::days(14));
    let warned = wait_certificate(&api, &owner.token, &site, |c| c["warned_days"] == 14).await;
    assert_eq!(warned["failures"], 3);

    // The CA is back: the next retry renews, and the alert's gauge goes back to 0.
    proxy.restore();
    clock.advance(time::Duration::hours(5));
    let renewed = wait_certificate(&api, &owner.token, &site, |c| {
        c["status"] == "active" && c["serial"] != live["serial"]
    })
    .await;
    assert!(renewed["renewal"].is_null() && renewed["failures"] == 0, "{renewed}");
    wait_served(&domain, &node.address, &renewed).await;
    let gauge = format!("berth_certificate_renewal_failing{{site=\"{site}\",domain=\"{domain}\"}} 0");
    let last = std::sync::Mutex::new(String::new());
    let (seen, wanted, client, metrics_url) = (&last, &gauge, &api.http, &format!("{}/metrics", api.query));
    let shown = eventually(Duration::from_secs(10), || async move {
        let metrics = client.get(metrics_url).send().await.unwrap().text().await.unwrap();
        let found = metrics.contains(wanted);
        *seen.lock().unwrap() = metrics;
        found
    })
    .await;
    let metrics = last.into_inner().unwrap();
    let lines: Vec<&str> = metrics.lines().filter(|l| l.contains("berth_certificate")).collect();
    assert!(shown, "no {gauge} in: {lines:?}");

    // The owner was mailed about the failing certificate at 30 and at 14 days, once each, with
    // why renewal failed. (The test clock runs weeks ahead of pebble's, so by Berth's clock the
    // renewed certificate is already close to expiry and may be mailed about too: the keys
    // tell the certificates apart.)
    let keys: Vec<String> = sqlx::query_scalar("SELECT key FROM mail_outbox WHERE key LIKE $1 ORDER BY id")
        .bind(format!("certificate-expiring:{site}:{}:%", not_after.unix_timestamp()))
        .fetch_all(&api.env.pool)
        .await
        .unwrap();
    let prefix = format!("certificate-expiring:{site}:{}", not_after.unix_timestamp());
    assert_eq!(keys, [30, 14].map(|d| format!("{prefix}:{d}")));
    let mails = crate::mail::wait_for_messages(&owner.email, 2, Duration::from_secs(30)).await;
    let subjects: Vec<&str> = mails[..2].iter().map(|m| m["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects, [30, 14].map(|d| format!("The certificate of {domain} expires in {d} days")));
    for mail in &mails[..2] {
        let text = crate::mail::raw_message(mail["id"].as_str().unwrap()).await;
        assert!(text.contains("Renewing it keeps failing"), "{text}");
    }
    let _ = std::fs::remove_file(root);
    api.stop().await;
}
