//! The backup and restore verbs of the node scripts (`deploy/node/backup.sh`, `restore.sh`):
//! one struct per verb, tied to its reply type.

use berth_domain::backup::BackupKind;
use berth_domain::ids::{BackupId, RestoreId, SiteId};
use serde::Deserialize;

use super::contract::{NodeRequest, NodeVerb};

/// `backup-prepare`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupPrepare {
    /// The site.
    pub site: SiteId,
    /// The backup.
    pub backup: BackupId,
    /// What it holds.
    pub kind: BackupKind,
}

/// The answer to `backup-prepare`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BackupPrepared {
    /// The site's own files, in bytes (0 without files).
    pub files_bytes: u64,
    /// The dump, in bytes (0 without a database).
    pub dump_bytes: u64,
    /// Whether the archive holds a dump.
    pub database: bool,
}

/// `backup-stream`: its stdout is the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupStream {
    /// The site.
    pub site: SiteId,
    /// The backup.
    pub backup: BackupId,
    /// What it holds.
    pub kind: BackupKind,
}

/// The answer to `backup-stream` (on stderr) and `backup-clean`: nothing beyond success.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Done {}

/// `backup-check`: the archive on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupCheck {
    /// The site.
    pub site: SiteId,
    /// The backup.
    pub backup: BackupId,
}

/// The answer to `backup-check`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BackupChecked {
    /// Files and directories the archive unpacked to.
    pub entries: u64,
    /// Tables its dump created in the scratch database.
    pub tables: u64,
}

/// `backup-clean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupClean {
    /// The site.
    pub site: SiteId,
    /// The backup.
    pub backup: BackupId,
}

/// `site-maintenance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteMaintenance {
    /// The site.
    pub site: SiteId,
    /// On or off.
    pub on: bool,
}

/// The answer to `site-maintenance`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MaintenanceSet {
    /// Whether the site is in maintenance now.
    pub maintenance: bool,
}

/// `restore-stage`: the archive on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreStage {
    /// The site restored into.
    pub site: SiteId,
    /// The restore.
    pub restore: RestoreId,
    /// What is restored.
    pub what: BackupKind,
}

/// The answer to `restore-stage`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RestoreStaged {
    /// Files and directories staged.
    pub files: u64,
    /// Tables loaded into the fresh database.
    pub tables: u64,
}

/// `restore-swap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreSwap {
    /// The site.
    pub site: SiteId,
    /// The restore.
    pub restore: RestoreId,
    /// What is restored.
    pub what: BackupKind,
}

/// The answer to `restore-swap`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RestoreSwapped {
    /// The HTTP status the site answered with on the node's loopback.
    pub status: u16,
}

/// `restore-finish`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreFinish {
    /// The site.
    pub site: SiteId,
    /// The restore.
    pub restore: RestoreId,
}

/// `restore-abort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreAbort {
    /// The site.
    pub site: SiteId,
    /// The restore.
    pub restore: RestoreId,
}

impl NodeVerb for BackupPrepare {
    type Reply = BackupPrepared;
    fn request(&self) -> NodeRequest {
        NodeRequest::BackupPrepare { site: self.site, backup: self.backup, kind: self.kind }
    }
}

impl NodeVerb for BackupStream {
    type Reply = Done;
    fn request(&self) -> NodeRequest {
        NodeRequest::BackupStream { site: self.site, backup: self.backup, kind: self.kind }
    }
}

impl NodeVerb for BackupCheck {
    type Reply = BackupChecked;
    fn request(&self) -> NodeRequest {
        NodeRequest::BackupCheck { site: self.site, backup: self.backup }
    }
}

impl NodeVerb for BackupClean {
    type Reply = Done;
    fn request(&self) -> NodeRequest {
        NodeRequest::BackupClean { site: self.site, backup: self.backup }
    }
}

impl NodeVerb for SiteMaintenance {
    type Reply = MaintenanceSet;
    fn request(&self) -> NodeRequest {
        NodeRequest::SiteMaintenance { site: self.site, on: self.on }
    }
}

impl NodeVerb for RestoreStage {
    type Reply = RestoreStaged;
    fn request(&self) -> NodeRequest {
        NodeRequest::RestoreStage { site: self.site, restore: self.restore, what: self.what }
    }
}

impl NodeVerb for RestoreSwap {
    type Reply = RestoreSwapped;
    fn request(&self) -> NodeRequest {
        NodeRequest::RestoreSwap { site: self.site, restore: self.restore, what: self.what }
    }
}

impl NodeVerb for RestoreFinish {
    type Reply = Done;
    fn request(&self) -> NodeRequest {
        NodeRequest::RestoreFinish { site: self.site, restore: self.restore }
    }
}

impl NodeVerb for RestoreAbort {
    type Reply = Done;
    fn request(&self) -> NodeRequest {
        NodeRequest::RestoreAbort { site: self.site, restore: self.restore }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn backup_verbs_render_their_arguments() {
        let site = SiteId::from_uuid(Uuid::from_u128(1));
        let backup = BackupId::from_uuid(Uuid::from_u128(2));
        let argv = BackupStream { site, backup, kind: BackupKind::Files }.request().argv();
        assert_eq!(
            argv,
            [
                "backup-stream",
                "--site",
                "00000000-0000-0000-0000-000000000001",
                "--backup",
                "00000000-0000-0000-0000-000000000002",
                "--kind",
                "files"
            ]
        );
        assert!(BackupStream { site, backup, kind: BackupKind::Files }.request().answers_on_stderr());
        assert!(!BackupCheck { site, backup }.request().answers_on_stderr());
        let restore = RestoreId::from_uuid(Uuid::from_u128(3));
        assert_eq!(
            RestoreSwap { site, restore, what: BackupKind::Database }.request().argv()[5..],
            ["--what", "database"]
        );
        assert_eq!(SiteMaintenance { site, on: true }.request().argv()[3..], ["--on", "1"]);
    }
}
