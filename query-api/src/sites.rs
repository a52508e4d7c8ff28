//! `/v1/sites` and `/v1/sites/{id}`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::conditional::{versioned, IfNoneMatch};
use berth_http::extract::{ApiPath, ApiQuery};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Reader;
use crate::page::{one_of, paginate, Page, PageParams};
use crate::scope::at_version;
use crate::AppState;
use berth_http::ApiError;

/// The site routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sites", get(list)).route("/v1/sites/{id}", get(detail))
}

/// A site as the read side shows it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SiteView {
    /// The site's id.
    pub id: Uuid,
    /// Its host name.
    pub domain: String,
    /// What runs it.
    #[serde(rename = "type")]
    #[sqlx(rename = "kind")]
    #[schema(value_type = berth_http::schema::SiteType)]
    pub kind: String,
    /// Its PHP version.
    #[schema(value_type = Option<berth_http::schema::PhpVersionName>)]
    pub php_version: Option<String>,
    /// Its display label.
    pub label: Option<String>,
    /// Its lifecycle state.
    #[schema(value_type = berth_http::schema::SiteStatusName)]
    pub status: String,
    /// The aggregate version this row reflects (its ETag).
    #[schema(minimum = 1)]
    pub version: i64,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// For a staging copy, the production site it copies (such a site takes no place in the
    /// plan's site limit).
    pub staging_of: Option<Uuid>,
}

/// `GET /v1/sites` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only sites in this state.
    #[param(value_type = Option<berth_http::schema::SiteStatusName>)]
    pub status: Option<String>,
    /// Only sites of this type.
    #[serde(rename = "type")]
    #[param(value_type = Option<berth_http::schema::SiteType>)]
    pub kind: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Where to continue: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

const STATUSES: &[&str] =
    &["requested", "provisioning", "active", "suspended", "deleting", "deleted", "failed"];
const KINDS: &[&str] = &["wordpress", "php", "laravel", "static"];

/// List the tenant's sites, in pages, by status and type.
#[utoipa::path(get, path = "/v1/sites", operation_id = "list_sites", tag = "sites", params(ListParams),
    responses((status = 200, description = "A page of sites", body = Page<SiteView>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<SiteView>>, ApiError> {
    one_of("status", params.status.as_deref(), STATUSES)?;
    one_of("type", params.kind.as_deref(), KINDS)?;
    let page = PageParams { limit: params.limit, cursor: params.cursor.clone() };
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut tx = reader.scope(&state).await?;
    let rows: Vec<SiteView> = sqlx::query_as(
        "SELECT id, domain, kind, php_version, label, status, version, created_at, updated_at, staging_of FROM proj_sites.sites
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id > $2) AND ($3::text IS NULL OR status = $3)
            AND ($4::text IS NULL OR kind = $4)
          ORDER BY id LIMIT $5",
    )
    .bind(reader.tenant_id)
    .bind(after)
    .bind(params.status)
    .bind(params.kind)
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Json(paginate(rows, limit, |s| s.id.to_string())))
}

/// `GET /v1/sites/{id}` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DetailParams {
    /// Wait (up to 5 s) until the view reflects at least this version (read your own write).
    #[param(minimum = 0)]
    pub min_version: Option<i64>,
    /// The site as it was at this instant (RFC 3339), folded from the log rather than read
    /// from the view: its steps and errors are the view's and are left out.
    #[param(format = DateTime)]
    pub as_of: Option<String>,
}

/// The node a site is on.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteNode {
    /// The node's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: String,
}

/// One provisioning or operation step.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiteStep {
    /// Which step.
    #[schema(value_type = berth_http::schema::SiteStepName)]
    pub step: String,
    /// How it ended.
    #[schema(value_type = berth_http::schema::OutcomeName)]
    pub outcome: String,
    /// How long it took, in milliseconds.
    pub took_ms: Option<i64>,
    /// The node's name (allocate) or the failure's reason.
    pub detail: Option<String>,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// A move of the site to another node, under way.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteEvacuation {
    /// The evacuation it is part of (`/v1/evacuations/{id}` for operators).
    pub id: Uuid,
    /// Where its content comes from.
    #[schema(value_type = berth_http::schema::EvacuationModeName)]
    pub mode: String,
    /// The step it is at.
    #[schema(value_type = berth_http::schema::EvacuationStepName)]
    pub step: String,
}

