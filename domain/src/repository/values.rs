//! What a site's repository is made of: where it is ([`RepoUrl`]), what is deployed from it
//! ([`RefName`]), how it is built ([`BuildSpec`]), and the words a deployment's history is
//! told in ([`Trigger`], [`StepName`]).

use serde::{Deserialize, Serialize};

/// The longest repository URL accepted, in bytes.
pub const MAX_URL: usize = 2048;
/// The most build (or post-deploy) commands a site declares.
pub const MAX_COMMANDS: usize = 10;
/// The longest single command, in bytes.
pub const MAX_COMMAND: usize = 1000;
/// The most releases a site keeps on its node.
pub const MAX_KEEP: u32 = 20;
/// The longest a build command may run, in seconds.
pub const MAX_BUILD_SECS: u32 = 3600;

/// Why a repository value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// A URL Berth does not fetch from.
    #[error("{0}")]
    Url(String),
    /// A ref name git would refuse, or that could be read as an option.
    #[error("{0}")]
    Ref(String),
    /// A build setting out of bounds.
    #[error("{0}")]
    Build(String),
}

/// A repository URL Berth fetches from: `https://`, `ssh://` or the scp-like
/// `user@host:path`. `file://` only where the operator allows it (local test set-ups); git's
/// remote helpers (`ext::`, `fd::`) and anything else never.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RepoUrl(String);

impl RepoUrl {
    /// Parses `raw`; `allow_file` admits `file://` URLs.
    pub fn parse(raw: &str, allow_file: bool) -> Result<Self, ValueError> {
        let bad = |why: &str| Err(ValueError::Url(why.to_owned()));
        if raw.is_empty() || raw.len() > MAX_URL {
            return bad("must be 1 to 2048 characters");
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return bad("must not contain spaces or control characters");
        }
        if raw.starts_with('-') {
            return bad("must not start with '-'");
        }
        if raw.contains("::") {
            return bad(
                "git remote helpers (such as ext::) are not allowed; use https://, ssh:// or user@host:path",
            );
        }
        let lower = raw.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("ssh://")) {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or("");
            if host.is_empty() || rest.len() <= host.len() + 1 {
                return bad("must name a host and a path");
            }
            return Ok(Self(raw.to_owned()));
        }
        if let Some(path) = lower.strip_prefix("file://") {
            if !allow_file {
                return bad("file:// URLs are not allowed; use https://, ssh:// or user@host:path");
            }
            if !path.starts_with('/') {
                return bad("a file:// URL must hold an absolute path");
            }
            return Ok(Self(raw.to_owned()));
        }
        if lower.contains("://") {
            return bad("the scheme is not allowed; use https://, ssh:// or user@host:path");
        }
        // scp-like: user@host:path
        let Some((login, path)) = raw.split_once(':') else {
            return bad("must be https://, ssh:// or user@host:path");
        };
        let Some((user, host)) = login.split_once('@') else {
            return bad("must be https://, ssh:// or user@host:path");
        };
        let word =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !word(user) || !word(host) || path.is_empty() || path.starts_with('-') {
            return bad("must be https://, ssh:// or user@host:path");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it is fetched over SSH (and so with the site's deploy key).
    pub fn uses_ssh(&self) -> bool {
        let lower = self.0.to_ascii_lowercase();
        lower.starts_with("ssh://") || !lower.contains("://")
    }
}

/// A branch, tag or commit name, as `git check-ref-format` allows it and never readable as an
/// option (`-x`) or a range (`a..b`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RefName(String);

impl RefName {
    /// Parses `raw`.
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let bad = |why: &str| Err(ValueError::Ref(why.to_owned()));
        if raw.is_empty() || raw.len() > 255 {
            return bad("must be 1 to 255 characters");
        }
        if raw.contains("..") {
            return bad("must not contain '..'");
        }
        if raw.starts_with('-') || raw.starts_with('/') || raw.ends_with('/') || raw.ends_with('.') {
            return bad("must not start with '-' or '/' nor end with '/' or '.'");
        }
        if raw.contains("//") || raw.contains("@{") || raw == "@" || raw.ends_with(".lock") {
            return bad("must not contain '//' or '@{', be '@' or end with '.lock'");
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c)) {
            return bad("must not contain spaces, control characters or any of ~^:?*[\\");
        }
        if raw.split('/').any(|part| part.starts_with('.')) {
            return bad("no part may start with '.'");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How a site's code is built and where it is served from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BuildSpec {
    /// Commands run in the new release, as the site's user, before it is switched in.
    pub commands: Vec<String>,
    /// Commands run in the new release after the built-in steps (migrations), before it is
    /// switched in.
    pub post_deploy: Vec<String>,
    /// The directory of the repository nginx serves (`public` for Laravel); empty: its root.
    pub public_dir: String,
    /// Releases kept on the node, the serving one included (for rollbacks).
    pub keep_releases: u32,
    /// The longest each command may run, in seconds.
    pub timeout_secs: u32,
}

impl BuildSpec {
    /// Releases kept when nothing is said.
    pub const DEFAULT_KEEP: u32 = 5;
    /// Seconds a command may run when nothing is said.
    pub const DEFAULT_TIMEOUT: u32 = 600;

    /// Checks every bound; `Err` names the offending field (`commands`, `public_dir` ...).
    pub fn check(self) -> Result<Self, (&'static str, ValueError)> {
        let bad = |field, why: String| Err((field, ValueError::Build(why)));
        for (field, list) in [("commands", &self.commands), ("post_deploy", &self.post_deploy)] {
            if list.len() > MAX_COMMANDS {
                return bad(field, format!("at most {MAX_COMMANDS} commands"));
            }
            for command in list {
                if command.trim().is_empty() || command.len() > MAX_COMMAND {
                    return bad(field, format!("each command must be 1 to {MAX_COMMAND} characters"));
                }
                if command.chars().any(|c| c == '\0' || c == '\n' || c == '\r') {
                    return bad(field, "a command is one line, without NUL".to_owned());
                }
            }
        }
        let dir = &self.public_dir;
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        };
        if dir.len() > 200 || (!dir.is_empty() && !dir.split('/').all(segment_ok)) {
            return bad(
                "public_dir",
                "must be a relative path of letters, digits and ._- without '..'".to_owned(),
            );
        }
        if self.keep_releases == 0 || self.keep_releases > MAX_KEEP {
            return bad("keep_releases", format!("must be 1 to {MAX_KEEP}"));
        }
        if self.timeout_secs == 0 || self.timeout_secs > MAX_BUILD_SECS {
            return bad("timeout_secs", format!("must be 1 to {MAX_BUILD_SECS}"));
        }
        Ok(self)
    }
}

/// Why a deployment was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Trigger {
    /// A push webhook.
    Push {
        /// `github` or `gitlab`.
        provider: String,
        /// The sender's delivery id.
        delivery: String,
    },
    /// Someone asked for it (`POST /v1/sites/{id}/deploy`).
    Manual,
    /// A switch back to the release of an earlier deployment.
    Rollback {
        /// The deployment whose release is switched back to.
        to: crate::ids::DeploymentId,
    },
}

