//! The node contract on Berth's side: one [`NodeRequest`] variant per verb of the node scripts
//! (`deploy/node/`), and one small struct per verb implementing [`NodeVerb`], which names the
//! reply type that verb answers with (see [`super::reply`]).
//!
//! Requests hold only the domain's value objects ([`SiteId`], [`DomainName`], [`SiteKind`],
//! [`PhpVersion`]), so every argument that reaches a node's shell has been parsed and checked
//! before the request could even be built; the node scripts check them again on their side.

use berth_domain::backup::BackupKind;
use berth_domain::domain_name::DomainName;
use berth_domain::ids::{BackupId, DeploymentId, RestoreId, SiteId};
use berth_domain::php::{PhpVersion, SiteKind};
use berth_domain::plan::SiteResources;
use serde::de::DeserializeOwned;

use super::reply::{BootstrapReply, HealthReport, SiteCreated, SiteDeleted, SiteToggled, VersionReply};
use super::tls::{ChallengeToken, KeyAuthorization};

/// One call of the node scripts: a verb and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRequest {
    /// `version`: which scripts version the node runs.
    Version,
    /// `bootstrap`: install or check the node's services and lay out its directories.
    Bootstrap,
    /// `site-create`: set up a site (idempotent: a repeat changes nothing).
    SiteCreate {
        /// The site.
        site: SiteId,
        /// The host name it answers for.
        domain: DomainName,
        /// What runs it.
        kind: SiteKind,
        /// Its PHP version; `None` for static sites.
        php: Option<PhpVersion>,
        /// What it may use on the node (its plan's limits).
        resources: SiteResources,
        /// Whether search engines are told not to index it (a staging copy).
        noindex: bool,
    },
    /// `site-delete`: remove everything of a site (a site that is not there is no error).
    SiteDelete {
        /// The site.
        site: SiteId,
    },
    /// `site-suspend`: serve 503 instead of the site.
    SiteSuspend {
        /// The site.
        site: SiteId,
    },
    /// `site-resume`: serve the site again.
    SiteResume {
        /// The site.
        site: SiteId,
    },
    /// `site-aliases`: the other names a site answers for (its verified custom domains).
    SiteAliases {
        /// The site.
        site: SiteId,
        /// Every alias (none takes them all away).
        aliases: Vec<DomainName>,
    },
    /// `challenge-put`: answer an ACME HTTP-01 challenge on port 80 of every vhost.
    ChallengePut {
        /// The challenge's token (the file's name).
        token: ChallengeToken,
        /// Its key authorization (the file's content).
        content: KeyAuthorization,
    },
    /// `challenge-remove`: stop answering it.
    ChallengeRemove {
        /// The challenge's token.
        token: ChallengeToken,
    },
    /// `site-tls`: install a key and chain (sent on stdin) with an HTTPS vhost; plain HTTP
    /// redirects to it.
    SiteTls {
        /// The site.
        site: SiteId,
        /// Whether HTTPS answers carry HSTS.
        hsts: bool,
        /// Whether the site answers for every name directly below its domain.
        wildcard: bool,
    },
    /// `health`: load, memory, disk, services and site count.
    Health,
    /// `usage`: per site, the bytes on disk, in its database and served.
    Usage,
    /// `backup-prepare`: dump the site's database into a staging directory on the node.
    BackupPrepare {
        /// The site.
        site: SiteId,
        /// The backup.
        backup: BackupId,
        /// What it holds.
        kind: BackupKind,
    },
    /// `backup-stream`: the archive (`tar | zstd`) on stdout, the answer on stderr.
    BackupStream {
        /// The site.
        site: SiteId,
        /// The backup.
        backup: BackupId,
        /// What it holds.
        kind: BackupKind,
    },
    /// `backup-check`: the archive on stdin, unpacked and its dump loaded into a scratch
    /// database, both dropped afterwards.
    BackupCheck {
        /// The site.
        site: SiteId,
        /// The backup.
        backup: BackupId,
    },
    /// `backup-clean`: remove the staging directory.
    BackupClean {
        /// The site.
        site: SiteId,
        /// The backup.
        backup: BackupId,
    },
    /// `site-maintenance`: 503 for visitors (not for the node itself) while a restore runs.
    SiteMaintenance {
        /// The site.
        site: SiteId,
        /// On or off.
        on: bool,
    },
    /// `restore-stage`: the archive on stdin, into a fresh directory and a fresh database.
    RestoreStage {
        /// The site restored into.
        site: SiteId,
        /// The restore.
        restore: RestoreId,
        /// What is restored.
        what: BackupKind,
    },
    /// `restore-swap`: the staged files and tables in, the live ones aside; undone unless the
    /// site then answers.
    RestoreSwap {
        /// The site.
        site: SiteId,
        /// The restore.
        restore: RestoreId,
        /// What is restored.
        what: BackupKind,
    },
    /// `restore-finish`: drop what the swap set aside.
    RestoreFinish {
        /// The site.
        site: SiteId,
        /// The restore.
        restore: RestoreId,
    },
    /// `restore-abort`: everything back as before the stage, and out of maintenance.
    RestoreAbort {
        /// The site.
        site: SiteId,
        /// The restore.
        restore: RestoreId,
    },
    /// `release-receive`: a tar of the code on stdin, into a fresh `releases/<id>`.
    ReleaseReceive {
        /// The site.
        site: SiteId,
        /// The release (the deployment's id).
        release: DeploymentId,
    },
    /// `release-build`: build the release as the site's user, within limits.
    ReleaseBuild {
        /// The site.
        site: SiteId,
        /// The release.
        release: DeploymentId,
        /// The site's own build commands, one line each.
        commands: Vec<String>,
        /// Its post-deploy commands.
        post: Vec<String>,
        /// Seconds each command may run.
        timeout_secs: u32,
        /// Address space each command may use, in MiB.
        memory_mb: u32,
        /// CPU seconds each command may use.
        cpu_secs: u32,
    },
    /// `release-switch`: `current` to the release, the site checked, releases not kept removed.
    ReleaseSwitch {
        /// The site.
        site: SiteId,
        /// The release.
        release: DeploymentId,
        /// The directory of the release nginx serves (empty: its root).
        public_dir: String,
        /// The releases to keep besides this one.
        keep: Vec<DeploymentId>,
    },
    /// `sftp-user-add`: a chrooted SFTP account of the site (key or password on stdin).
    SftpUserAdd {
        /// The site.
        site: SiteId,
        /// What the account logs in as.
        login: String,
        /// `key` or `password`.
        method: &'static str,
    },
    /// `sftp-user-remove`: the account is gone.
    SftpUserRemove {
        /// The site.
        site: SiteId,
        /// The login.
        login: String,
    },
    /// `sftp-lock`: the site's accounts may only read (`true`) or upload again.
    SftpLock {
        /// The site.
        site: SiteId,
        /// Read-only.
        locked: bool,
    },
}

