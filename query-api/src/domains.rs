//! `/v1/sites/{id}/domains` and `/v1/sites/{id}/domains/{domain}`: a site's custom domains and
//! their verification.

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
use crate::page::VersionParams;
use crate::scope::at_version;
use crate::AppState;

/// The custom domain routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sites/{id}/domains", get(list))
        .route("/v1/sites/{id}/domains/{domain}", get(detail))
}

/// A site's custom domain.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DomainView {
    /// The domain.
    pub domain: String,
    /// The site.
    pub site_id: Uuid,
    /// Where its verification stands.
    #[schema(value_type = berth_http::schema::DomainStatusName)]
    pub status: String,
    /// What the TXT record `_berth-challenge.<domain>` must hold: `berth-verification=<token>`.
    pub token: String,
    /// When the claim lapses unless verified.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Looks for the record so far.
    #[schema(minimum = 0)]
    pub checks: i32,
    /// When Berth last looked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_check_at: Option<OffsetDateTime>,
    /// What the last look found instead.
    pub last_error: Option<String>,
    /// When Berth looks again.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_check_at: Option<OffsetDateTime>,
    /// When it was verified.
    #[serde(with = "time::serde::rfc3339::option")]
    pub verified_at: Option<OffsetDateTime>,
    /// The custom domain's version (its ETag).
    #[schema(minimum = 1)]
    pub version: i64,
}

const COLUMNS: &str =
    "domain, site_id, status, token, expires_at, checks, last_check_at, last_error, next_check_at, verified_at, version";

/// A site's custom domains, by name.
#[utoipa::path(get, path = "/v1/sites/{id}/domains", operation_id = "list_site_domains", tag = "domains",
    params(("id" = uuid::Uuid, Path, description = "The site's id")),
    responses((status = 200, description = "The site's custom domains", body = Vec<DomainView>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<DomainView>>, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let mut tx = reader.scope(&state).await?;
    let rows: Vec<DomainView> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM proj_domains.site_domains WHERE tenant_id = $1 AND site_id = $2 ORDER BY domain"
    ))
    .bind(reader.tenant_id)
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Json(rows))
}

/// One custom domain of a site, and its verification.
#[utoipa::path(get, path = "/v1/sites/{id}/domains/{domain}", operation_id = "get_site_domain", tag = "domains",
    params(("id" = uuid::Uuid, Path, description = "The site's id"), ("domain" = String, Path, description = "The custom domain"), VersionParams),
    responses((status = 200, description = "The custom domain", body = DomainView)), security(("bearer" = [])))]
async fn detail(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath((id, domain)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let read = || async {
        let mut tx = reader.scope(&state).await?;
        let row: Option<DomainView> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM proj_domains.site_domains WHERE tenant_id = $1 AND site_id = $2 AND domain = $3"
        ))
        .bind(reader.tenant_id)
        .bind(id)
        .bind(&domain)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row)
    };
    let row =
        at_version(&state.reads, "domains", params.min_version, |d: &DomainView| d.version, read).await?;
    Ok(versioned(row.version, row, &if_none_match))
}
