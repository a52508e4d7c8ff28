//! `PUT /v1/sites/{id}/repository`: where a site's code is, with a deploy key and a webhook
//! secret made for it; `POST /v1/sites/{id}/deploy`: deploy a ref now;
//! `POST /v1/deployments/{id}/rollback`: switch back to a kept release.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{post, put};
use axum::Router;
use berth_domain::ids::{DeploymentId, SiteId};
use berth_domain::repository::{
    BuildSpec, RefName, RepoUrl, Repository, RepositoryCommand, RepositoryError, Trigger,
};
use berth_domain::role::Permission;
use berth_eventstore::vault::SshKeyPair;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::{Deserialize, Serialize};

use crate::accepted::Located;
use crate::auth::Caller;
use crate::routes::owned_site;
use crate::{Accepted, AppState, View};

/// The deployment routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sites/{id}/repository", put(configure))
        .route("/v1/sites/{id}/deploy", post(deploy))
        .route("/v1/deployments/{id}/rollback", post(rollback))
}

/// How a site's code is built; every field may be left out.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildInput {
    /// Commands run in the new release as the site's user before it is switched in (after
    /// `composer install` for PHP and Laravel sites), one line each.
    #[schema(max_items = 10)]
    pub commands: Option<Vec<String>>,
    /// Commands run after the built-in steps (Laravel's migrations), before the switch.
    #[schema(max_items = 10)]
    pub post_deploy: Option<Vec<String>>,
    /// The directory of the repository that is served (default: `public` for Laravel, the
    /// repository's root otherwise).
    #[schema(max_length = 200, pattern = r"^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$")]
    pub public_dir: Option<String>,
    /// Releases kept on the node for rollbacks, the serving one included (default 5).
    #[schema(minimum = 1, maximum = 20)]
    pub keep_releases: Option<u32>,
    /// Seconds each command may run (default 600).
    #[schema(minimum = 1, maximum = 3600)]
    pub timeout_secs: Option<u32>,
}

/// `PUT /v1/sites/{id}/repository` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "git@github.com:acme/shop.git", "branch": "main", "build": {"commands": ["npm ci", "npm run build"]}}))]
pub struct ConfigureRepository {
    /// `https://host/path`, `ssh://host/path` or `user@host:path`.
    #[schema(max_length = 2048)]
    pub url: String,
    /// The branch whose pushes are deployed.
    #[schema(max_length = 255)]
    pub branch: String,
    /// How the code is built.
    pub build: Option<BuildInput>,
}

/// The answer to `PUT /v1/sites/{id}/repository`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RepositoryAnswer {
    /// The site's id (its repository's id).
    pub id: uuid::Uuid,
    /// The repository's version after the command.
    pub version: i64,
    /// The deploy key's public half: add it to the repository (GitHub, GitLab and Bitbucket
    /// call it a deploy key) so Berth can fetch over SSH.
    pub public_key: String,
    /// Where the repository's push webhook is to be sent.
    pub webhook_path: String,
    /// The webhook secret, in the answer that made it only: GitHub's webhook "secret", or
    /// GitLab's "secret token". `null` when the repository was set before.
    pub webhook_secret: Option<String>,
}

