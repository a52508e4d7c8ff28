//! What the node scripts answer on success, one type per verb (see `deploy/node/README.md`).
//! Each is read from the script's one JSON line with serde; the `ok` member, common to every
//! answer, is read apart by [`super::scripts`].

use berth_domain::domain_name::DomainName;
use berth_domain::ids::SiteId;
use berth_domain::php::{PhpVersion, SiteKind};
use serde::Deserialize;

/// The answer to `version`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VersionReply {
    /// The scripts version the node runs.
    pub version: String,
}

/// The answer to `bootstrap`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BootstrapReply {
    /// The scripts version the node runs now.
    pub version: String,
    /// The PHP versions installed on the node, oldest first. Plain strings: a node may carry
    /// versions Berth does not offer.
    pub php: Vec<String>,
    /// The services, as bootstrap left them.
    pub services: Services,
}

/// The answer to `site-create`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SiteCreated {
    /// The site.
    pub site: SiteId,
    /// The Linux user (and group) its code runs as.
    pub user: String,
    /// Its home directory on the node.
    pub root: String,
    /// What runs it.
    pub kind: SiteKind,
    /// The host name it answers for.
    pub domain: DomainName,
    /// Its PHP version; `None` for static sites.
    pub php: Option<PhpVersion>,
    /// Its MariaDB database; `None` unless WordPress.
    pub database: Option<String>,
    /// Whether this call created it (`false` on a repeat).
    pub created: bool,
}

/// The answer to `site-delete`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SiteDeleted {
    /// The site.
    pub site: SiteId,
    /// Whether anything of it was there to remove.
    pub existed: bool,
}

/// The answer to `site-suspend` and `site-resume`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SiteToggled {
    /// The site.
    pub site: SiteId,
    /// Whether it is suspended now.
    pub suspended: bool,
    /// Whether this call changed that.
    pub changed: bool,
}

/// The answer to `site-aliases`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AliasesSet {
    /// The site.
    pub site: SiteId,
    /// The aliases it answers for now.
    pub aliases: Vec<DomainName>,
    /// Whether this call changed them.
    pub changed: bool,
}

/// The answer to `challenge-put`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChallengeWritten {
    /// The token.
    pub token: String,
    /// Whether this call wrote it (`false`: it was there already).
    pub written: bool,
}

/// The answer to `challenge-remove`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChallengeRemoved {
    /// The token.
    pub token: String,
    /// Whether there was an answer to remove.
    pub existed: bool,
}

/// The answer to `site-tls`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TlsInstalled {
    /// The site.
    pub site: SiteId,
    /// The installed certificate's serial, as openssl prints it (hexadecimal).
    pub serial: String,
    /// When it expires (RFC 3339).
    pub not_after: String,
    /// Whether this call changed what the node serves.
    pub changed: bool,
}

/// The answer to `health`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HealthReport {
    /// Load average over one minute.
    pub load1: f64,
    /// Load average over five minutes.
    pub load5: f64,
    /// CPUs the node has.
    pub cpus: u32,
    /// Memory in MiB.
    pub memory_total_mb: u64,
    /// Memory available to new work, in MiB.
    pub memory_available_mb: u64,
    /// Size of the filesystem holding the sites, in MiB.
    pub disk_total_mb: u64,
    /// Free space on it, in MiB.
    pub disk_free_mb: u64,
    /// The services.
    pub services: Services,
    /// Sites on the node.
    pub sites: u64,
    /// The scripts version the node runs.
    pub version: String,
}

/// The services a node runs for its sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Services {
    /// The web server.
    pub nginx: ServiceState,
    /// Every installed php-fpm (down if any one is, or none is installed).
    #[serde(rename = "php-fpm")]
    pub php_fpm: ServiceState,
    /// The database server.
    pub mariadb: ServiceState,
}

impl Services {
    /// The names of the services that are down, as the node spells them.
    pub fn down(&self) -> Vec<&'static str> {
        [("nginx", self.nginx), ("php-fpm", self.php_fpm), ("mariadb", self.mariadb)]
            .into_iter()
            .filter(|(_, state)| *state == ServiceState::Down)
            .map(|(name, _)| name)
            .collect()
    }
}

