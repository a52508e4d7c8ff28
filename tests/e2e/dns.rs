//! DNS zones end to end: bad input refused naming the field (and another tenant's zone as
//! unknown), and against PowerDNS and a namespaced node, a wildcard certificate by DNS-01 with
//! the records Berth wrote answered by `dig`, a site whose name points away from its node
//! certified by DNS-01 too, and records changed behind Berth's back put back.

use std::time::Duration;

use berth::app::Roles;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::{problem, Api};
use crate::certs_harness::{
    borrowed, create_zone, https, node_and_peer_settings, set_records, unique_zone, wait_certificate,
    wait_published, wait_published_from, wait_served, Peers,
};
use crate::nodes_harness::{
    add_node, create_site, one_at_a_time, operator_token, wait_for, wait_for_status, LocalNode,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_zones_and_records_are_refused_naming_the_field() {
    let api = Api::start().await;
    let owner = api.register("Zones").await;
    let other = api.register("Other Zones").await;
    let t = Some(owner.token.as_str());
    let response = api.send(Method::POST, "/v1/zones", t, Some(json!({"name": "acme.zones.test"}))).await;
    assert_eq!(response.status(), 202);
    let zone = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let records = format!("/v1/zones/{zone}/records");
    let before = api.events().await;

    // Malformed zone names and record sets, each naming its field; nothing is appended.
    for name in ["not a domain", "localhost", "-bad.test", "a..b.test"] {
        let answer =
            problem(api.send(Method::POST, "/v1/zones", t, Some(json!({"name": name}))).await, 400).await;
        assert_eq!(answer["field"], "name", "{name}: {answer}");
    }
    let outside = json!({"name": "www.elsewhere.test.", "type": "A", "ttl": 300, "records": ["192.0.2.1"]});
    let answer = problem(api.send(Method::POST, &records, t, Some(outside)).await, 400).await;
    insta::assert_json_snapshot!("record_outside_its_zone", answer);
    for (body, field) in [
        (json!({"name": "www", "type": "A", "ttl": 300, "records": ["192.0.2.300"]}), "records[0]"),
        (
            json!({"name": "@", "type": "MX", "ttl": 300, "records": ["10 mx.acme.zones.test.", "70000 mx2.acme.zones.test."]}),
            "records[1]",
        ),
        (
            json!({"name": "@", "type": "CAA", "ttl": 300, "records": ["0 issuer letsencrypt.org"]}),
            "records[0]",
        ),
        (
            json!({"name": "_sip._tcp", "type": "SRV", "ttl": 300, "records": ["10 5 sip.acme.zones.test."]}),
            "records[0]",
        ),
        (json!({"name": "www", "type": "A", "ttl": 5, "records": ["192.0.2.1"]}), "ttl"),
        (json!({"name": "www", "type": "NS", "ttl": 300, "records": ["ns.example."]}), "type"),
        (json!({"name": "@", "type": "CNAME", "ttl": 300, "records": ["elsewhere.test."]}), "name"),
        (json!({"name": "a b", "type": "A", "ttl": 300, "records": ["192.0.2.1"]}), "name"),
        (json!({"name": "www", "type": "A", "ttl": 300, "records": []}), "records"),
        (json!({"name": "www", "type": "A", "ttl": 300}), "records"),
    ] {
        let answer = problem(api.send(Method::POST, &records, t, Some(body.clone())).await, 400).await;
        assert_eq!(answer["field"], field, "{body}: {answer}");
    }
    assert_eq!(api.events().await, before, "refused input appended something");

    // Well-formed sets of every type are taken; a CNAME beside other data breaks a rule (422).
    for (name, rtype, values) in [
        ("www", "A", vec!["192.0.2.10"]),
        ("www", "AAAA", vec!["2001:db8::10"]),
        ("@", "MX", vec!["10 mx.acme.zones.test.", "20 mx2.acme.zones.test."]),
        ("@", "TXT", vec!["v=spf1 -all"]),
        ("_sip._tcp", "SRV", vec!["10 5 5060 sip.acme.zones.test."]),
        ("@", "CAA", vec!["0 issue \"letsencrypt.org\""]),
        ("blog", "CNAME", vec!["www.acme.zones.test."]),
    ] {
        set_records(&api, &owner.token, &zone, name, rtype, &values).await;
    }
    let beside = json!({"name": "blog", "type": "TXT", "ttl": 300, "records": ["hello"]});
    let answer = problem(api.send(Method::POST, &records, t, Some(beside)).await, 422).await;
    assert_eq!(answer["type"], "https://berth.dev/problems/cname-conflict");
    let (_, view) = api.read(&format!("/v1/zones/{zone}?min_version=8"), &owner.token).await;
    let sets: Vec<(String, String)> = view["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_owned(), r["type"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(sets.len(), 7, "{view}");
    assert!(sets.contains(&("_sip._tcp.acme.zones.test".to_owned(), "SRV".to_owned())));

    // Another tenant's zone is as unknown as a missing one, for reads and changes alike.
    let o = Some(other.token.as_str());
    let set = json!({"name": "www", "type": "A", "ttl": 300, "records": ["203.0.113.1"]});
    problem(api.send(Method::POST, &records, o, Some(set)).await, 404).await;
    problem(api.send(Method::DELETE, &format!("/v1/zones/{zone}"), o, None).await, 404).await;
    problem(api.send(Method::DELETE, &format!("{records}/www/A"), o, None).await, 404).await;
    assert_eq!(api.read(&format!("/v1/zones/{zone}"), &other.token).await.0, 404);
    assert_eq!(api.read("/v1/zones", &other.token).await.1["items"], json!([]));
    // A zone's name is the platform's once: another tenant cannot take it.
    let taken = api.send(Method::POST, "/v1/zones", o, Some(json!({"name": "acme.zones.test"}))).await;
    assert_eq!(problem(taken, 409).await["type"], "https://berth.dev/problems/taken");
    // Removing: a set that is not there is 404; one that is goes.
    problem(api.send(Method::DELETE, &format!("{records}/nothing/A"), t, None).await, 404).await;
    assert_eq!(api.send(Method::DELETE, &format!("{records}/www/AAAA"), t, None).await.status(), 202);
    api.stop().await;
}

/// A site in a zone Berth serves gets its address record; a wildcard certificate is issued by
/// DNS-01 through PowerDNS and served for any name below the site's domain; records changed on
/// PowerDNS behind Berth's back are reported and put back, and strays removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wildcard_by_dns01_is_served_and_drifted_records_are_put_back() {
    let _serial = one_at_a_time().await;
    let peers = Peers::from_env();
    let root = peers.root();
    let node = LocalNode::up("dns1").await;
    let settings = node_and_peer_settings(&peers, &peers.directory);
    let api = Api::start_roles(&borrowed(&settings), Roles::ALL).await;
    let operator = operator_token(&api).await;
    add_node(&api, &operator, &node, (2, 4096, 40)).await;
    let owner = api.register("Wildcards").await;
    let zone_name = unique_zone("w");
    let _cleanup = peers.clean_up(&zone_name);
    let zone = create_zone(&api, &owner.token, &zone_name).await;
    set_records(&api, &owner.token, &zone, "www", "A", &["192.0.2.10"]).await;
    set_records(&api, &owner.token, &zone, "@", "MX", &["10 mx.elsewhere.test."]).await;
    set_records(&api, &owner.token, &zone, "@", "TXT", &["v=spf1 -all"]).await;

    // The site's address record is made by Berth, in the tenant's zone.
    let domain = format!("shop.{zone_name}");
    let site = create_site(&api, &owner.token, &domain, "static", None).await;
    assert_eq!(wait_for_status(&api, &owner.token, &site, &["active", "failed"]).await["status"], "active");
    wait_published(&api, &owner.token, &zone).await;
    assert_eq!(peers.dig(&domain, "A"), [node.address.as_str()]);
    assert_eq!(peers.dig(&format!("www.{zone_name}"), "A"), ["192.0.2.10"]);
    assert_eq!(peers.dig(&zone_name, "MX"), ["10 mx.elsewhere.test."]);
    assert_eq!(peers.dig(&zone_name, "TXT"), ["\"v=spf1 -all\""]);

    // A wildcard needs DNS-01; the challenge records go through the zone and are gone after.
    let started = std::time::Instant::now();
    let asked = api
        .send(
            Method::POST,
            &format!("/v1/sites/{site}/certificate"),
            Some(&owner.token),
            Some(json!({"wildcard": true})),
        )
        .await;
    assert_eq!(asked.status(), 202, "{}", asked.text().await.unwrap());
    let certificate =
        wait_certificate(&api, &owner.token, &site, |c| c["status"] == "active" && c["wildcard"] == true)
            .await;
    eprintln!("wildcard certificate by DNS-01 issued and installed in {:?}", started.elapsed());
    assert_eq!(certificate["method"], "dns-01", "{certificate}");
    let mut covers: Vec<String> = serde_json::from_value(certificate["covers"].clone()).unwrap();
    covers.sort();
    assert_eq!(covers, [format!("*.{domain}"), domain.clone()], "{certificate}");
    let any = format!("anything.{domain}");
    wait_served(&any, &node.address, &certificate).await;
    assert_eq!(
        https(&root, &any, &node.address, "/").0,
        200,
        "a name below the site is served under the wildcard"
    );
    assert_eq!(https(&root, &domain, &node.address, "/").0, 200);
    // The challenge records go (their removal may not be in the zone's view yet).
    let challenge = format!("_acme-challenge.{domain}");
    wait_for(Duration::from_secs(30), || {
        let gone = peers.dig(&challenge, "TXT").is_empty();
        async move { gone.then_some(()) }
    })
    .await;
    wait_published(&api, &owner.token, &zone).await;

    // A site whose name the tenant points elsewhere is still certified, by DNS-01 through its
    // zone: the CA cannot reach the node by HTTP-01 for a name that resolves away from it.
    let pointed = set_records(&api, &owner.token, &zone, "shop", "A", &["192.0.2.99"]).await;
    wait_published_from(&api, &owner.token, &zone, pointed).await;
    assert_eq!(peers.dig(&domain, "A"), ["192.0.2.99"]);
    let asked = api
        .send(Method::POST, &format!("/v1/sites/{site}/certificate"), Some(&owner.token), Some(json!({})))
        .await;
    assert_eq!(asked.status(), 202, "{}", asked.text().await.unwrap());
    let elsewhere = wait_certificate(&api, &owner.token, &site, |c| {
        c["status"] == "active" && c["serial"] != certificate["serial"]
    })
    .await;
    assert_eq!(
        (elsewhere["method"].as_str(), elsewhere["wildcard"].as_bool()),
        (Some("dns-01"), Some(false)),
        "{elsewhere}"
    );
    assert_eq!(elsewhere["covers"], json!([domain.clone()]));
    assert_eq!(https(&root, &domain, &node.address, "/").0, 200);
    wait_served(&domain, &node.address, &elsewhere).await;
    // Its challenge records go too, before the drift below: publishing their removal would put
    // the zone back as a change, not as drift.
    wait_for(Duration::from_secs(30), || {
        let gone = peers.dig(&challenge, "TXT").is_empty();
        async move { gone.then_some(()) }
    })
    .await;
    wait_published(&api, &owner.token, &zone).await;

    // Drift: a record changed and a stray added on PowerDNS are reported and put back.
    // Both in one request, so the drift check sees both or neither.
    let (www, stray) = (format!("www.{zone_name}"), format!("stray.{zone_name}"));
    peers
        .pdns_set_all(
            &zone_name,
            &[(www.as_str(), "A", &["203.0.113.66"]), (stray.as_str(), "A", &["203.0.113.67"])],
        )
        .await;
    assert_eq!(peers.dig(&format!("www.{zone_name}"), "A"), ["203.0.113.66"]);
    let view = wait_for(Duration::from_secs(60), || async {
        let (_, view) = api.read(&format!("/v1/zones/{zone}"), &owner.token).await;
        let back = peers.dig(&format!("www.{zone_name}"), "A") == ["192.0.2.10"];
        let stray_gone = peers.dig(&format!("stray.{zone_name}"), "A").is_empty();
        (back && stray_gone && view["drift_found"].as_i64().unwrap_or(0) >= 1).then_some(view)
    })
    .await;
    // The repair's publication is recorded once the server holds it.
    let published = wait_published_from(&api, &owner.token, &zone, view["version"].as_i64().unwrap()).await;
    assert!(published["published_revision"].as_i64() >= view["revision"].as_i64(), "{published}");
    let drift: Vec<(Value,)> =
        sqlx::query_as("SELECT payload FROM events WHERE event_type = 'ZoneDriftFound'")
            .fetch_all(&api.env.pool)
            .await
            .unwrap();
    let found = serde_json::to_string(&drift).unwrap();
    assert!(found.contains("203.0.113.66") && found.contains("203.0.113.67"), "{found}");

    // Deleting the zone takes it off PowerDNS.
    assert_eq!(
        api.send(Method::DELETE, &format!("/v1/zones/{zone}"), Some(&owner.token), None).await.status(),
        202
    );
    wait_for(Duration::from_secs(30), || async {
        (peers.pdns(Method::GET, &format!("/zones/{zone_name}."), None).await == 404).then_some(())
    })
    .await;
    let _ = std::fs::remove_file(root);
    api.stop().await;
}
