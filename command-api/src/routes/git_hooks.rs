//! `POST /v1/hooks/git/{site_id}`: push webhooks from GitHub, GitLab and anything that signs
//! as GitHub does.
//!
//! The signature is checked over the raw body before anything is read from it: GitHub's
//! `X-Hub-Signature-256` (HMAC-SHA256 of the body with the site's webhook secret), or GitLab's
//! `X-Gitlab-Token` (the secret itself), both compared in constant time. A bad or missing one
//! is 401 and queues nothing. Each delivery is processed once: the deployment is queued by a
//! command whose id derives from the sender's delivery id, so a redelivery finds that command
//! and queues nothing more.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use berth_domain::ids::{DeploymentId, SiteId};
use berth_domain::repository::{RefName, Repository, RepositoryCommand, Trigger};
use berth_http::extract::ApiPath;
use berth_http::ApiError;
use ring::hmac;
use serde::{Deserialize, Serialize};

use crate::accepted::Located;
use crate::auth::Anonymous;
use crate::{AppState, View};

/// The git webhook route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/hooks/git/{site_id}", post(receive))
}

/// What Berth made of a delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HookAnswer {
    /// The site's id (its repository's).
    pub id: uuid::Uuid,
    /// The repository's version after the delivery.
    #[schema(minimum = 0)]
    pub version: i64,
    /// `queued`, `duplicate` (this delivery was processed before) or `ignored`.
    pub outcome: String,
    /// Why it was ignored.
    pub reason: Option<String>,
    /// The deployment queued.
    pub deployment_id: Option<uuid::Uuid>,
}

/// The part of a push event Berth reads (GitHub's and GitLab's agree on these).
#[derive(Debug, Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    after: Option<String>,
    #[serde(default)]
    deleted: bool,
}

