//! `/v1/certificates` and `/v1/certificates/{id}` (a site's certificate, by the site's id),
//! and for operators `/v1/ops/certificates/expiring` and `/v1/ops/certificates/failing`.

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

use crate::auth::{OperatorReader, Reader};
use crate::page::VersionParams;
use crate::page::{paginate, Page, PageParams};
use crate::scope::at_version;
use crate::AppState;

/// The certificate routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/certificates", get(list))
        .route("/v1/certificates/{id}", get(detail))
        .route("/v1/ops/certificates/expiring", get(expiring))
        .route("/v1/ops/certificates/failing", get(failing))
}

/// A site's certificate as the read side shows it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CertificateView {
    /// The site's id.
    pub site_id: Uuid,
    /// The site's domain.
    pub domain: String,
    /// Where the certificate stands.
    #[schema(value_type = berth_http::schema::CertificateStatusName)]
    pub status: String,
    /// Set while a certificate exists and another attempt is under way or failing.
    #[schema(value_type = Option<berth_http::schema::RenewalStateName>)]
    pub renewal: Option<String>,
    /// The names last asked for.
    #[schema(value_type = Vec<String>)]
    pub names: serde_json::Value,
    /// Whether `*.<domain>` is asked for.
    pub wildcard: bool,
    /// Whether HTTPS answers carry HSTS.
    pub hsts: bool,
    /// The certificate's serial, hexadecimal.
    pub serial: Option<String>,
    /// Who issued it.
    pub issuer: Option<String>,
    /// The names it covers.
    #[schema(value_type = Option<Vec<String>>)]
    pub covers: Option<serde_json::Value>,
    /// Valid from.
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_before: Option<OffsetDateTime>,
    /// Valid until.
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
    /// How the CA checked the names.
    #[schema(value_type = Option<berth_http::schema::ChallengeMethodName>)]
    pub method: Option<String>,
    /// When renewal starts.
    #[serde(with = "time::serde::rfc3339::option")]
    pub renew_at: Option<OffsetDateTime>,
    /// When the node started serving it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub installed_at: Option<OffsetDateTime>,
    /// The last attempt's number.
    #[schema(minimum = 1)]
    pub attempt: i32,
    /// Why it was started.
    #[schema(value_type = berth_http::schema::CertificateReasonName)]
    pub attempt_reason: String,
    /// When it was started.
    #[serde(with = "time::serde::rfc3339")]
    pub attempt_at: OffsetDateTime,
    /// How it ended: `pending`, `issued` or `failed`.
    pub outcome: String,
    /// What failed, for programs.
    #[schema(value_type = Option<berth_http::schema::CertificateFailureName>)]
    pub error_code: Option<String>,
    /// What failed, for people.
    pub last_error: Option<String>,
    /// When the next attempt starts, after a failure.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retry_at: Option<OffsetDateTime>,
    /// Attempts failed in a row.
    #[schema(minimum = 0)]
    pub failures: i32,
    /// The last expiry warning sent while renewal keeps failing (30, 14 or 7 days).
    pub warned_days: Option<i32>,
    /// The certificate aggregate's version (its ETag).
    #[schema(minimum = 1)]
    pub version: i64,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "site_id, domain, status, renewal, names, wildcard, hsts, serial, issuer, covers, not_before,
    not_after, method, renew_at, installed_at, attempt, attempt_reason, attempt_at, outcome, error_code, last_error,
    retry_at, failures, warned_days, version, updated_at";

/// List the tenant's certificates, in pages.
#[utoipa::path(get, path = "/v1/certificates", operation_id = "list_certificates", tag = "certificates", params(PageParams),
    responses((status = 200, description = "A page of certificates", body = Page<CertificateView>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<CertificateView>>, ApiError> {
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut tx = reader.scope(&state).await?;
    let rows: Vec<CertificateView> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM proj_certificates.certificates
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR site_id > $2) ORDER BY site_id LIMIT $3"
    ))
    .bind(reader.tenant_id)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Json(paginate(rows, limit, |c| c.site_id.to_string())))
}

/// A site's certificate: issuer, names, validity, and the last attempt with its outcome.
#[utoipa::path(get, path = "/v1/certificates/{id}", operation_id = "get_certificate", tag = "certificates",
    params(("id" = uuid::Uuid, Path, description = "The site's id"), VersionParams),
    responses((status = 200, description = "The site's certificate", body = CertificateView)), security(("bearer" = [])))]
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
        let row: Option<CertificateView> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM proj_certificates.certificates WHERE tenant_id = $1 AND site_id = $2"
        ))
        .bind(reader.tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(row)
    };
    let row =
        at_version(&state.reads, "certificates", params.min_version, |c: &CertificateView| c.version, read)
            .await?;
    Ok(versioned(row.version, row, &if_none_match))
}

/// A live certificate as operators watch it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct WatchedCertificate {
    /// The site's id.
    pub site_id: Uuid,
    /// Its tenant.
    pub tenant: Uuid,
    /// Its domain.
    pub domain: String,
    /// When its certificate expires.
    #[serde(with = "time::serde::rfc3339::option")]
    pub not_after: Option<OffsetDateTime>,
    /// Whether its renewal window has opened.
    pub renewal_due: bool,
    /// Whether its renewal keeps failing.
    pub failing: bool,
    /// Attempts failed in a row.
    pub failures: i32,
    /// The last failure.
    pub last_error: Option<String>,
    /// When the next attempt starts.
    #[serde(with = "time::serde::rfc3339::option")]
    pub retry_at: Option<OffsetDateTime>,
}

async fn watched(
    state: &AppState,
    operator: &OperatorReader,
    page: &PageParams,
    filter: &str,
) -> Result<Json<Page<WatchedCertificate>>, ApiError> {
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut tx = operator.scope(state).await?;
    let rows: Vec<WatchedCertificate> = sqlx::query_as(&format!(
        "SELECT site_id, tenant, domain, not_after, renewal_due, failing, failures, last_error, retry_at
           FROM proj_certificate_watch.watched
          WHERE ({filter}) AND ($1::uuid IS NULL OR site_id > $1) ORDER BY site_id LIMIT $2"
    ))
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Json(paginate(rows, limit, |c| c.site_id.to_string())))
}

/// Every certificate expiring within 30 days or whose renewal window has opened (operators only).
#[utoipa::path(get, path = "/v1/ops/certificates/expiring", operation_id = "list_expiring_certificates", tag = "operations",
    params(PageParams), responses((status = 200, description = "A page of certificates near their expiry", body = Page<WatchedCertificate>)),
    security(("bearer" = [])))]
async fn expiring(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<WatchedCertificate>>, ApiError> {
    // The renewal window opens on Berth's own clock (the renewal timer); the date catches a
    // certificate whose timer has not fired.
    watched(&state, &operator, &page, "renewal_due OR not_after < now() + interval '30 days'").await
}

/// Every certificate whose renewal keeps failing (operators only).
#[utoipa::path(get, path = "/v1/ops/certificates/failing", operation_id = "list_failing_renewals", tag = "operations",
    params(PageParams), responses((status = 200, description = "A page of certificates whose renewal fails", body = Page<WatchedCertificate>)),
    security(("bearer" = [])))]
async fn failing(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<WatchedCertificate>>, ApiError> {
    watched(&state, &operator, &page, "failing").await
}
