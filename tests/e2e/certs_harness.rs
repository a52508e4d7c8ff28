//! The peers the certificate and DNS tests use: PowerDNS (its API, and `dig` against its DNS
//! port) and pebble (as the ACME CA, its issuing root fetched for `curl --cacert`), as
//! `deploy/peers` runs them (`eval "$(deploy/dev env)"` exports where they are). Every zone a
//! test makes has a name of its own, since the peers are shared with other checkouts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::api::Api;
use crate::common::eventually;
use crate::nodes_harness::wait_for;

/// Where the peers are.
pub struct Peers {
    pub pdns_api: String,
    pub pdns_key: String,
    pub pdns_dns: String,
    pub directory: String,
    pub directory_ca: String,
    pub root_url: String,
    pub http: reqwest::Client,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start the peers (deploy/peers up) and eval \"$(deploy/dev env)\"")
    })
}

impl Peers {
    pub fn from_env() -> Self {
        Self {
            pdns_api: var("BERTH_DEV_PDNS_API_URL"),
            pdns_key: var("BERTH_DEV_PDNS_API_KEY"),
            pdns_dns: var("BERTH_DEV_PDNS_DNS"),
            directory: var("BERTH_DEV_ACME_DIRECTORY"),
            directory_ca: var("BERTH_DEV_ACME_CA_FILE"),
            root_url: var("BERTH_DEV_PEBBLE_ROOT_URL"),
            http: reqwest::Client::new(),
        }
    }

    /// Berth's settings for these peers, with the ACME directory at `directory` (pebble's own,
    /// or a proxy in front of it), quick retries and quick looks.
    pub fn settings(&self, directory: &str) -> Vec<(String, String)> {
        [
            ("BERTH_DNS__API_URL", self.pdns_api.as_str()),
            ("BERTH_DNS__API_KEY", self.pdns_key.as_str()),
            ("BERTH_DNS__RESOLVER", self.pdns_dns.as_str()),
            ("BERTH_DNS__NAMESERVERS", "ns1.berth.test"),
            ("BERTH_SAGAS__CERTIFICATES__DIRECTORY", directory),
            ("BERTH_SAGAS__CERTIFICATES__CA_FILE", self.directory_ca.as_str()),
            ("BERTH_SAGAS__CERTIFICATES__AUTO_ISSUE", "true"),
            ("BERTH_SAGAS__CERTIFICATES__RETRY_BASE_SECS", "2"),
            ("BERTH_SAGAS__DOMAINS__CHECK_INTERVAL_SECS", "1"),
            ("BERTH_SAGAS__DOMAINS__CHECK_MAX_INTERVAL_SECS", "2"),
            ("BERTH_SAGAS__DNS_DRIFT__INTERVAL_SECS", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Pebble's issuing root (new on every start of pebble), in a file of its own.
    pub fn root(&self) -> PathBuf {
        let path = std::env::temp_dir().join(format!("berth-pebble-root-{}.pem", uuid::Uuid::now_v7()));
        let output = Command::new("curl")
            .args(["-sS", "--fail", "--cacert", &self.directory_ca, "-o"])
            .arg(&path)
            .arg(&self.root_url)
            .output()
            .expect("curl");
        assert!(
            output.status.success(),
            "cannot fetch pebble's root: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        path
    }

    /// A request to PowerDNS's API (as the zone's owner would make at their own DNS provider,
    /// or someone changing records behind Berth's back).
    pub async fn pdns(&self, method: Method, path: &str, body: Option<Value>) -> u16 {
        let url = format!("{}/api/v1/servers/localhost{path}", self.pdns_api);
        let mut request = self.http.request(method, url).header("X-API-Key", &self.pdns_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap().status().as_u16()
    }

    /// Replaces one record set on PowerDNS directly.
    pub async fn pdns_set(&self, zone: &str, name: &str, rtype: &str, values: &[&str]) {
        self.pdns_set_all(zone, &[(name, rtype, values)]).await;
    }

    /// Replaces several record sets on PowerDNS in one request (all at once, or none).
    pub async fn pdns_set_all(&self, zone: &str, sets: &[(&str, &str, &[&str])]) {
        let rrsets: Vec<Value> = sets
            .iter()
            .map(|(name, rtype, values)| {
                let records: Vec<Value> =
                    values.iter().map(|v| json!({"content": v, "disabled": false})).collect();
                json!({"name": format!("{name}."), "type": rtype, "ttl": 60, "changetype": "REPLACE",
                    "records": records})
            })
            .collect();
        let body = json!({ "rrsets": rrsets });
        assert_eq!(self.pdns(Method::PATCH, &format!("/zones/{zone}."), Some(body)).await, 204);
    }

    /// A zone on PowerDNS that Berth does not manage: a customer's own DNS.
    pub async fn foreign_zone(&self, zone: &str) {
        let body =
            json!({"name": format!("{zone}."), "kind": "Native", "nameservers": ["ns1.elsewhere.test."]});
        assert_eq!(self.pdns(Method::POST, "/zones", Some(body)).await, 201);
    }

    /// What PowerDNS answers for `name` and `rtype`, through `dig`.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let (host, port) = self.pdns_dns.rsplit_once(':').unwrap();
        let output = Command::new("dig")
            .args([&format!("@{host}"), "-p", port, "+short", "+time=2", "+tries=2", name, rtype])
            .output()
            .expect("dig");
        let mut lines: Vec<String> =
            String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
        lines.sort();
        lines
    }
}

/// Removes a zone from PowerDNS when dropped, whatever the test left: the peers are shared,
/// and a failed test must not leave its zones behind.
pub struct ZoneCleanup {
    url: String,
    key: String,
}

impl Peers {
    /// Removes `zone` from PowerDNS once the returned guard is dropped.
    pub fn clean_up(&self, zone: &str) -> ZoneCleanup {
        ZoneCleanup {
            url: format!("{}/api/v1/servers/localhost/zones/{zone}.", self.pdns_api),
            key: self.pdns_key.clone(),
        }
    }
}

impl Drop for ZoneCleanup {
    fn drop(&mut self) {
        let _ = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-X",
                "DELETE",
                "-H",
                &format!("X-API-Key: {}", self.key),
                &self.url,
            ])
            .output();
    }
}

/// A zone name no other run uses.
pub fn unique_zone(prefix: &str) -> String {
    let tag = uuid::Uuid::now_v7().simple().to_string();
    format!("{prefix}{}.test", &tag[tag.len() - 10..])
}

/// An HTTPS request to `address` for `domain` (`curl --resolve`), trusting only `root`: its
/// status and the answer's headers, lower-cased.
pub fn https(root: &Path, domain: &str, address: &str, path: &str) -> (u16, String) {
    curl(&[
        "--cacert",
        &root.display().to_string(),
        "--resolve",
        &format!("{domain}:443:{address}"),
        &format!("https://{domain}{path}"),
    ])
}

/// A plain HTTP request to `address` for `domain`.
pub fn http(domain: &str, address: &str, path: &str) -> (u16, String) {
    curl(&["--resolve", &format!("{domain}:80:{address}"), &format!("http://{domain}{path}")])
}

fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-", "--max-time", "10", "-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&output.stdout).to_lowercase();
    let status = text.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    (status, text)
}

