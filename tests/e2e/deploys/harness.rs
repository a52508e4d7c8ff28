//! What the deployment tests share: a bare git repository on this machine with a working
//! clone to commit and push from, and push webhooks signed as GitHub signs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::Method;
use ring::hmac;
use serde_json::{json, Value};

use crate::api::Api;

/// A bare repository (`origin.git`) and a clone of it to commit from; removed when dropped.
pub struct GitRepo {
    pub dir: PathBuf,
    pub url: String,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.test")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.test")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

impl GitRepo {
    /// A new empty repository whose branch is `main`.
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("berth-deploy-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(dir.join("work")).unwrap();
        git(&dir, &["init", "--bare", "-q", "-b", "main", "origin.git"]);
        let work = dir.join("work");
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["remote", "add", "origin", dir.join("origin.git").to_str().unwrap()]);
        let url = format!("file://{}", dir.join("origin.git").display());
        Self { dir, url }
    }

    /// Writes `files` (path, content), commits them as `message` and pushes; the commit id.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        let work = self.dir.join("work");
        for (path, content) in files {
            let path = work.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", message]);
        git(&work, &["push", "-q", "origin", "main"]);
        git(&work, &["rev-parse", "HEAD"])
    }
}

impl Drop for GitRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// GitHub's `X-Hub-Signature-256` of `body` under `secret`.
pub fn github_signature(secret: &str, body: &[u8]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()), body);
    format!("sha256={}", tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Delivers a push of `commit` to `branch` as GitHub would, signed with `secret` (or forged);
/// the status and answer.
pub async fn deliver_push(
    api: &Api,
    site: &str,
    secret: &str,
    branch: &str,
    commit: &str,
    delivery: &str,
) -> (u16, Value) {
    let body = serde_json::to_vec(&json!({
        "ref": format!("refs/heads/{branch}"),
        "before": "0000000000000000000000000000000000000000",
        "after": commit,
        "deleted": false,
        "repository": {"full_name": "acme/shop"},
    }))
    .unwrap();
    let response = api
        .http
        .post(format!("{}/v1/hooks/git/{site}", api.command))
        .header("Content-Type", "application/json")
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", delivery)
        .header("X-Hub-Signature-256", github_signature(secret, &body))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `PUT /v1/sites/{site}/repository`: status and answer.
pub async fn configure(api: &Api, token: &str, site: &str, body: Value) -> (u16, Value) {
    let response =
        api.send(Method::PUT, &format!("/v1/sites/{site}/repository"), Some(token), Some(body)).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