/// What a lost site can be restored from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteLoss {
    /// The node that is gone.
    pub node_id: Uuid,
    /// Its latest verified backup, if it has one (`POST /v1/sites/{id}/recover` restores it).
    pub latest_backup_id: Option<Uuid>,
    /// When that backup was verified.
    #[serde(with = "time::serde::rfc3339::option")]
    pub latest_backup_at: Option<OffsetDateTime>,
}

/// A site's staging copy.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteStaging {
    /// The copy's site.
    pub site_id: Uuid,
    /// Its host name.
    pub domain: String,
    /// Where it stands: `copying`, `ready`, `failed` (it can only be deleted) or `promoting`.
    #[schema(value_type = berth_http::schema::StagingStatusName)]
    pub status: String,
    /// Why its making or its last promotion failed.
    pub last_error: Option<String>,
}

/// A site with where it runs and how it got there.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteDetail {
    /// The site.
    #[serde(flatten)]
    pub site: SiteView,
    /// Its node, once placed.
    pub node: Option<SiteNode>,
    /// Work asked for and not yet carried out by the node.
    #[schema(value_type = Option<berth_http::schema::OperationName>)]
    pub pending: Option<String>,
    /// Why the last step failed, if it did.
    pub last_error: Option<String>,
    /// What failed, for programs, when provisioning failed.
    #[schema(value_type = Option<berth_http::schema::FailureCodeName>)]
    pub error_code: Option<String>,
    /// Whether its node is down.
    pub impacted: bool,
    /// Why it is suspended when Berth suspended it: `unpaid` (it resumes once the invoice is
    /// paid; the tenant cannot resume it).
    pub suspension_reason: Option<String>,
    /// Its move to another node, while one is under way.
    pub evacuation: Option<SiteEvacuation>,
    /// Why it is `lost`, and what it can be restored from.
    pub lost: Option<SiteLoss>,
    /// Its staging copy, if it has one (its making and promotions are among the steps).
    pub staging: Option<SiteStaging>,
    /// Its steps, oldest first.
    pub steps: Vec<SiteStep>,
    /// For a past state (`as_of`): the instant and where in the log that state stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<crate::as_of::AsOf>,
}

#[derive(sqlx::FromRow)]
struct DetailRow {
    #[sqlx(flatten)]
    site: SiteView,
    node_id: Option<Uuid>,
    node_name: Option<String>,
    node_address: Option<String>,
    pending: Option<String>,
    last_error: Option<String>,
    error_code: Option<String>,
    impacted: bool,
    suspension_reason: Option<String>,
    evacuation_id: Option<Uuid>,
    evacuation_mode: Option<String>,
    evacuation_step: Option<String>,
    lost_node_id: Option<Uuid>,
    lost_backup_id: Option<Uuid>,
    lost_backup_at: Option<OffsetDateTime>,
    staging_site_id: Option<Uuid>,
    staging_domain: Option<String>,
    staging_status: Option<String>,
    staging_error: Option<String>,
    steps: sqlx::types::Json<Vec<SiteStep>>,
}

/// A site: where it runs and how it got there.
#[utoipa::path(get, path = "/v1/sites/{id}", operation_id = "get_site", tag = "sites", params(("id" = uuid::Uuid, Path, description = "The site's id"), DetailParams),
    responses((status = 200, description = "The site, its node and its steps", body = SiteDetail)), security(("bearer" = [])))]