/// Set a site's repository; the first time, a deploy key and webhook secret are made.
///
/// Berth fetches the code itself (nodes hold no credentials): over SSH with the deploy key
/// returned here, or over HTTPS for a public repository. Setting it again keeps the key and
/// the secret. WordPress sites are refused (422).
#[utoipa::path(put, path = "/v1/sites/{id}/repository", operation_id = "configure_repository", tag = "deployments",
    request_body = ConfigureRepository, params(("id" = uuid::Uuid, Path, description = "The site's id")),
    responses((status = 202, description = "Set; the webhook secret is shown once", body = RepositoryAnswer),
              (status = 400, description = "A field is malformed", body = berth_http::Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such site", body = berth_http::Problem, content_type = "application/problem+json"),
              (status = 422, description = "A WordPress site", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn configure(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ConfigureRepository>,
) -> Result<Located<RepositoryAnswer>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    let url =
        RepoUrl::parse(body.url.trim(), state.allow_file_urls).map_err(|e| ApiError::field("url", e))?;
    let branch = RefName::parse(&body.branch).map_err(|e| ApiError::field("branch", e))?;
    let site = owned_site(&state, &caller, site_id).await?;
    let Some(kind) = site.kind() else { return Err(ApiError::NotFound) };
    let input = body.build.unwrap_or_default();
    let default_public = if kind == berth_domain::php::SiteKind::Laravel { "public" } else { "" };
    let build = BuildSpec {
        commands: input.commands.unwrap_or_default(),
        post_deploy: input.post_deploy.unwrap_or_default(),
        public_dir: input
            .public_dir
            .unwrap_or_else(|| default_public.to_owned())
            .trim_matches('/')
            .to_owned(),
        keep_releases: input.keep_releases.unwrap_or(BuildSpec::DEFAULT_KEEP),
        timeout_secs: input.timeout_secs.unwrap_or(BuildSpec::DEFAULT_TIMEOUT),
    }
    .check()
    .map_err(|(field, e)| ApiError::field(&format!("build.{field}"), e))?;
    let existing = state.store.load::<Repository>(&site_id.to_string()).await?.aggregate;
    let fresh = existing.config().is_none();
    let keys = SshKeyPair::generate(&format!("berth-site-{site_id}"));
    let secret = crate::secrets::new_token("bgw");
    let (deploy_key_id, webhook_secret_id) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let writes = if fresh {
        vec![
            state.vault.seal(deploy_key_id, &format!("deploy-key:site:{site_id}"), keys.seed.as_slice()),
            state.vault.seal(
                webhook_secret_id,
                &format!("git-webhook-secret:site:{site_id}"),
                secret.as_bytes(),
            ),
        ]
    } else {
        Vec::new()
    };
    let command = RepositoryCommand::Configure {
        site_id,
        tenant_id: caller.tenant_id,
        kind,
        url,
        branch,
        build,
        deploy_key_id,
        public_key: keys.public_line.clone(),
        webhook_secret_id,
        now: state.clock.now(),
    };
    let outcome = state
        .store
        .execute_with::<Repository>(&site_id.to_string(), command, &caller.metadata(), state.retry, &writes)
        .await?;
    // Of two first settings at once, one made the key the repository keeps; only its answer
    // shows the secret.
    let now = state.store.load::<Repository>(&site_id.to_string()).await?.aggregate;
    let config = now.config().ok_or(ApiError::NotFound)?;
    let made_here = fresh && config.webhook_secret_id == webhook_secret_id;
    let answer = RepositoryAnswer {
        id: site_id.as_uuid(),
        version: outcome.version,
        public_key: config.public_key.clone(),
        webhook_path: format!("/v1/hooks/git/{site_id}"),
        webhook_secret: made_here.then_some(secret),
    };
    let location = state.links.to(View::Repository(site_id.as_uuid()), outcome.version);
    Ok(Located::new(StatusCode::ACCEPTED, location, answer))
}

/// `POST /v1/sites/{id}/deploy` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"ref": "v1.4.0"}))]
pub struct DeployRef {
    /// A branch, tag or commit; the repository's branch when absent.
    #[serde(rename = "ref")]
    #[schema(max_length = 255)]
    pub git_ref: Option<String>,
}

/// Deploy a site's code now.
///
/// Queued behind a deployment that is running (one runs at a time per site); a newer one
/// replaces one still waiting. Follow it at the answer's `Location`.
#[utoipa::path(post, path = "/v1/sites/{id}/deploy", operation_id = "deploy_site", tag = "deployments",
    request_body = DeployRef, params(("id" = uuid::Uuid, Path, description = "The site's id")),
    responses((status = 202, description = "Queued", body = Accepted),
              (status = 400, description = "A malformed ref", body = berth_http::Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such site", body = berth_http::Problem, content_type = "application/problem+json"),
              (status = 409, description = "The site has no repository", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn deploy(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DeployRef>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    let git_ref =
        body.git_ref.as_deref().map(RefName::parse).transpose().map_err(|e| ApiError::field("ref", e))?;
    owned_site(&state, &caller, site_id).await?;
    let repo = state.store.load::<Repository>(&site_id.to_string()).await?.aggregate;
    let Some(config) = repo.config() else { return Err(ApiError::refused(&RepositoryError::NotConfigured)) };
    let deployment_id = DeploymentId::from_uuid(caller.new_id());
    let command = RepositoryCommand::Queue {
        deployment_id,
        git_ref: git_ref.unwrap_or_else(|| config.branch.clone()),
        commit: None,
        trigger: Trigger::Manual,
        now: state.clock.now(),
    };
    let outcome = state
        .store
        .execute::<Repository>(&site_id.to_string(), command, &caller.metadata(), state.retry)
        .await?;
    Ok(state.links.accepted(
        deployment_id.as_uuid(),
        outcome.version,
        View::Deployment(deployment_id.as_uuid()),
    ))
}

/// Switch a site back to the release of an earlier deployment.
///
/// The deployment must have succeeded and its release still be kept on the node (the
/// repository's `keep_releases`). The switch is a deployment of its own, queued like any
/// other; the site is health-checked after it.
#[utoipa::path(post, path = "/v1/deployments/{id}/rollback", operation_id = "rollback_deployment", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "The deployment whose release is switched back to")),
    responses((status = 202, description = "Queued", body = Accepted),
              (status = 404, description = "No such deployment", body = berth_http::Problem, content_type = "application/problem+json"),
              (status = 409, description = "Its release is not kept", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let target: DeploymentId = crate::routes::parse_id(&id)?;
    // The view finds the deployment's site; the repository's own log decides (a release
    // pruned since the view was written is refused below as not kept).
    let row: Option<(uuid::Uuid, String)> = sqlx::query_as(
        "SELECT site_id, git_ref FROM proj_deployments.deployments WHERE deployment_id = $1 AND tenant_id = $2",
    )
    .bind(target.as_uuid())
    .bind(caller.tenant_id.as_uuid())
    .fetch_optional(&state.pool)
    .await
    .map_err(berth_eventstore::error::StoreError::from)?;
    let Some((site, git_ref)) = row else { return Err(ApiError::NotFound) };
    let site_id = SiteId::from_uuid(site);
    owned_site(&state, &caller, site_id).await?;
    let git_ref = RefName::parse(&git_ref).map_err(|e| ApiError::Internal(e.to_string()))?;
    let deployment_id = DeploymentId::from_uuid(caller.new_id());
    let command = RepositoryCommand::Queue {
        deployment_id,
        git_ref,
        commit: None,
        trigger: Trigger::Rollback { to: target },
        now: state.clock.now(),
    };
    let outcome = state
        .store
        .execute::<Repository>(&site_id.to_string(), command, &caller.metadata(), state.retry)
        .await?;
    Ok(state.links.accepted(
        deployment_id.as_uuid(),
        outcome.version,
        View::Deployment(deployment_id.as_uuid()),
    ))
}
