//! DNS: the zones Berth serves, on an authoritative server behind [`DnsProvider`] (PowerDNS's
//! HTTP API, [`powerdns`]), and lookups through a resolver behind [`resolver::Resolver`].
//!
//! The [`zones`] saga puts every change of a zone on the server; the [`drift`] worker compares
//! the server with the zones now and then and reports what differs, which the saga then puts
//! back. Both compare through [`plan`], which reads the server's values through the domain's
//! own parsers, so that the same records in another spelling are not drift.

pub mod drift;
pub mod powerdns;
pub mod resolver;
pub mod zones;

use berth_domain::domain_name::DomainName;
use berth_domain::zone::{Drift, RecordName, RecordSet, RecordType, RecordValue, Zone};
use futures::future::BoxFuture;

/// A record set as the DNS server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSet {
    /// Its owner name, without the final dot.
    pub name: String,
    /// Its type, as the server names it (`A`, `SOA`).
    pub rtype: String,
    /// Its TTL.
    pub ttl: u32,
    /// Its values, as the server spells them.
    pub values: Vec<String>,
}

/// A change to put on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Create or replace a set.
    Replace(RecordSet),
    /// Remove the set of this name and type.
    Delete {
        /// Its owner name.
        name: String,
        /// Its type.
        rtype: String,
    },
}

/// Why the DNS server could not be worked with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// No DNS server is configured (`dns.api_url` is empty).
    #[error("no DNS server is configured (dns.api_url)")]
    NotConfigured,
    /// The server could not be reached, or failed (worth trying again).
    #[error("the DNS server is unavailable: {0}")]
    Unavailable(String),
    /// The server refused the request (trying again will not help).
    #[error("the DNS server refused: {0}")]
    Refused(String),
}

/// An authoritative DNS server Berth puts zones on.
pub trait DnsProvider: Send + Sync + 'static {
    /// Every record set of `zone`; `None` when the server does not have the zone.
    fn record_sets<'a>(
        &'a self,
        zone: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<Vec<ServerSet>>, DnsError>>;

    /// Creates `zone` (with the platform's name servers); an existing zone is no error.
    fn create_zone<'a>(&'a self, zone: &'a DomainName) -> BoxFuture<'a, Result<(), DnsError>>;

    /// Removes `zone`; a missing zone is no error.
    fn delete_zone<'a>(&'a self, zone: &'a DomainName) -> BoxFuture<'a, Result<(), DnsError>>;

    /// Applies `changes` to `zone`, all or none.
    fn apply<'a>(
        &'a self,
        zone: &'a DomainName,
        changes: &'a [Change],
    ) -> BoxFuture<'a, Result<(), DnsError>>;
}

/// What `zone` needs on a server holding `server`, and what of that is a difference someone
/// else made: the changes to put the server right, and the differences found. Only the types
/// tenants manage are compared; SOA and NS belong to the server.
pub fn plan(zone: &Zone, server: &[ServerSet]) -> (Vec<Change>, Vec<Drift>) {
    let Some(zone_name) = zone.name() else { return (Vec::new(), Vec::new()) };
    let managed = |set: &ServerSet| RecordType::parse(&set.rtype).ok();
    let mut changes = Vec::new();
    let mut drift = Vec::new();
    for wanted in zone.record_sets() {
        let found =
            server.iter().find(|s| s.name == wanted.name().as_str() && managed(s) == Some(wanted.rtype()));
        let (found_values, all_read) =
            found.map_or((Vec::new(), true), |s| read_values(wanted.rtype(), &s.values));
        let same = all_read
            && found.is_some_and(|s| s.ttl == wanted.ttl().seconds())
            && found_values == wanted.values();
        if !same {
            changes.push(Change::Replace(wanted.clone()));
            drift.push(Drift {
                name: wanted.name().clone(),
                rtype: wanted.rtype(),
                expected: wanted.values().to_vec(),
                found: found_values,
            });
        }
    }
    for stray in server {
        let Some(rtype) = managed(stray) else { continue };
        let Ok(name) = RecordName::parse(&format!("{}.", stray.name), zone_name) else { continue };
        if zone.record_set(&name, rtype).is_none() {
            changes.push(Change::Delete { name: stray.name.clone(), rtype: stray.rtype.clone() });
            drift.push(Drift {
                name,
                rtype,
                expected: Vec::new(),
                found: read_values(rtype, &stray.values).0,
            });
        }
    }
    (changes, drift)
}

/// The server's values in canonical form, sorted, and whether every one of them could be read
/// (one that cannot is a difference whatever the rest hold).
fn read_values(rtype: RecordType, values: &[String]) -> (Vec<RecordValue>, bool) {
    let mut read: Vec<RecordValue> =
        values.iter().filter_map(|v| RecordValue::parse(rtype, v).ok()).collect();
    let all = read.len() == values.len();
    read.sort();
    read.dedup();
    (read, all)
}