/// The serial of the certificate `address` serves for `domain`.
pub fn served_serial(domain: &str, address: &str) -> String {
    let script = format!(
        "openssl s_client -connect {address}:443 -servername {domain} </dev/null 2>/dev/null | openssl x509 -noout -serial"
    );
    let output = Command::new("bash").arg("-c").arg(script).output().expect("openssl");
    String::from_utf8_lossy(&output.stdout).trim().trim_start_matches("serial=").to_owned()
}

/// Waits until the node serves the certificate `view` names for `domain` (nginx hands a reload
/// over to new workers a moment after the node verb returns).
pub async fn wait_served(domain: &str, address: &str, view: &Value) {
    // Serials compare as numbers: the view keeps DER's leading zero byte of a serial whose top
    // bit is set, openssl prints the number without it.
    let number = |serial: &str| serial.trim_start_matches('0').to_ascii_uppercase();
    let wanted = number(view["serial"].as_str().expect("the view names a serial"));
    let last = std::sync::Mutex::new(String::new());
    let (seen, wanted_ref) = (&last, &wanted);
    let number = &number;
    let served = eventually(Duration::from_secs(20), || async move {
        let serial = number(&served_serial(domain, address));
        let same = &serial == wanted_ref;
        *seen.lock().unwrap() = serial;
        same
    })
    .await;
    assert!(served, "{domain} is served with {}, not {wanted}", last.into_inner().unwrap());
}

/// Creates a zone through the API; its id once the DNS server serves it.
pub async fn create_zone(api: &Api, token: &str, name: &str) -> String {
    let response = api.send(Method::POST, "/v1/zones", Some(token), Some(json!({"name": name}))).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let accepted: Value = response.json().await.unwrap();
    let id = accepted["id"].as_str().unwrap().to_owned();
    wait_published(api, token, &id).await;
    id
}

/// Sets a record set through the API; the version it reached.
pub async fn set_records(
    api: &Api,
    token: &str,
    zone: &str,
    name: &str,
    rtype: &str,
    values: &[&str],
) -> i64 {
    let body = json!({"name": name, "type": rtype, "ttl": 300, "records": values});
    let response =
        api.send(Method::POST, &format!("/v1/zones/{zone}/records"), Some(token), Some(body)).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    response.json::<Value>().await.unwrap()["version"].as_i64().unwrap()
}

/// Waits until the DNS server holds the zone as it is (every change published); its detail.
pub async fn wait_published(api: &Api, token: &str, zone: &str) -> Value {
    wait_published_from(api, token, zone, 0).await
}

/// Waits until the DNS server holds the zone as it is from `version` on (a change the view may
/// not have taken in yet included); its detail.
pub async fn wait_published_from(api: &Api, token: &str, zone: &str, version: i64) -> Value {
    wait_for(Duration::from_secs(60), || async {
        let (status, view) = api.read(&format!("/v1/zones/{zone}?min_version={version}"), token).await;
        assert!(view["last_error"].is_null(), "the DNS server refused the zone: {view}");
        (status == 200 && view["published_revision"] == view["revision"]).then_some(view)
    })
    .await
}

/// Waits until the site's certificate view passes `check`; the view.
pub async fn wait_certificate(api: &Api, token: &str, site: &str, check: impl Fn(&Value) -> bool) -> Value {
    let last = std::sync::Mutex::new((0, Value::Null));
    let (check, seen) = (&check, &last);
    let there = eventually(Duration::from_secs(120), || async move {
        let (status, view) = api.read(&format!("/v1/certificates/{site}"), token).await;
        let passed = status == 200 && check(&view);
        *seen.lock().unwrap() = (status, view);
        passed
    })
    .await;
    let (status, view) = last.into_inner().unwrap();
    assert!(there, "the certificate did not get there; it is {status}: {view}");
    view
}

/// The settings of a test with nodes and these peers: the node tests' own, then the peers'.
pub fn node_and_peer_settings(peers: &Peers, directory: &str) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> =
        crate::nodes_harness::NODE_SETTINGS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    all.extend(peers.settings(directory));
    all
}

/// Borrows owned settings as the API harness takes them.
pub fn borrowed(settings: &[(String, String)]) -> Vec<(&str, &str)> {
    settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
