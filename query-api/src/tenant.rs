//! `/v1/tenant`, `/v1/members`, `/v1/tokens`, `/v1/invitations`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::extract::ApiQuery;
use std::collections::BTreeMap;

use axum::response::Response;
use berth_http::conditional::{versioned, IfNoneMatch};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Reader;
use crate::page::{paginate, Page, PageParams};
use crate::scope::at_version;
use crate::AppState;
use berth_http::ApiError;

/// The tenant routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tenant", get(overview))
        .route("/v1/members", get(members))
        .route("/v1/tokens", get(tokens))
        .route("/v1/invitations", get(invitations))
}

/// `GET /v1/tenant` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OverviewParams {
    /// Wait (up to 5 s) until the tenant's views reflect at least this version.
    #[param(minimum = 0)]
    pub min_version: Option<i64>,
    /// The tenant as it was at this instant (RFC 3339), folded from the log: its name, members,
    /// tokens and invitations then, and its sites by their status then.
    #[param(format = DateTime)]
    pub as_of: Option<String>,
}

/// A tenant with counts of what it holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantOverview {
    /// The tenant's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The version of its members, tokens and invitations (its ETag; `If-Match` on their
    /// changes).
    pub version: i64,
    /// When it registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Whether every member must log in with a second factor.
    pub two_factor_required: bool,
    /// What it holds.
    pub counts: TenantCounts,
    /// The caller's role in it (what this credential may do; absent in a past state).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<berth_http::schema::RoleName>)]
    pub role: Option<String>,
    /// For a past state (`as_of`): the instant and where in the log that state stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<crate::as_of::AsOf>,
}

/// Counts of what a tenant holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TenantCounts {
    /// Sites, whatever their status.
    pub sites: i64,
    /// Sites per status (statuses with none are left out).
    #[schema(value_type = std::collections::BTreeMap<berth_http::schema::SiteStatusName, i64>)]
    pub sites_by_status: BTreeMap<String, i64>,
    /// Members.
    pub members: i64,
    /// API tokens neither revoked nor expired.
    pub active_tokens: i64,
    /// Invitations still pending.
    pub pending_invitations: i64,
}

/// The caller's tenant, with counts.
#[utoipa::path(get, path = "/v1/tenant", operation_id = "get_tenant", tag = "tenant", params(OverviewParams),
    responses((status = 200, description = "The tenant with counts", body = TenantOverview)), security(("bearer" = [])))]
async fn overview(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(params): ApiQuery<OverviewParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    if let Some(at) = crate::as_of::parse(params.as_of.as_deref(), params.min_version)? {
        let past = past_overview(&state, &reader, at).await?;
        return Ok(versioned(past.version, past, &if_none_match));
    }
    let read = || async {
        let mut tx = reader.scope(&state).await?;
        let tenant: Option<(String, i64, OffsetDateTime, bool)> = sqlx::query_as(
            "SELECT name, version, created_at, two_factor_required FROM proj_identity.tenants WHERE tenant_id = $1",
        )
        .bind(reader.tenant_id)
        .fetch_optional(&mut *tx)
        .await?;
        Ok(tenant)
    };
    let (name, version, created_at, two_factor_required) =
        at_version(&state.reads, "identity", params.min_version, |tenant| tenant.1, read).await?;
    let mut tx = reader.scope(&state).await?;
    let by_status: Vec<(String, i64)> = sqlx::query_as(
        "SELECT status, count(*) FROM proj_sites.sites WHERE tenant_id = $1 GROUP BY status ORDER BY status",
    )
    .bind(reader.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    let (members, active_tokens, pending_invitations): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM proj_identity.members WHERE tenant_id = $1),
                (SELECT count(*) FROM proj_identity.tokens WHERE tenant_id = $1 AND revoked_at IS NULL
                    AND (expires_at IS NULL OR expires_at > now())),
                (SELECT count(*) FROM proj_identity.invitations WHERE tenant_id = $1 AND status = 'pending'
                    AND expires_at > now())",
    )
    .bind(reader.tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    let sites = by_status.iter().map(|(_, n)| n).sum();
    let counts = TenantCounts {
        sites,
        sites_by_status: by_status.into_iter().collect(),
        members,
        active_tokens,
        pending_invitations,
    };
    let overview = TenantOverview {
        id: reader.tenant_id,
        name,
        version,
        created_at,
        two_factor_required,
        counts,
        role: reader.role.map(|role| role.as_str().to_owned()),
        as_of: None,
    };
    Ok(versioned(version, overview, &if_none_match))
}

/// A member.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Member {
    /// The user.
    pub user_id: Uuid,
    /// Their email.
    pub email: String,
    /// Their role.
    #[schema(value_type = berth_http::schema::RoleName)]
    pub role: String,
    /// When they joined.
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

