//! [`DnsProvider`] on PowerDNS's HTTP API (`/api/v1/servers/<id>/zones`): zones are created
//! `Native` with the platform's name servers, record sets replaced or deleted by one PATCH.

use std::time::Duration;

use berth_domain::domain_name::DomainName;
use futures::future::BoxFuture;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Change, DnsError, DnsProvider, ServerSet};

/// Where PowerDNS's API is and how to use it.
#[derive(Debug, Clone)]
pub struct PowerDnsSettings {
    /// `http://127.0.0.1:8081`, without `/api`.
    pub api_url: String,
    /// The `X-API-Key`.
    pub api_key: String,
    /// The server id in the API's paths (`localhost`).
    pub server_id: String,
    /// The name servers new zones are delegated to (`ns1.example.net`).
    pub nameservers: Vec<String>,
}

/// PowerDNS, through its HTTP API.
pub struct PowerDns {
    http: reqwest::Client,
    settings: PowerDnsSettings,
}

impl PowerDns {
    /// A client for the API in `settings`.
    pub fn new(settings: PowerDnsSettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("a plain HTTP client builds");
        Self { http, settings }
    }

    fn url(&self, path: &str) -> String {
        let base = self.settings.api_url.trim_end_matches('/');
        format!("{base}/api/v1/servers/{}{path}", self.settings.server_id)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<(StatusCode, String), DnsError> {
        let mut request =
            self.http.request(method, self.url(path)).header("X-API-Key", &self.settings.api_key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| DnsError::Unavailable(e.to_string()))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_server_error() {
            return Err(DnsError::Unavailable(format!("{status}: {}", short(&text))));
        }
        Ok((status, text))
    }
}

/// A zone's id in PowerDNS: its name, absolute.
fn zone_id(zone: &DomainName) -> String {
    format!("{zone}.")
}

fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

#[derive(Deserialize)]
struct ZoneBody {
    rrsets: Vec<RrSet>,
}

#[derive(Deserialize, Serialize)]
struct RrSet {
    name: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: u32,
    records: Vec<RecordBody>,
}

#[derive(Deserialize, Serialize)]
struct RecordBody {
    content: String,
    disabled: bool,
}

impl DnsProvider for PowerDns {
    fn record_sets<'a>(
        &'a self,
        zone: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<Vec<ServerSet>>, DnsError>> {
        Box::pin(async move {
            let (status, text) = self.send(Method::GET, &format!("/zones/{}", zone_id(zone)), None).await?;
            // PowerDNS answers an unknown zone with 404 or, in older versions, 422.
            if status == StatusCode::NOT_FOUND || status == StatusCode::UNPROCESSABLE_ENTITY {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(DnsError::Refused(format!("{status}: {}", short(&text))));
            }
            let body: ZoneBody = serde_json::from_str(&text)
                .map_err(|e| DnsError::Unavailable(format!("unreadable zone: {e}")))?;
            Ok(Some(
                body.rrsets
                    .into_iter()
                    .map(|set| ServerSet {
                        name: set.name.trim_end_matches('.').to_ascii_lowercase(),
                        rtype: set.rtype,
                        ttl: set.ttl,
                        values: set.records.into_iter().filter(|r| !r.disabled).map(|r| r.content).collect(),
                    })
                    .collect(),
            ))
        })
    }

    fn create_zone<'a>(&'a self, zone: &'a DomainName) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async move {
            let nameservers: Vec<String> =
                self.settings.nameservers.iter().map(|n| format!("{}.", n.trim_end_matches('.'))).collect();
            let body = json!({"name": zone_id(zone), "kind": "Native", "nameservers": nameservers,
                "soa_edit_api": "DEFAULT"});
            let (status, text) = self.send(Method::POST, "/zones", Some(body)).await?;
            match status {
                s if s.is_success() || s == StatusCode::CONFLICT => Ok(()),
                s => Err(DnsError::Refused(format!("{s}: {}", short(&text)))),
            }
        })
    }

    fn delete_zone<'a>(&'a self, zone: &'a DomainName) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async move {
            let (status, text) =
                self.send(Method::DELETE, &format!("/zones/{}", zone_id(zone)), None).await?;
            match status {
                s if s.is_success()
                    || s == StatusCode::NOT_FOUND
                    || s == StatusCode::UNPROCESSABLE_ENTITY =>
                {
                    Ok(())
                }
                s => Err(DnsError::Refused(format!("{s}: {}", short(&text)))),
            }
        })
    }

    fn apply<'a>(
        &'a self,
        zone: &'a DomainName,
        changes: &'a [Change],
    ) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async move {
            if changes.is_empty() {
                return Ok(());
            }
            let rrsets: Vec<serde_json::Value> = changes
                .iter()
                .map(|change| match change {
                    Change::Replace(set) => json!({
                        "name": format!("{}.", set.name()), "type": set.rtype().as_str(), "ttl": set.ttl().seconds(),
                        "changetype": "REPLACE",
                        "records": set.values().iter().map(|v| json!({"content": v.as_str(), "disabled": false})).collect::<Vec<_>>(),
                    }),
                    Change::Delete { name, rtype } => json!({"name": format!("{name}."), "type": rtype, "changetype": "DELETE"}),
                })
                .collect();
            let path = format!("/zones/{}", zone_id(zone));
            let (status, text) = self.send(Method::PATCH, &path, Some(json!({ "rrsets": rrsets }))).await?;
            if status.is_success() {
                Ok(())
            } else {
                Err(DnsError::Refused(format!("{status}: {}", short(&text))))
            }
        })
    }
}

/// What runs when no DNS server is configured: every call says so.
pub struct NoDnsServer;

impl DnsProvider for NoDnsServer {
    fn record_sets<'a>(
        &'a self,
        _: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<Vec<ServerSet>>, DnsError>> {
        Box::pin(async { Err(DnsError::NotConfigured) })
    }
    fn create_zone<'a>(&'a self, _: &'a DomainName) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async { Err(DnsError::NotConfigured) })
    }
    fn delete_zone<'a>(&'a self, _: &'a DomainName) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async { Err(DnsError::NotConfigured) })
    }
    fn apply<'a>(&'a self, _: &'a DomainName, _: &'a [Change]) -> BoxFuture<'a, Result<(), DnsError>> {
        Box::pin(async { Err(DnsError::NotConfigured) })
    }
}