async fn detail(
    State(state): State<AppState>,
    reader: Reader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<DetailParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    if let Some(at) = crate::as_of::parse(params.as_of.as_deref(), params.min_version)? {
        // A replica behind the primary would fold a past without its latest events.
        state.reads.replayed().await?;
        let mut scoped = reader.scope(&state).await?;
        let past = crate::as_of::fold::<berth_domain::site::Site>(&mut scoped, &id.to_string(), at)
            .await?
            .ok_or(ApiError::NotFound)?;
        let detail = past_detail(id, past).ok_or(ApiError::NotFound)?;
        return Ok(versioned(detail.site.version, detail, &if_none_match));
    }
    let read = || async {
        let mut scoped = reader.scope(&state).await?;
        // The site and its steps in one statement: the steps as JSON built by PostgreSQL.
        let row: Option<DetailRow> = sqlx::query_as(
            "SELECT s.id, s.domain, s.kind, s.php_version, s.label, s.status, s.version, s.created_at, s.updated_at, s.staging_of,
                    s.staging_site_id, s.staging_domain, s.staging_status, s.staging_error,
                    s.node_id, s.node_name, s.node_address, s.pending, s.last_error, s.error_code, s.impacted,
                    s.suspension_reason, s.evacuation_id, s.evacuation_mode, s.evacuation_step,
                    s.lost_node_id, s.lost_backup_id, s.lost_backup_at, COALESCE((SELECT json_agg(json_build_object('step', t.step, 'outcome', t.outcome,
                                  'took_ms', t.took_ms, 'detail', t.detail,
                                  'at', to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))
                                  ORDER BY t.sequence)
                                FROM proj_sites.site_steps t WHERE t.tenant_id = s.tenant_id AND t.site_id = s.id),
                             '[]'::json) AS steps
               FROM proj_sites.sites s WHERE s.tenant_id = $1 AND s.id = $2",
        )
        .bind(reader.tenant_id)
        .bind(id)
        .fetch_optional(&mut *scoped)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let steps = row.steps.0;
        let node = match (row.node_id, row.node_name, row.node_address) {
            (Some(id), Some(name), Some(address)) => Some(SiteNode { id, name, address }),
            _ => None,
        };
        let evacuation = match (row.evacuation_id, row.evacuation_mode, row.evacuation_step) {
            (Some(id), Some(mode), Some(step)) => Some(SiteEvacuation { id, mode, step }),
            _ => None,
        };
        let lost = row.lost_node_id.map(|node_id| SiteLoss {
            node_id,
            latest_backup_id: row.lost_backup_id,
            latest_backup_at: row.lost_backup_at,
        });
        let staging = match (row.staging_site_id, row.staging_domain, row.staging_status) {
            (Some(site_id), Some(domain), Some(status)) => {
                Some(SiteStaging { site_id, domain, status, last_error: row.staging_error })
            }
            _ => None,
        };
        Ok(Some(SiteDetail {
            evacuation,
            lost,
            staging,
            site: row.site,
            node,
            pending: row.pending,
            last_error: row.last_error,
            error_code: row.error_code,
            impacted: row.impacted,
            suspension_reason: row.suspension_reason,
            steps,
            as_of: None,
        }))
    };
    let detail =
        at_version(&state.reads, "sites", params.min_version, |d: &SiteDetail| d.site.version, read).await?;
    Ok(versioned(detail.site.version, detail, &if_none_match))
}

/// A site's detail from its state at an instant.
fn past_detail(id: Uuid, past: crate::as_of::Folded<berth_domain::site::Site>) -> Option<SiteDetail> {
    let site = &past.state;
    let view = SiteView {
        id,
        domain: site.domain()?.as_str().to_owned(),
        kind: site.kind()?.as_str().to_owned(),
        php_version: site.php_version().map(|v| v.as_str().to_owned()),
        label: site.label().map(|l| l.as_str().to_owned()),
        status: site.status().as_str().to_owned(),
        version: past.as_of.version,
        created_at: past.first_at,
        updated_at: past.last_at,
        staging_of: site.staging_of().map(|of| of.production_site_id.as_uuid()),
    };
    let node = site.node().map(|p| SiteNode {
        id: p.node_id.as_uuid(),
        name: p.node_name.clone(),
        address: p.address.clone(),
    });
    Some(SiteDetail {
        site: view,
        node,
        pending: site.pending().map(|o| o.as_str().to_owned()),
        last_error: None,
        error_code: None,
        impacted: false,
        suspension_reason: site.billing_hold().then(|| "unpaid".to_owned()),
        evacuation: site.moving().map(|m| SiteEvacuation {
            id: m.evacuation_id.as_uuid(),
            mode: m.mode.as_str().to_owned(),
            step: m.done.last().map_or("start", |s| s.as_str()).to_owned(),
        }),
        lost: None,
        staging: site.staging().map(|s| SiteStaging {
            site_id: s.site_id.as_uuid(),
            domain: s.domain.as_str().to_owned(),
            status: s.status.as_str().to_owned(),
            last_error: None,
        }),
        steps: Vec::new(),
        as_of: Some(past.as_of),
    })
}