impl Trigger {
    /// `push`, `manual` or `rollback`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Push { .. } => "push",
            Self::Manual => "manual",
            Self::Rollback { .. } => "rollback",
        }
    }
}

/// A step of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    /// The commit is fetched into the control plane's cache.
    Fetch,
    /// It is archived and streamed into a fresh release on the node.
    Upload,
    /// The release is built (composer, migrations, the site's own commands).
    Build,
    /// `current` is switched to the release.
    Switch,
    /// The site is asked over HTTP whether it answers.
    HealthCheck,
}

impl StepName {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fetch => "fetch",
            Self::Upload => "upload",
            Self::Build => "build",
            Self::Switch => "switch",
            Self::HealthCheck => "health_check",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_allowed_schemes_parse_and_others_do_not() {
        for ok in [
            "https://github.com/acme/site.git",
            "ssh://git@gitlab.com:22/acme/site.git",
            "git@github.com:acme/site.git",
        ] {
            assert!(RepoUrl::parse(ok, false).is_ok(), "{ok}");
        }
        for bad in [
            "file:///srv/repo.git",
            "ext::sh -c touch% /tmp/pwned",
            "ext::ssh",
            "fd::17",
            "http://example.com/a.git",
            "-uhttps://x/y",
            "https://",
            "git@github.com",
            "https://github.com/a b",
            "",
        ] {
            assert!(RepoUrl::parse(bad, false).is_err(), "{bad}");
        }
        assert!(RepoUrl::parse("file:///srv/repo.git", true).is_ok());
        assert!(RepoUrl::parse("file://relative", true).is_err());
        assert!(RepoUrl::parse("git@github.com:a/b.git", false).unwrap().uses_ssh());
        assert!(!RepoUrl::parse("https://github.com/a/b.git", false).unwrap().uses_ssh());
    }

    #[test]
    fn ref_names_follow_git_rules() {
        for ok in ["main", "release/2026-12", "v1.2.3", "0123abcd", "feature_x"] {
            assert!(RefName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "main..evil",
            "-x",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "x.lock",
            "/a",
            "a/",
            ".hidden",
            "a/.b",
            "@",
            "a@{1}",
            "a//b",
            "",
        ] {
            assert!(RefName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn build_specs_are_bounded() {
        let spec = BuildSpec { keep_releases: 5, timeout_secs: 60, ..BuildSpec::default() };
        assert!(spec.clone().check().is_ok());
        let escape = BuildSpec { public_dir: "../etc".to_owned(), ..spec.clone() };
        assert_eq!(escape.check().unwrap_err().0, "public_dir");
        let multi = BuildSpec { commands: vec!["a\nb".to_owned()], ..spec.clone() };
        assert_eq!(multi.check().unwrap_err().0, "commands");
        let keep = BuildSpec { keep_releases: 0, ..spec };
        assert_eq!(keep.check().unwrap_err().0, "keep_releases");
    }
}