/// List the tenant's members.
#[utoipa::path(get, path = "/v1/members", operation_id = "list_members", tag = "tenant", params(PageParams),
    responses((status = 200, description = "A page of members", body = Page<Member>)), security(("bearer" = [])))]
async fn members(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Member>>, ApiError> {
    id_page(
        &state,
        reader,
        &page,
        "SELECT user_id, email, role, joined_at FROM proj_identity.members
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id > $2) ORDER BY user_id LIMIT $3",
        |row: &Member| row.user_id,
    )
    .await
}

/// An API token (never its secret).
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Token {
    /// The token's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its role.
    #[schema(value_type = berth_http::schema::RoleName)]
    pub role: String,
    /// When it expires.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// List the tenant's API tokens (never their secrets).
#[utoipa::path(get, path = "/v1/tokens", operation_id = "list_tokens", tag = "tenant", params(PageParams),
    responses((status = 200, description = "A page of API tokens", body = Page<Token>)), security(("bearer" = [])))]
async fn tokens(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Token>>, ApiError> {
    id_page(
        &state,
        reader,
        &page,
        "SELECT token_id AS id, name, role, expires_at, revoked_at, created_at FROM proj_identity.tokens
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR token_id > $2) ORDER BY token_id LIMIT $3",
        |row: &Token| row.id,
    )
    .await
}

/// An invitation (never its token).
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Invitation {
    /// The invitation's id.
    pub id: Uuid,
    /// Whom.
    pub email: String,
    /// With which role.
    #[schema(value_type = berth_http::schema::RoleName)]
    pub role: String,
    /// Where it stands.
    #[schema(value_type = berth_http::schema::InvitationStatusName)]
    pub status: String,
    /// Until when.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// List the tenant's invitations (never their tokens).
#[utoipa::path(get, path = "/v1/invitations", operation_id = "list_invitations", tag = "tenant", params(PageParams),
    responses((status = 200, description = "A page of invitations", body = Page<Invitation>)), security(("bearer" = [])))]
async fn invitations(
    State(state): State<AppState>,
    reader: Reader,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Invitation>>, ApiError> {
    id_page(
        &state,
        reader,
        &page,
        "SELECT invitation_id AS id, email, role, status, expires_at FROM proj_identity.invitations
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR invitation_id > $2) ORDER BY invitation_id LIMIT $3",
        |row: &Invitation| row.id,
    )
    .await
}

/// One page of a tenant's rows from `sql`, which takes the tenant ($1), the cursor id ($2) and
/// the row limit ($3), and orders by the id that `id_of` returns.
async fn id_page<T>(
    state: &AppState,
    reader: Reader,
    page: &PageParams,
    sql: &'static str,
    id_of: fn(&T) -> Uuid,
) -> Result<Json<Page<T>>, ApiError>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut tx = reader.scope(state).await?;
    let rows =
        sqlx::query_as(sql).bind(reader.tenant_id).bind(after).bind(limit + 1).fetch_all(&mut *tx).await?;
    Ok(Json(paginate(rows, limit, |row: &T| id_of(row).to_string())))
}

/// The tenant as it was at `at`, folded from the log.
async fn past_overview(
    state: &AppState,
    reader: &Reader,
    at: OffsetDateTime,
) -> Result<TenantOverview, ApiError> {
    use berth_domain::organization::Organization;
    use berth_domain::site::Site;
    // A replica behind the primary would fold a past without its latest events.
    state.reads.replayed().await?;
    let mut scoped = reader.scope(state).await?;
    let past = crate::as_of::fold::<Organization>(&mut scoped, &reader.tenant_id.to_string(), at)
        .await?
        .ok_or(ApiError::NotFound)?;
    let organization = &past.state;
    let name = organization.name().map(|n| n.as_str().to_owned()).ok_or(ApiError::NotFound)?;
    let mut sites_by_status = BTreeMap::new();
    for site in crate::as_of::fold_all::<Site>(&mut scoped, at).await? {
        *sites_by_status.entry(site.state.status().as_str().to_owned()).or_insert(0) += 1;
    }
    let counts = TenantCounts {
        sites: sites_by_status.values().sum(),
        sites_by_status,
        members: i64::try_from(organization.member_count()).unwrap_or(i64::MAX),
        active_tokens: i64::try_from(organization.unrevoked_tokens()).unwrap_or(i64::MAX),
        pending_invitations: i64::try_from(organization.pending_invitations_at(at)).unwrap_or(i64::MAX),
    };
    Ok(TenantOverview {
        id: reader.tenant_id,
        name,
        version: past.as_of.version,
        created_at: past.first_at,
        two_factor_required: organization.two_factor_required(),
        counts,
        role: None,
        as_of: Some(past.as_of),
    })
}