impl NodeRequest {
    /// The verb as the node scripts spell it.
    pub const fn verb(&self) -> &'static str {
        match self {
            Self::Version => "version",
            Self::Bootstrap => "bootstrap",
            Self::SiteCreate { .. } => "site-create",
            Self::SiteDelete { .. } => "site-delete",
            Self::SiteSuspend { .. } => "site-suspend",
            Self::SiteResume { .. } => "site-resume",
            Self::SiteAliases { .. } => "site-aliases",
            Self::ChallengePut { .. } => "challenge-put",
            Self::ChallengeRemove { .. } => "challenge-remove",
            Self::SiteTls { .. } => "site-tls",
            Self::Health => "health",
            Self::Usage => "usage",
            Self::BackupPrepare { .. } => "backup-prepare",
            Self::BackupStream { .. } => "backup-stream",
            Self::BackupCheck { .. } => "backup-check",
            Self::BackupClean { .. } => "backup-clean",
            Self::SiteMaintenance { .. } => "site-maintenance",
            Self::RestoreStage { .. } => "restore-stage",
            Self::RestoreSwap { .. } => "restore-swap",
            Self::RestoreFinish { .. } => "restore-finish",
            Self::RestoreAbort { .. } => "restore-abort",
            Self::ReleaseReceive { .. } => "release-receive",
            Self::ReleaseBuild { .. } => "release-build",
            Self::ReleaseSwitch { .. } => "release-switch",
            Self::SftpUserAdd { .. } => "sftp-user-add",
            Self::SftpUserRemove { .. } => "sftp-user-remove",
            Self::SftpLock { .. } => "sftp-lock",
        }
    }

    /// Whether the answer comes on stderr, because stdout carries data.
    pub const fn answers_on_stderr(&self) -> bool {
        matches!(self, Self::BackupStream { .. })
    }

    /// The arguments of `berth-node`: the verb, then `--key value` pairs.
    pub fn argv(&self) -> Vec<String> {
        let mut argv = vec![self.verb().to_owned()];
        let mut pair = |key: &str, value: &str| argv.extend([format!("--{key}"), value.to_owned()]);
        match self {
            Self::Version | Self::Bootstrap | Self::Health | Self::Usage => {}
            Self::SiteCreate { site, domain, kind, php, resources, noindex } => {
                pair("site", &site.to_string());
                pair("domain", domain.as_str());
                pair("kind", kind.as_str());
                if let Some(php) = php {
                    pair("php", php.as_str());
                }
                pair("workers", &resources.php_workers.to_string());
                pair("memory", &resources.php_memory_mb.to_string());
                pair("upload", &resources.upload_mb.to_string());
                if *noindex {
                    pair("noindex", "1");
                }
            }
            Self::SiteDelete { site } | Self::SiteSuspend { site } | Self::SiteResume { site } => {
                pair("site", &site.to_string());
            }
            Self::SiteAliases { site, aliases } => {
                pair("site", &site.to_string());
                let list: Vec<&str> = aliases.iter().map(DomainName::as_str).collect();
                pair("aliases", &list.join(","));
            }
            Self::ChallengePut { token, content } => {
                pair("token", token.as_str());
                pair("content", content.as_str());
            }
            Self::ChallengeRemove { token } => pair("token", token.as_str()),
            Self::SiteTls { site, hsts, wildcard } => {
                pair("site", &site.to_string());
                pair("hsts", if *hsts { "1" } else { "0" });
                pair("wildcard", if *wildcard { "1" } else { "0" });
            }
            Self::BackupPrepare { site, backup, kind } | Self::BackupStream { site, backup, kind } => {
                pair("site", &site.to_string());
                pair("backup", &backup.to_string());
                pair("kind", kind.as_str());
            }
            Self::BackupCheck { site, backup } | Self::BackupClean { site, backup } => {
                pair("site", &site.to_string());
                pair("backup", &backup.to_string());
            }
            Self::SiteMaintenance { site, on } => {
                pair("site", &site.to_string());
                pair("on", if *on { "1" } else { "0" });
            }
            Self::RestoreStage { site, restore, what } | Self::RestoreSwap { site, restore, what } => {
                pair("site", &site.to_string());
                pair("restore", &restore.to_string());
                pair("what", what.as_str());
            }
            Self::RestoreFinish { site, restore } | Self::RestoreAbort { site, restore } => {
                pair("site", &site.to_string());
                pair("restore", &restore.to_string());
            }
            Self::ReleaseReceive { site, release } => {
                pair("site", &site.to_string());
                pair("release", &release.to_string());
            }
            Self::ReleaseBuild { site, release, commands, post, timeout_secs, memory_mb, cpu_secs } => {
                pair("site", &site.to_string());
                pair("release", &release.to_string());
                // Commands are free text: base64 keeps each one inert on the remote command line.
                pair("commands", &super::deploy::lines_b64(commands));
                pair("post", &super::deploy::lines_b64(post));
                pair("timeout", &timeout_secs.to_string());
                pair("memory", &memory_mb.to_string());
                pair("cpu", &cpu_secs.to_string());
            }
            Self::ReleaseSwitch { site, release, public_dir, keep } => {
                pair("site", &site.to_string());
                pair("release", &release.to_string());
                pair("public", public_dir);
                let keep: Vec<String> = keep.iter().map(ToString::to_string).collect();
                pair("keep", &keep.join(","));
            }
            Self::SftpUserAdd { site, login, method } => {
                pair("site", &site.to_string());
                pair("login", login);
                pair("method", method);
            }
            Self::SftpUserRemove { site, login } => {
                pair("site", &site.to_string());
                pair("login", login);
            }
            Self::SftpLock { site, locked } => {
                pair("site", &site.to_string());
                pair("locked", if *locked { "1" } else { "0" });
            }
        }
        argv
    }

    /// Whether the scripts are uploaded right before this call: bootstrap is what (re)installs
    /// a node, so it always runs the scripts this binary carries.
    pub const fn installs_bundle(&self) -> bool {
        matches!(self, Self::Bootstrap)
    }
}