/// Whether a service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    /// Running and answering.
    Up,
    /// Not running, or not answering.
    Down,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_created_answer_is_read_into_its_type() {
        let line = r#"{"ok":true,"site":"0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d","user":"b9b3c5e6f7a8b9c0d0000",
            "root":"/srv/sites/0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d","kind":"wordpress","domain":"blog.example.com",
            "php":"8.2","database":"b9b3c5e6f7a8b9c0d0000","created":true}"#;

        let created: SiteCreated = serde_json::from_str(line).unwrap();

        assert_eq!(created.site.to_string(), "0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d");
        assert_eq!(created.kind, SiteKind::Wordpress);
        assert_eq!(created.domain.as_str(), "blog.example.com");
        assert_eq!(created.php, Some(PhpVersion::V8_2));
        assert_eq!(created.database.as_deref(), Some("b9b3c5e6f7a8b9c0d0000"));
        assert!(created.created);
    }

    #[test]
    fn a_static_site_has_null_php_and_database() {
        let line = r#"{"ok":true,"site":"0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d","user":"b1","root":"/r",
            "kind":"static","domain":"www.example.org","php":null,"database":null,"created":false}"#;

        let created: SiteCreated = serde_json::from_str(line).unwrap();

        assert_eq!((created.php, created.database, created.created), (None, None, false));
    }

    #[test]
    fn a_health_report_is_read_into_its_type() {
        let line = r#"{"ok":true,"version":"2","load1":0.52,"load5":1,"cpus":2,"memory_total_mb":24151,
            "memory_available_mb":23126,"disk_total_mb":258019,"disk_free_mb":67506,
            "services":{"nginx":"up","php-fpm":"down","mariadb":"up"},"sites":3}"#;

        let report: HealthReport = serde_json::from_str(line).unwrap();

        assert_eq!((report.load1, report.load5, report.cpus, report.sites), (0.52, 1.0, 2, 3));
        assert_eq!(report.services.down(), ["php-fpm"]);
    }

    #[test]
    fn the_other_answers_are_read_into_their_types() {
        let bootstrap: BootstrapReply = serde_json::from_str(
            r#"{"ok":true,"version":"2","php":["7.4","8.2"],"services":{"nginx":"up","php-fpm":"up","mariadb":"up"}}"#,
        )
        .unwrap();
        let toggled: SiteToggled = serde_json::from_str(
            r#"{"ok":true,"site":"0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d","suspended":true,"changed":false}"#,
        )
        .unwrap();
        let deleted: SiteDeleted = serde_json::from_str(
            r#"{"ok":true,"site":"0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d","existed":true}"#,
        )
        .unwrap();
        let version: VersionReply = serde_json::from_str(r#"{"ok":true,"version":"2"}"#).unwrap();

        assert_eq!(bootstrap.php, ["7.4", "8.2"]);
        assert!(bootstrap.services.down().is_empty());
        assert!(toggled.suspended && !toggled.changed);
        assert!(deleted.existed);
        assert_eq!(version.version, "2");
    }

    #[test]
    fn answers_that_break_the_contract_are_refused() {
        // A domain the domain would not accept, a kind Berth does not know, a state that is
        // neither up nor down, a missing field.
        let bad_domain = r#"{"site":"0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d","user":"b1","root":"/r","kind":"static",
            "domain":"a b","php":null,"database":null,"created":true}"#;
        let bad_kind = bad_domain.replace("\"static\"", "\"perl\"").replace("a b", "a.example");
        assert!(serde_json::from_str::<SiteCreated>(bad_domain).is_err());
        assert!(serde_json::from_str::<SiteCreated>(&bad_kind).is_err());
        assert!(
            serde_json::from_str::<Services>(r#"{"nginx":"maybe","php-fpm":"up","mariadb":"up"}"#).is_err()
        );
        assert!(serde_json::from_str::<SiteToggled>(r#"{"site":"0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d"}"#)
            .is_err());
    }
}

/// The answer to `usage`: one sample per site on the node.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UsageReport {
    /// Every site the node holds a record of.
    pub sites: Vec<SiteUsage>,
}

/// What one site uses on its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct SiteUsage {
    /// The site.
    pub site: SiteId,
    /// The bytes of its own directory (`du -sb`; links into shared code count as links).
    pub disk_bytes: u64,
    /// The bytes of its database, data and indexes (0 without one).
    pub database_bytes: u64,
    /// The body bytes nginx served for it, as its access log holds them.
    pub served_bytes: u64,
}
