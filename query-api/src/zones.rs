//! `/v1/zones` and `/v1/zones/{id}`: the tenant's DNS zones and their records.

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
use crate::page::{paginate, Page, PageParams};
use crate::scope::at_version;
use crate::AppState;

/// The zone routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/zones", get(list)).route("/v1/zones/{id}", get(detail))
}

/// A zone as the read side shows it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ZoneView {
    /// The zone's id.
    pub id: Uuid,
    /// Its name (the apex).
    pub name: String,
    /// Where it is in its life.
    #[schema(value_type = berth_http::schema::ZoneStatusName)]
    pub status: String,
    /// Changes to its records so far.
    #[schema(minimum = 1)]
    pub revision: i64,
    /// The revision the DNS servers hold: equal to `revision` once every change is served.
    #[schema(minimum = 0)]
    pub published_revision: i64,
    /// Why the DNS server last refused the zone, if it did.
    pub last_error: Option<String>,
    /// How often records were found changed on the DNS server behind Berth's back (and put back).
    #[schema(minimum = 0)]
    pub drift_found: i64,
    /// When that last happened.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_drift_at: Option<OffsetDateTime>,
    /// The aggregate version this row reflects (its ETag).
    #[schema(minimum = 1)]
    pub version: i64,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// One record set of a zone.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RecordSetView {
    /// The owner name, absolute, without the final dot.
    pub name: String,
    /// The type.
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    #[schema(value_type = berth_http::schema::RecordTypeName)]
    pub rtype: String,
    /// Seconds resolvers may keep it.
    pub ttl: i32,
    /// The values, in canonical zone-file form.
    #[schema(value_type = Vec<String>)]
    pub records: serde_json::Value,
}

/// A zone with its record sets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ZoneDetail {
    /// The zone.
    #[serde(flatten)]
    pub zone: ZoneView,
    /// Its record sets, by name and type.
    pub records: Vec<RecordSetView>,
}

const COLUMNS: &str =
    "id, name, status, revision, published_revision, last_error, drift_found, last_drift_at, version, created_at, updated_at";

/// List the tenant's zones, in pages.
#[utoipa::path(get, path = "/v1/zones", operation_id = "list_zones", tag = "dns", params(PageParams),
    responses((status = 200, description = "A page of zones", body = Page<ZoneView>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<ZoneView>>, ApiError> {
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut tx = reader.scope(&state).await?;
    let rows: Vec<ZoneView> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM proj_zones.zones
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
    ))
    .bind(reader.tenant_id)
    .bind(after)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Json(paginate(rows, limit, |z| z.id.to_string())))
}

/// A zone and its record sets.
#[utoipa::path(get, path = "/v1/zones/{id}", operation_id = "get_zone", tag = "dns",
    params(("id" = uuid::Uuid, Path, description = "The zone's id"), VersionParams),
    responses((status = 200, description = "The zone and its records", body = ZoneDetail)), security(("bearer" = [])))]
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
        let zone: Option<ZoneView> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM proj_zones.zones WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(reader.tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(zone) = zone else {
            return Ok(None);
        };
        let records: Vec<RecordSetView> = sqlx::query_as(
            "SELECT name, type, ttl, records FROM proj_zones.zone_records
              WHERE tenant_id = $1 AND zone_id = $2 ORDER BY name, type",
        )
        .bind(reader.tenant_id)
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        Ok(Some(ZoneDetail { zone, records }))
    };
    let detail =
        at_version(&state.reads, "zones", params.min_version, |d: &ZoneDetail| d.zone.version, read).await?;
    Ok(versioned(detail.zone.version, detail, &if_none_match))
}
