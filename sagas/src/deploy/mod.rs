//! Deployments of a site's code from its git repository: the control plane fetches the commit
//! ([`git`]), streams it over the node's SSH session into a fresh release, has the node build
//! it and switch it in, and keeps each deployment's full log in object storage ([`saga`]).

pub mod git;
pub mod saga;

use berth_domain::ids::{DeploymentId, SiteId, TenantId};

use crate::backup::BackupStorage;

/// Deployments as the sagas role runs them (`[deploys]`).
#[derive(Clone)]
pub struct Deploys {
    /// How git is run.
    pub git: git::GitSettings,
    /// Address space each build command may use, in MiB.
    pub build_memory_mb: u32,
    /// CPU seconds each build command may use.
    pub build_cpu_secs: u32,
    /// Where full logs are kept (the backup bucket); none: only the tail, in the history.
    pub storage: Option<BackupStorage>,
}

impl Default for Deploys {
    fn default() -> Self {
        Self {
            git: git::GitSettings {
                cache_dir: std::env::temp_dir().join("berth-git"),
                allow_file_urls: false,
                fetch_timeout: std::time::Duration::from_secs(300),
            },
            build_memory_mb: 2048,
            build_cpu_secs: 900,
            storage: None,
        }
    }
}

/// The object key of a deployment's full log.
pub fn log_key(prefix: &str, tenant: TenantId, site: SiteId, deployment: DeploymentId) -> String {
    let prefix = prefix.trim_matches('/');
    let path = format!("deployments/{tenant}/{site}/{deployment}.log");
    if prefix.is_empty() {
        path
    } else {
        format!("{prefix}/{path}")
    }
}
