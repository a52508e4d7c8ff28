//! The control plane's side of a deployment's code: the real `git` CLI fetches the commit into
//! a bare repository per site in a cache directory, and `git archive` streams it as a tar.
//!
//! Nodes hold no credentials: the deploy key's private half is opened from the vault for the
//! one fetch, written to a file only the fetching process can read, and removed afterwards.
//! `GIT_ALLOW_PROTOCOL` limits what git itself will speak to what the URL check admits, so a
//! redirect or a submodule cannot reach a remote helper or a local path.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_domain::ids::SiteId;
use berth_domain::repository::{RefName, RepoUrl};
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::mpsc;

/// How git is run (`[deploys]`).
#[derive(Debug, Clone)]
pub struct GitSettings {
    /// Where the per-site bare repositories are kept.
    pub cache_dir: PathBuf,
    /// Whether `file://` URLs may be fetched (local test set-ups only).
    pub allow_file_urls: bool,
    /// The longest one fetch may take.
    pub fetch_timeout: Duration,
}

/// A commit as deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Its full id.
    pub id: String,
    /// Its author's name.
    pub author: String,
    /// Its subject line.
    pub message: String,
}

/// A git command that failed: its exit code and what it printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("git {what} failed (exit {exit_code:?})")]
pub struct GitFailure {
    /// What was being done.
    pub what: &'static str,
    /// Its exit code, if it ran to an end.
    pub exit_code: Option<i32>,
    /// Its output.
    pub log: String,
}

impl GitSettings {
    fn repo(&self, site: SiteId) -> PathBuf {
        self.cache_dir.join(format!("{site}.git"))
    }

    fn command(&self, repo: &Path) -> Command {
        let mut command = Command::new("git");
        command
            .arg("--git-dir")
            .arg(repo)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_ALLOW_PROTOCOL", if self.allow_file_urls { "https:ssh:file" } else { "https:ssh" })
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Fetches `git_ref` (or, when a push named it, `commit`) of `url` into the site's cache,
    /// with the deploy key `seed` for SSH URLs. Returns the commit and git's output.
    pub async fn fetch(
        &self,
        site: SiteId,
        url: &RepoUrl,
        git_ref: &RefName,
        commit: Option<&str>,
        seed: Option<&[u8]>,
    ) -> Result<(Commit, String), GitFailure> {
        let repo = self.repo(site);
        let mut log = String::new();
        if !repo.join("HEAD").exists() {
            tokio::fs::create_dir_all(&self.cache_dir).await.map_err(|e| io_failure("init", &e))?;
            let init = Command::new("git").arg("init").arg("--bare").arg("-q").arg(&repo).output().await;
            run_output("init", init, &mut log)?;
        }
        let key = match (seed, url.uses_ssh()) {
            (Some(seed), true) => {
                Some(KeyFile::write(&self.cache_dir, site, seed).await.map_err(|e| io_failure("fetch", &e))?)
            }
            _ => None,
        };
        let mut fetch = self.command(&repo);
        if let Some(key) = &key {
            let known = self.cache_dir.join("known_hosts");
            fetch.env(
                "GIT_SSH_COMMAND",
                format!(
                    "ssh -i '{}' -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile='{}'",
                    key.path.display(),
                    known.display()
                ),
            );
        }
        fetch.args(["fetch", "--no-tags", "--quiet", "--force", url.as_str(), git_ref.as_str()]);
        let fetched = tokio::time::timeout(self.fetch_timeout, fetch.output()).await;
        drop(key);
        let fetched = fetched.map_err(|_| GitFailure {
            what: "fetch",
            exit_code: None,
            log: format!("the fetch took longer than {:?}", self.fetch_timeout),
        })?;
        run_output("fetch", fetched, &mut log)?;
        let wanted = match commit {
            Some(id) if self.has_commit(&repo, id).await => id.to_owned(),
            _ => "FETCH_HEAD".to_owned(),
        };
        let mut show = self.command(&repo);
        show.args(["log", "-1", "--format=%H%x00%an%x00%s", &wanted, "--"]);
        let shown = run_output("log", show.output().await, &mut String::new())?;
        let mut parts = shown.trim_end().splitn(3, '\0');
        let id = parts.next().unwrap_or_default().to_owned();
        let author = parts.next().unwrap_or_default().to_owned();
        let message = parts.next().unwrap_or_default().to_owned();
        if id.len() != 40 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(GitFailure { what: "log", exit_code: None, log: format!("not a commit id: {id:?}") });
        }
        Ok((Commit { id, author, message }, log))
    }

