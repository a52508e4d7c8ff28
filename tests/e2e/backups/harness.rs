//! What the backup tests share: a local node reached directly over SSH (no API in between),
//! a WordPress site on it with a post and an uploaded file, and the local s3s-fs bucket under
//! a prefix of the test's own.

use std::process::Command as StdCommand;
use std::sync::Arc;

use berth_domain::backup::BackupKind;
use berth_domain::domain_name::DomainName;
use berth_domain::ids::{BackupId, NodeId, SiteId, TenantId};
use berth_domain::node::HostKey;
use berth_domain::php::SiteKind;
use berth_sagas::backup::pipeline::Job;
use berth_sagas::backup::store::{self, StorageConfig, MIN_PART};
use berth_sagas::node::contract::{Bootstrap, SiteCreate};
use berth_sagas::node::scripts;
use berth_sagas::ssh::{SshBridge, SshSettings, Target};
use object_store::ObjectStore;
use zeroize::Zeroizing;

use crate::nodes_harness::{wait_for, LocalNode};

/// The local s3s-fs: from the environment `deploy/dev env` prints, or asked for it.
pub fn storage(prefix: &str) -> StorageConfig {
    let var = |name: &str| {
        std::env::var(name).ok().unwrap_or_else(|| {
            let out = StdCommand::new(format!("{}/deploy/dev", env!("CARGO_MANIFEST_DIR")))
                .arg("env")
                .output()
                .expect("deploy/dev env");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(|v| v.trim_matches('\'').to_owned())
                .unwrap_or_else(|| panic!("deploy/dev env printed no {name}"))
        })
    };
    StorageConfig {
        endpoint: var("BERTH_DEV_S3_ENDPOINT"),
        region: var("BERTH_DEV_S3_REGION"),
        bucket: var("BERTH_DEV_S3_BUCKET"),
        access_key: var("BERTH_DEV_S3_ACCESS_KEY"),
        secret_key: Zeroizing::new(var("BERTH_DEV_S3_SECRET_KEY")),
        prefix: prefix.to_owned(),
        retries: 1,
        retry_timeout: std::time::Duration::from_secs(10),
        part_size: MIN_PART,
    }
}

/// A node with a WordPress site on it, driven through the node scripts directly.
pub struct WordpressNode {
    pub node: LocalNode,
    pub bridge: SshBridge,
    pub target: Target,
    pub site: SiteId,
    pub domain: String,
    pub database: String,
}

impl WordpressNode {
    /// Starts node `name`, bootstraps it and creates a WordPress site for `domain`, installed.
    pub async fn up(name: &str, domain: &str) -> Self {
        let node = LocalNode::up(name).await;
        let seed: [u8; 32] = rand::random();
        node.authorize(&berth_eventstore::vault::public_line(&seed)).await;
        let target = Target {
            node_id: NodeId::from_uuid(uuid::Uuid::now_v7()),
            address: node.address.clone(),
            port: node.ssh_port,
            user: "root".to_owned(),
            host_key: HostKey::parse(&node.host_key).unwrap(),
            private_key: Arc::new(Zeroizing::new(seed)),
        };
        let bridge = SshBridge::new(SshSettings::default());
        scripts::call(&bridge, &target, &Bootstrap).await.expect("bootstrap");
        let site = SiteId::from_uuid(uuid::Uuid::now_v7());
        let created = scripts::call(
            &bridge,
            &target,
            &SiteCreate {
                site,
                domain: DomainName::parse(domain).unwrap(),
                kind: SiteKind::Wordpress,
                php: None,
                resources: Default::default(),
                noindex: false,
            },
        )
        .await
        .expect("site-create");
        let database = created.database.expect("a WordPress site has a database");
        let this = Self { node, bridge, target, site, domain: domain.to_owned(), database };
        install_wordpress(&this.node.address, domain).await;
        assert_eq!(this.sql("SELECT COUNT(*) FROM wp_users"), "1", "WordPress is installed");
        this
    }

    /// Runs SQL in `database` on the node; its output, trimmed.
    pub fn sql_in(&self, database: &str, query: &str) -> String {
        let command = format!(
            "mariadb --socket=\"$BERTH_NODE_ROOT/run/mysqld.sock\" -u root --batch --skip-column-names {database} -e {}",
            shell_quote(query)
        );
        let (ok, out) = self.node.shell(&command);
        assert!(ok, "SQL failed: {query}");
        out.trim().to_owned()
    }

    /// Runs SQL in the site's database.
    pub fn sql(&self, query: &str) -> String {
        self.sql_in(&self.database, query)
    }

    /// The site's document root on this machine.
    pub fn docroot(&self, site: SiteId) -> String {
        format!("{}/srv/sites/{site}/public", self.node.root)
    }