/// Receive a push webhook (GitHub or GitLab calls it).
///
/// Verified by `X-Hub-Signature-256` (`sha256=` and the hex HMAC-SHA256 of the body with the
/// site's webhook secret) or `X-Gitlab-Token`. A push to the repository's branch queues a
/// deployment (202); other events and branches are ignored with 202 and a reason.
#[utoipa::path(post, path = "/v1/hooks/git/{site_id}", operation_id = "git_push_webhook", tag = "deployments",
    request_body(content = serde_json::Value, description = "A push event, as GitHub or GitLab sends it", content_type = "application/json"),
    params(("site_id" = uuid::Uuid, Path, description = "The site's id"),
           ("X-Hub-Signature-256" = Option<String>, Header, description = "sha256=<hex HMAC-SHA256 of the body>"),
           ("X-Gitlab-Token" = Option<String>, Header, description = "The webhook secret (GitLab)"),
           ("X-GitHub-Delivery" = Option<String>, Header, description = "The delivery id (GitHub)"),
           ("X-Gitlab-Event-UUID" = Option<String>, Header, description = "The delivery id (GitLab)")),
    responses((status = 202, description = "Queued, a repeat, or ignored", body = HookAnswer),
              (status = 400, description = "Not a push event Berth can read", body = berth_http::Problem, content_type = "application/problem+json"),
              (status = 401, description = "Missing or forged signature", body = berth_http::Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such site, or it has no repository", body = berth_http::Problem, content_type = "application/problem+json")))]
async fn receive(
    State(state): State<AppState>,
    anonymous: Anonymous,
    ApiPath(site_id): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Located<HookAnswer>, ApiError> {
    let site_id: SiteId = crate::routes::parse_id(&site_id)?;
    let loaded = state.store.load::<Repository>(&site_id.to_string()).await?;
    let repo = loaded.aggregate;
    let Some(config) = repo.config().cloned() else { return Err(ApiError::NotFound) };
    let secret = state
        .vault
        .open(&state.pool, config.webhook_secret_id)
        .await
        .map_err(|e| ApiError::Internal(format!("the webhook secret of site {site_id}: {e}")))?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let provider = match verify(&secret, &body, header("x-hub-signature-256"), header("x-gitlab-token")) {
        Ok(provider) => provider,
        Err(why) => {
            metrics::counter!("berth_git_hooks_refused_total").increment(1);
            tracing::warn!(site_id = %site_id, why, "a git webhook was refused");
            return Err(ApiError::Unauthorized(why.to_owned()));
        }
    };
    let answer = |version: i64, outcome: &str, reason: Option<String>, deployment: Option<DeploymentId>| {
        metrics::counter!("berth_git_hooks_total", "outcome" => outcome.to_owned()).increment(1);
        let view = match deployment {
            Some(id) => View::Deployment(id.as_uuid()),
            None => View::Repository(site_id.as_uuid()),
        };
        let body = HookAnswer {
            id: site_id.as_uuid(),
            version,
            outcome: outcome.to_owned(),
            reason,
            deployment_id: deployment.map(|d| d.as_uuid()),
        };
        Located::new(StatusCode::ACCEPTED, state.links.to(view, version), body)
    };
    let ignored = |reason: String| Ok(answer(loaded.version, "ignored", Some(reason), None));
    let event = header("x-github-event").or_else(|| header("x-gitlab-event")).unwrap_or("push");
    if !matches!(event, "push" | "Push Hook") {
        return ignored(format!("`{event}` is not a push"));
    }
    let push: Push = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest { detail: format!("not a push event: {e}"), field: None })?;
    let wanted = format!("refs/heads/{}", config.branch.as_str());
    let pushed = push.git_ref.unwrap_or_default();
    if pushed != wanted {
        return ignored(format!("a push to `{pushed}`; `{wanted}` is deployed"));
    }
    let commit = push.after.filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    if push.deleted || commit.as_deref().is_some_and(|c| c.bytes().all(|b| b == b'0')) {
        return ignored("the branch was deleted".to_owned());
    }
    let delivery = header("x-github-delivery")
        .or_else(|| header("x-gitlab-event-uuid"))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{pushed}@{}", commit.as_deref().unwrap_or("")));
    let mut meta = anonymous.metadata(Some(config.tenant_id.as_uuid()), format!("webhook:{provider}"));
    meta.command_id = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("berth:git-delivery:{site_id}:{provider}:{delivery}").as_bytes(),
    );
    let deployment_id = DeploymentId::from_uuid(uuid::Uuid::now_v7());
    let command = RepositoryCommand::Queue {
        deployment_id,
        git_ref: RefName::parse(config.branch.as_str()).unwrap_or(config.branch.clone()),
        commit,
        trigger: Trigger::Push { provider: provider.to_owned(), delivery },
        now: state.clock.now(),
    };
    let outcome =
        state.store.execute::<Repository>(&site_id.to_string(), command, &meta, state.retry).await?;
    Ok(if outcome.duplicate {
        answer(outcome.version, "duplicate", None, None)
    } else {
        answer(outcome.version, "queued", None, Some(deployment_id))
    })
}

/// Checks a delivery's signature; the provider it signs as, or why it is refused.
fn verify(
    secret: &[u8],
    body: &[u8],
    github: Option<&str>,
    gitlab: Option<&str>,
) -> Result<&'static str, &'static str> {
    if let Some(signature) = github {
        let hex = signature.strip_prefix("sha256=").ok_or("X-Hub-Signature-256 must be sha256=<hex>")?;
        let tag = decode_hex(hex).ok_or("X-Hub-Signature-256 must be sha256=<hex>")?;
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        return hmac::verify(&key, body, &tag)
            .map(|()| "github")
            .map_err(|_| "X-Hub-Signature-256 does not match");
    }
    if let Some(token) = gitlab {
        // Comparing the MACs of both under a fresh key takes the same time wherever they differ.
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &ring::rand::SystemRandom::new())
            .map_err(|_| "X-Gitlab-Token could not be checked")?;
        let expected = hmac::sign(&key, secret);
        return hmac::verify(&key, token.as_bytes(), expected.as_ref())
            .map(|()| "gitlab")
            .map_err(|_| "X-Gitlab-Token does not match");
    }
    Err("X-Hub-Signature-256 or X-Gitlab-Token is required")
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() != 64 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), body);
        format!("sha256={}", tag.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    #[test]
    fn signatures_are_checked_as_github_and_gitlab_make_them() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        assert_eq!(verify(b"s3cret", body, Some(&sign(b"s3cret", body)), None), Ok("github"));
        assert!(verify(b"s3cret", body, Some(&sign(b"other", body)), None).is_err());
        assert!(verify(b"s3cret", b"{}", Some(&sign(b"s3cret", body)), None).is_err());
        assert!(verify(b"s3cret", body, Some("sha1=abc"), None).is_err());
        assert_eq!(verify(b"s3cret", body, None, Some("s3cret")), Ok("gitlab"));
        assert!(verify(b"s3cret", body, None, Some("s3cre")).is_err());
        assert!(verify(b"s3cret", body, None, None).is_err());
    }
}