    async fn has_commit(&self, repo: &Path, id: &str) -> bool {
        if !(7..=64).contains(&id.len()) || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return false;
        }
        let mut check = self.command(repo);
        check.args(["cat-file", "-e", &format!("{id}^{{commit}}")]);
        check.output().await.is_ok_and(|o| o.status.success())
    }

    /// Streams `git archive` of `commit` (a tar) into `sink`, chunk by chunk. Returns the bytes
    /// sent; dropping the receiver stops git.
    pub async fn archive(
        &self,
        site: SiteId,
        commit: &str,
        sink: mpsc::Sender<Bytes>,
    ) -> Result<u64, GitFailure> {
        let repo = self.repo(site);
        let mut archive = self.command(&repo);
        archive.args(["archive", "--format=tar", commit]).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = archive.spawn().map_err(|e| io_failure("archive", &e))?;
        let mut stdout =
            child.stdout.take().ok_or_else(|| io_failure("archive", &std::io::Error::other("no stdout")))?;
        let mut sent = 0u64;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = stdout.read(&mut buffer).await.map_err(|e| io_failure("archive", &e))?;
            if n == 0 {
                break;
            }
            sent += n as u64;
            if sink.send(Bytes::copy_from_slice(&buffer[..n])).await.is_err() {
                let _ = child.kill().await;
                return Err(GitFailure {
                    what: "archive",
                    exit_code: None,
                    log: "the node stopped reading".to_owned(),
                });
            }
        }
        drop(sink);
        let output = child.wait_with_output().await.map_err(|e| io_failure("archive", &e))?;
        if !output.status.success() {
            return Err(GitFailure {
                what: "archive",
                exit_code: output.status.code(),
                log: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(sent)
    }
}

fn run_output(
    what: &'static str,
    output: std::io::Result<std::process::Output>,
    log: &mut String,
) -> Result<String, GitFailure> {
    let output = output.map_err(|e| io_failure(what, &e))?;
    log.push_str(&String::from_utf8_lossy(&output.stderr));
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(GitFailure { what, exit_code: output.status.code(), log: log.clone() })
    }
}

fn io_failure(what: &'static str, error: &std::io::Error) -> GitFailure {
    GitFailure { what, exit_code: None, log: error.to_string() }
}

/// A deploy key written for one fetch (mode 0600), removed when dropped.
struct KeyFile {
    path: PathBuf,
}

impl KeyFile {
    async fn write(dir: &Path, site: SiteId, seed: &[u8]) -> std::io::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let seed: [u8; 32] =
            seed.try_into().map_err(|_| std::io::Error::other("a deploy key is 32 bytes"))?;
        let path = dir.join(format!(".key-{site}-{}", uuid::Uuid::now_v7().simple()));
        let text = openssh_private_key(&seed, &format!("berth-site-{site}"));
        let file = path.clone();
        tokio::task::spawn_blocking(move || {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true).mode(0o600);
            std::io::Write::write_all(&mut options.open(&file)?, text.as_bytes())
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(Self { path })
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The OpenSSH private key file (unencrypted `openssh-key-v1`) of an Ed25519 seed, as
/// `ssh -i` reads it.
pub fn openssh_private_key(seed: &[u8; 32], comment: &str) -> String {
    use ring::signature::{Ed25519KeyPair, KeyPair};
    let pair = Ed25519KeyPair::from_seed_unchecked(seed).expect("any 32 bytes are an Ed25519 seed");
    let public = pair.public_key().as_ref().to_vec();
    fn string(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    let mut public_blob = Vec::new();
    string(&mut public_blob, b"ssh-ed25519");
    string(&mut public_blob, &public);
    let check = u32::from_be_bytes(seed[..4].try_into().unwrap_or([0; 4])).to_be_bytes();
    let mut private = Vec::new();
    private.extend_from_slice(&check);
    private.extend_from_slice(&check);
    string(&mut private, b"ssh-ed25519");
    string(&mut private, &public);
    let mut secret = seed.to_vec();
    secret.extend_from_slice(&public);
    string(&mut private, &secret);
    string(&mut private, comment.as_bytes());
    let mut pad = 1u8;
    while private.len() % 8 != 0 {
        private.push(pad);
        pad += 1;
    }
    let mut blob = b"openssh-key-v1\0".to_vec();
    string(&mut blob, b"none");
    string(&mut blob, b"none");
    string(&mut blob, b"");
    blob.extend_from_slice(&1u32.to_be_bytes());
    string(&mut blob, &public_blob);
    string(&mut blob, &private);
    secret.iter_mut().for_each(|b| *b = 0);
    private.iter_mut().for_each(|b| *b = 0);
    let encoded = STANDARD.encode(&blob);
    blob.iter_mut().for_each(|b| *b = 0);
    let mut text = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for line in encoded.as_bytes().chunks(70) {
        text.push_str(&String::from_utf8_lossy(line));
        text.push('\n');
    }
    text.push_str("-----END OPENSSH PRIVATE KEY-----\n");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ssh-keygen -y` derives the public key from the file: the format is one OpenSSH reads.
    #[test]
    fn the_private_key_file_is_one_openssh_reads() {
        let seed = [7u8; 32];
        let dir = std::env::temp_dir().join(format!("berth-key-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, openssh_private_key(&seed, "test")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let out = std::process::Command::new("ssh-keygen").arg("-y").arg("-f").arg(&path).output().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let derived = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            derived.split_whitespace().nth(1),
            berth_eventstore::vault::public_line(&seed).split_whitespace().nth(1)
        );
    }
}