/// A verb of the node scripts, tied to the type of its successful answer, so that a call's
/// result is typed by what was asked: `work.call(node, SiteCreate { .. }, &meta)` yields a
/// [`SiteCreated`].
pub trait NodeVerb {
    /// What the node answers on success.
    type Reply: DeserializeOwned;

    /// The request to send.
    fn request(&self) -> NodeRequest;

    /// What to feed the script on stdin: secrets (a private key) never go in argv, where
    /// every user of the node could read them.
    fn stdin(&self) -> Option<&[u8]> {
        None
    }
}

/// `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version;

/// `bootstrap`, preceded by an upload of the scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bootstrap;

/// `site-create`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteCreate {
    /// The site.
    pub site: SiteId,
    /// The host name it answers for.
    pub domain: DomainName,
    /// What runs it.
    pub kind: SiteKind,
    /// Its PHP version; `None` for static sites.
    pub php: Option<PhpVersion>,
    /// What it may use on the node (its plan's limits).
    pub resources: SiteResources,
    /// Whether search engines are told not to index it (a staging copy).
    pub noindex: bool,
}

/// `site-delete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteDelete {
    /// The site.
    pub site: SiteId,
}

/// `site-suspend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteSuspend {
    /// The site.
    pub site: SiteId,
}

/// `site-resume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteResume {
    /// The site.
    pub site: SiteId,
}

