//! `/v1/sites/{id}/repository` (a site's repository, the release serving and those kept),
//! `/v1/sites/{id}/deployments` (its deployments) and `/v1/deployments/{id}` (one, with its
//! steps and, for a failure, the step, exit code and log tail); `/v1/deployments/{id}/log`, its
//! full log, from the object storage the deploy saga keeps it in.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::conditional::{versioned, IfNoneMatch};
use berth_http::extract::{ApiPath, ApiQuery};
use berth_http::ApiError;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Reader;
use crate::page::{paginate, Page, PageParams, VersionParams};
use crate::scope::at_version;
use crate::AppState;

/// The deployment routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sites/{id}/repository", get(repository))
        .route("/v1/sites/{id}/deployments", get(list))
        .route("/v1/deployments/{id}", get(detail))
        .route("/v1/deployments/{id}/log", get(log))
}

/// A site's repository as the read side shows it (never its secrets).
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RepositoryView {
    /// The site's id.
    pub site_id: Uuid,
    /// Where the code is.
    pub url: String,
    /// The branch whose pushes are deployed.
    pub branch: String,
    /// How it is built: `commands`, `post_deploy`, `public_dir`, `keep_releases`,
    /// `timeout_secs`.
    #[schema(value_type = Object)]
    pub build: serde_json::Value,
    /// The deploy key's public half.
    pub public_key: String,
    /// The deployment whose release serves.
    pub current_release: Option<Uuid>,
    /// The deployments whose releases are kept on the node, oldest first (rollback targets).
    #[schema(value_type = Vec<Uuid>)]
    pub kept: serde_json::Value,
    /// The repository aggregate's version (its ETag).
    #[schema(minimum = 1)]
    pub version: i64,
}

/// One deployment as the read side shows it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DeploymentView {
    /// The deployment's id (its release's name on the node).
    pub deployment_id: Uuid,
    /// The site.
    pub site_id: Uuid,
    /// The branch, tag or commit deployed.
    pub git_ref: String,
    /// The commit, once fetched.
    pub commit_id: Option<String>,
    /// Its author.
    pub author: Option<String>,
    /// Its subject line.
    pub message: Option<String>,
    /// `push`, `manual` or `rollback`.
    pub trigger: String,
    /// For a rollback, the deployment switched back to.
    pub rollback_to: Option<Uuid>,
    /// `queued`, `running`, `succeeded`, `failed` or `superseded` (a newer one replaced it
    /// before it started).
    pub status: String,
    /// The deployment that replaced it.
    pub superseded_by: Option<Uuid>,
    /// The release serving after it succeeded.
    pub release: Option<Uuid>,
    /// The step that failed: fetch, upload, build, switch or health_check.
    pub failed_step: Option<String>,
    /// The exit code of the command that failed.
    pub exit_code: Option<i32>,
    /// Why it failed.
    pub reason: Option<String>,
    /// The end of the failed step's log.
    pub log_tail: Option<String>,
    /// The object in the backup bucket holding the full log.
    pub log_key: Option<String>,
    /// The steps as they ended: `step`, `status`, `started_at`, `finished_at`, `duration_ms`.
    #[schema(value_type = Vec<Object>)]
    pub steps: serde_json::Value,
    /// When it was asked for.
    #[serde(with = "time::serde::rfc3339")]
    pub queued_at: OffsetDateTime,
    /// When it started.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// The repository aggregate's version when this deployment last changed.
    #[schema(minimum = 1)]
    pub version: i64,
}

const COLUMNS: &str =
    "deployment_id, site_id, git_ref, commit_id, author, message, trigger, rollback_to, status,
    superseded_by, release, failed_step, exit_code, reason, log_tail, log_key, steps, queued_at, started_at,
    finished_at, version";