    /// A job for `backup` of the site.
    pub fn job<'a>(
        &'a self,
        store: Arc<dyn ObjectStore>,
        config: &StorageConfig,
        key: &'a [u8],
        backup: BackupId,
        kind: BackupKind,
    ) -> Job<'a> {
        let tenant = TenantId::from_uuid(uuid::Uuid::from_u128(7));
        Job {
            shell: &self.bridge,
            target: &self.target,
            store,
            path: store::object_key(&config.prefix, tenant, backup),
            key,
            site: self.site,
            backup,
            kind,
            part_size: config.part_size,
        }
    }
}

pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Runs WordPress's installer for the site answering for `domain` at `address`.
pub async fn install_wordpress(address: &str, domain: &str) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = [
        ("weblog_title", "Backups"),
        ("user_name", "admin"),
        ("admin_password", "correct horse battery staple"),
        ("admin_password2", "correct horse battery staple"),
        ("pw_weak", "1"),
        ("admin_email", "admin@example.com"),
        ("blog_public", "0"),
    ];
    // nginx may still be switching to the new site's vhost: a reset connection is tried again.
    let status = wait_for(std::time::Duration::from_secs(60), || async {
        let sent = client
            .post(format!("http://{address}/wp-admin/install.php?step=2"))
            .header("Host", domain)
            .form(&form)
            .timeout(std::time::Duration::from_secs(120))
            .send()
            .await;
        sent.ok().map(|r| r.status())
    })
    .await;
    assert_eq!(status, 200, "the WordPress installer answered {status}");
}

/// The settings that point Berth's `[backups]` at `config` and retry quickly.
pub fn backup_settings(config: &StorageConfig) -> Vec<(String, String)> {
    vec![
        ("BERTH_BACKUPS__ENDPOINT".to_owned(), config.endpoint.clone()),
        ("BERTH_BACKUPS__REGION".to_owned(), config.region.clone()),
        ("BERTH_BACKUPS__BUCKET".to_owned(), config.bucket.clone()),
        ("BERTH_BACKUPS__ACCESS_KEY".to_owned(), config.access_key.clone()),
        ("BERTH_BACKUPS__SECRET_KEY".to_owned(), config.secret_key.to_string()),
        ("BERTH_BACKUPS__PREFIX".to_owned(), config.prefix.clone()),
        ("BERTH_BACKUPS__RETRY_BASE_SECS".to_owned(), "1".to_owned()),
        ("BERTH_BACKUPS__RETRY_MAX_SECS".to_owned(), "2".to_owned()),
        ("BERTH_BACKUPS__REQUEST_RETRIES".to_owned(), "0".to_owned()),
        ("BERTH_BACKUPS__REQUEST_TIMEOUT_SECS".to_owned(), "5".to_owned()),
    ]
}

/// A prefix of the test's own, short (s3s-fs makes file names of whole keys).
pub fn test_prefix() -> String {
    format!("t{}", &uuid::Uuid::now_v7().simple().to_string()[20..])
}

/// The audit trail's entries on `target` (an aggregate id), oldest first.
pub async fn actions(api: &crate::api::Api, token: &str, target: &str) -> Vec<serde_json::Value> {
    let (status, page) = api.read(&format!("/v1/audit?target={target}&limit=200"), token).await;
    assert_eq!(status, 200, "{page}");
    let mut items = page["items"].as_array().cloned().unwrap_or_default();
    items.reverse();
    items
}

/// Waits until the audit trail of `target` ends in `done`; panics if it ends in `failed`.
pub async fn wait_for_action(
    api: &crate::api::Api,
    token: &str,
    target: &str,
    done: &str,
    failed: &str,
) -> Vec<serde_json::Value> {
    wait_for(std::time::Duration::from_secs(180), || async {
        let trail = actions(api, token, target).await;
        let last = trail.last().map(|e| e["action"].as_str().unwrap_or("").to_owned());
        assert_ne!(last.as_deref(), Some(failed), "{target} failed: {trail:?}");
        (last.as_deref() == Some(done)).then_some(trail)
    })
    .await
}

/// A TCP proxy in front of the object store that can be switched off: while off, it takes
/// each connection and closes it at once, as storage that is down would.
pub struct Proxy {
    pub addr: std::net::SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts the proxy towards `target` (`host:port`), `up` or not.
    pub async fn start(target: String, up: bool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(up));
        let on = Arc::clone(&flag);
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !on.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { addr, up: flag, task }
    }

    /// Switches it on or off (for new connections).
    pub fn set_up(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until the audit trail of `target` holds an entry for which `found` is true.
pub async fn wait_for_entry(
    api: &crate::api::Api,
    token: &str,
    target: &str,
    found: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    wait_for(std::time::Duration::from_secs(180), || async {
        actions(api, token, target).await.into_iter().find(|e| found(e))
    })
    .await
}