/// `health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health;

impl NodeVerb for Version {
    type Reply = VersionReply;
    fn request(&self) -> NodeRequest {
        NodeRequest::Version
    }
}

impl NodeVerb for Bootstrap {
    type Reply = BootstrapReply;
    fn request(&self) -> NodeRequest {
        NodeRequest::Bootstrap
    }
}

impl NodeVerb for SiteCreate {
    type Reply = SiteCreated;
    fn request(&self) -> NodeRequest {
        NodeRequest::SiteCreate {
            site: self.site,
            domain: self.domain.clone(),
            kind: self.kind,
            php: self.php,
            resources: self.resources,
            noindex: self.noindex,
        }
    }
}

impl NodeVerb for SiteDelete {
    type Reply = SiteDeleted;
    fn request(&self) -> NodeRequest {
        NodeRequest::SiteDelete { site: self.site }
    }
}

impl NodeVerb for SiteSuspend {
    type Reply = SiteToggled;
    fn request(&self) -> NodeRequest {
        NodeRequest::SiteSuspend { site: self.site }
    }
}

impl NodeVerb for SiteResume {
    type Reply = SiteToggled;
    fn request(&self) -> NodeRequest {
        NodeRequest::SiteResume { site: self.site }
    }
}

impl NodeVerb for Health {
    type Reply = HealthReport;
    fn request(&self) -> NodeRequest {
        NodeRequest::Health
    }
}

#[cfg(test)]
mod tests;