/// A site's repository: URL, branch, build, deploy key, and the releases kept.
#[utoipa::path(get, path = "/v1/sites/{id}/repository", operation_id = "get_site_repository", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "The site's id"), VersionParams),
    responses((status = 200, description = "The repository", body = RepositoryView),
              (status = 404, description = "No such site, or it has no repository", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn repository(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let site: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let read = || async {
        let mut tx = reader.scope(&state).await?;
        let row: Option<RepositoryView> = sqlx::query_as(
            "SELECT site_id, url, branch, build, public_key, current_release, kept, version
               FROM proj_deployments.repositories WHERE tenant_id = $1 AND site_id = $2",
        )
        .bind(reader.tenant_id)
        .bind(site)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row)
    };
    let row =
        at_version(&state.reads, "deployments", params.min_version, |r: &RepositoryView| r.version, read)
            .await?;
    Ok(versioned(row.version, row, &if_none_match))
}

/// List a site's deployments, newest first, in pages.
#[utoipa::path(get, path = "/v1/sites/{id}/deployments", operation_id = "list_site_deployments", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "The site's id"), PageParams),
    responses((status = 200, description = "A page of the site's deployments", body = Page<DeploymentView>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<DeploymentView>>, ApiError> {
    let site: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let limit = page.limit()?;
    let before = page.after::<Uuid>()?;
    let mut tx = reader.scope(&state).await?;
    let rows: Vec<DeploymentView> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM proj_deployments.deployments
          WHERE tenant_id = $1 AND site_id = $2 AND ($3::uuid IS NULL OR deployment_id < $3)
          ORDER BY deployment_id DESC LIMIT $4"
    ))
    .bind(reader.tenant_id)
    .bind(site)
    .bind(before)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Json(paginate(rows, limit, |d| d.deployment_id.to_string())))
}

/// A deployment: commit, trigger, status, steps with timings, and why it failed.
#[utoipa::path(get, path = "/v1/deployments/{id}", operation_id = "get_deployment", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "The deployment's id"), VersionParams),
    responses((status = 200, description = "The deployment", body = DeploymentView),
              (status = 404, description = "No such deployment", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn detail(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let read = || async {
        let mut tx = reader.scope(&state).await?;
        let row: Option<DeploymentView> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM proj_deployments.deployments WHERE tenant_id = $1 AND deployment_id = $2"
        ))
        .bind(reader.tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row)
    };
    let row =
        at_version(&state.reads, "deployments", params.min_version, |d: &DeploymentView| d.version, read)
            .await?;
    Ok(versioned(row.version, row, &if_none_match))
}

/// A finished deployment's full log: every step's command output, as plain text.
///
/// The log is stored when the deployment ends (the history keeps its tail); one still running,
/// or one whose log could not be stored, has none yet.
#[utoipa::path(get, path = "/v1/deployments/{id}/log", operation_id = "get_deployment_log", tag = "deployments",
    params(("id" = uuid::Uuid, Path, description = "The deployment's id")),
    responses((status = 200, description = "The full log", content_type = "text/plain", body = String),
        (status = 404, description = "No such deployment of the tenant, or no log kept for it (yet)", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 503, description = "The log storage could not be read", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn log(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    use axum::response::IntoResponse as _;
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let mut tx = reader.scope(&state).await?;
    let key: Option<Option<String>> = sqlx::query_scalar(
        "SELECT log_key FROM proj_deployments.deployments WHERE tenant_id = $1 AND deployment_id = $2",
    )
    .bind(reader.tenant_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    drop(tx);
    let (Some(key), Some(store)) = (key.flatten(), state.logs.as_ref()) else {
        return Err(ApiError::NotFound);
    };
    let object =
        store.get(&object_store::path::Path::from(key.as_str())).await.map_err(|error| match error {
            object_store::Error::NotFound { .. } => ApiError::NotFound,
            _ => ApiError::Unavailable,
        })?;
    let bytes = object.bytes().await.map_err(|_| ApiError::Unavailable)?;
    let headers = [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    Ok((headers, bytes).into_response())
}
