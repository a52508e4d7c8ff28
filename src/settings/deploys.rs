//! `[deploys]`: how deployments fetch code and how far a build command may go.

use serde::Deserialize;

/// Deployment settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySettings {
    /// Where the control plane keeps one bare git repository per site; empty: `berth-git` in
    /// the system's temporary directory.
    pub cache_dir: String,
    /// Whether repository URLs may be `file://` (local test set-ups only; never in
    /// production, where it would let a tenant read the control plane's disk).
    pub allow_file_urls: bool,
    /// Seconds one `git fetch` may take.
    pub fetch_timeout_secs: u64,
    /// Address space each build command may use on the node, in MiB.
    pub build_memory_mb: u32,
    /// CPU seconds each build command may use on the node.
    pub build_cpu_secs: u32,
}

impl DeploySettings {
    /// How the sagas run git.
    pub fn git(&self) -> berth_sagas::deploy::git::GitSettings {
        let cache_dir = if self.cache_dir.trim().is_empty() {
            std::env::temp_dir().join("berth-git")
        } else {
            std::path::PathBuf::from(self.cache_dir.trim())
        };
        berth_sagas::deploy::git::GitSettings {
            cache_dir,
            allow_file_urls: self.allow_file_urls,
            fetch_timeout: std::time::Duration::from_secs(self.fetch_timeout_secs.max(1)),
        }
    }
}
