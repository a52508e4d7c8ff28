//! The deployment verbs of the node scripts (`deploy/node/deploy.sh`): one struct per verb,
//! tied to its reply type.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_domain::ids::{DeploymentId, SiteId};
use serde::Deserialize;

use super::contract::{NodeRequest, NodeVerb};

/// Commands as the node reads them: one per line, the whole in base64.
pub fn lines_b64(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    STANDARD.encode(lines.join("\n"))
}

/// `release-receive`: the tar on stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseReceive {
    /// The site.
    pub site: SiteId,
    /// The release.
    pub release: DeploymentId,
}

/// The answer to `release-receive`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReleaseReceived {
    /// Files and directories unpacked.
    pub files: u64,
    /// Their size on disk, in bytes.
    pub bytes: u64,
}

/// `release-build`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseBuild {
    /// The site.
    pub site: SiteId,
    /// The release.
    pub release: DeploymentId,
    /// The site's own build commands.
    pub commands: Vec<String>,
    /// Its post-deploy commands.
    pub post: Vec<String>,
    /// Seconds each command may run.
    pub timeout_secs: u32,
    /// Address space each command may use, in MiB.
    pub memory_mb: u32,
    /// CPU seconds each command may use.
    pub cpu_secs: u32,
}

/// The answer to `release-build`: a build that failed is an answer too.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BuildReport {
    /// Whether every step passed.
    pub passed: bool,
    /// The step that failed (`composer`, `migrate`, `command 2` ...); empty when it passed.
    pub step: String,
    /// Its exit code (124: it ran out of time).
    pub exit_code: i32,
    /// The end of the build's log.
    pub log: String,
}

/// `release-switch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSwitch {
    /// The site.
    pub site: SiteId,
    /// The release.
    pub release: DeploymentId,
    /// The directory of the release nginx serves.
    pub public_dir: String,
    /// The releases to keep besides this one.
    pub keep: Vec<DeploymentId>,
}

/// The answer to `release-switch`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReleaseSwitched {
    /// The release serving now.
    pub release: String,
    /// The one that served before, if any.
    pub previous: Option<String>,
    /// What the site answered on the node's loopback.
    pub status: u16,
    /// Releases removed because they are not kept.
    pub removed: u32,
}

impl NodeVerb for ReleaseReceive {
    type Reply = ReleaseReceived;
    fn request(&self) -> NodeRequest {
        NodeRequest::ReleaseReceive { site: self.site, release: self.release }
    }
}

impl NodeVerb for ReleaseBuild {
    type Reply = BuildReport;
    fn request(&self) -> NodeRequest {
        NodeRequest::ReleaseBuild {
            site: self.site,
            release: self.release,
            commands: self.commands.clone(),
            post: self.post.clone(),
            timeout_secs: self.timeout_secs,
            memory_mb: self.memory_mb,
            cpu_secs: self.cpu_secs,
        }
    }
}

impl NodeVerb for ReleaseSwitch {
    type Reply = ReleaseSwitched;
    fn request(&self) -> NodeRequest {
        NodeRequest::ReleaseSwitch {
            site: self.site,
            release: self.release,
            public_dir: self.public_dir.clone(),
            keep: self.keep.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn build_commands_travel_as_base64_and_keep_lists_as_commas() {
        let site = SiteId::from_uuid(Uuid::from_u128(1));
        let release = DeploymentId::from_uuid(Uuid::from_u128(2));
        let build = ReleaseBuild {
            site,
            release,
            commands: vec!["npm ci && rm -rf /tmp/'x'".to_owned(), "make".to_owned()],
            post: Vec::new(),
            timeout_secs: 60,
            memory_mb: 512,
            cpu_secs: 120,
        };
        let argv = build.request().argv();
        assert_eq!(argv[0], "release-build");
        let encoded = &argv[argv.iter().position(|a| a == "--commands").unwrap() + 1];
        assert_eq!(STANDARD.decode(encoded).unwrap(), b"npm ci && rm -rf /tmp/'x'\nmake");
        assert_eq!(argv[argv.iter().position(|a| a == "--post").unwrap() + 1], "");
        let keep =
            vec![DeploymentId::from_uuid(Uuid::from_u128(3)), DeploymentId::from_uuid(Uuid::from_u128(4))];
        let switch = ReleaseSwitch { site, release, public_dir: "public".to_owned(), keep }.request().argv();
        assert_eq!(
            switch[switch.len() - 1],
            "00000000-0000-0000-0000-000000000003,00000000-0000-0000-0000-000000000004"
        );
    }
}
