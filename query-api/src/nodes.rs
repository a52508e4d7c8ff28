//! `/v1/nodes` and `/v1/nodes/{id}` (operators only): capacity, what is reserved, lifecycle
//! state, health and the sites each node holds.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::conditional::{versioned, IfNoneMatch};
use berth_http::extract::{ApiPath, ApiQuery};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::OperatorReader;
use crate::page::VersionParams;
use crate::page::{one_of, paginate, Page, PageParams};
use crate::scope::at_version;
use crate::AppState;
use berth_http::ApiError;

/// The node routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/nodes", get(list)).route("/v1/nodes/{id}", get(detail))
}

/// CPU, memory and disk.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Amounts {
    /// CPU in thousandths of a core.
    pub millicores: i64,
    /// Memory in MiB.
    pub memory_mb: i64,
    /// Disk in GiB.
    pub disk_gb: i64,
}

/// A node as operators see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeView {
    /// The node's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: String,
    /// SSH port.
    pub ssh_port: i32,
    /// SSH user.
    pub ssh_user: String,
    /// The pinned host key.
    pub host_key: String,
    /// The host key it presented instead, if it did.
    pub presented_key: Option<String>,
    /// Who rents it out.
    pub provider: String,
    /// Where it is.
    pub region: String,
    /// Monthly cost in minor units.
    pub monthly_cost_minor: i64,
    /// Its currency.
    pub currency: String,
    /// `registered`, `ready`, `draining` or `decommissioned`.
    #[schema(value_type = berth_http::schema::NodeStateName)]
    pub state: String,
    /// `unknown`, `healthy`, `degraded` or `down`.
    #[schema(value_type = berth_http::schema::HealthName)]
    pub health: String,
    /// Why, as last probed.
    pub health_reason: Option<String>,
    /// Whether work on it is stopped because it presented another host key.
    pub blocked: bool,
    /// The node scripts' version it runs.
    pub scripts_version: Option<String>,
    /// The last bootstrap error.
    pub last_error: Option<String>,
    /// What it has.
    pub capacity: Amounts,
    /// What its sites reserve.
    pub allocated: Amounts,
    /// What is left.
    pub free: Amounts,
    /// How many sites it holds.
    pub sites: i64,
    /// Aggregate version this reflects.
    pub version: i64,
    /// When it was registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A site on a node.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct NodeSite {
    /// The site's id.
    pub id: Uuid,
    /// Its domain.
    pub domain: Option<String>,
    /// Its type.
    #[serde(rename = "type")]
    #[schema(value_type = Option<berth_http::schema::SiteType>)]
    pub kind: Option<String>,
    /// CPU it reserves, thousandths of a core.
    pub millicores: i64,
    /// Memory it reserves, MiB.
    pub memory_mb: i64,
    /// Disk it reserves, GiB.
    pub disk_gb: i64,
}

/// A node with its sites.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NodeDetail {
    /// The node.
    #[serde(flatten)]
    pub node: NodeView,
    /// Its sites.
    pub site_list: Vec<NodeSite>,
}

#[derive(sqlx::FromRow)]
struct NodeRow {
    id: Uuid,
    name: String,
    address: String,
    ssh_port: i32,
    ssh_user: String,
    host_key: String,
    presented_key: Option<String>,
    provider: String,
    region: String,
    cost_minor: i64,
    currency: String,
    state: String,
    health: String,
    health_reason: Option<String>,
    blocked: bool,
    scripts_version: Option<String>,
    last_error: Option<String>,
    millicores: i64,
    memory_mb: i64,
    disk_gb: i64,
    a_millicores: i64,
    a_memory_mb: i64,
    a_disk_gb: i64,
    sites: i64,
    version: i64,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<NodeRow> for NodeView {
    fn from(r: NodeRow) -> Self {
        let capacity = Amounts { millicores: r.millicores, memory_mb: r.memory_mb, disk_gb: r.disk_gb };
        let allocated =
            Amounts { millicores: r.a_millicores, memory_mb: r.a_memory_mb, disk_gb: r.a_disk_gb };
        let free = Amounts {
            millicores: (capacity.millicores - allocated.millicores).max(0),
            memory_mb: (capacity.memory_mb - allocated.memory_mb).max(0),
            disk_gb: (capacity.disk_gb - allocated.disk_gb).max(0),
        };
        Self {
            id: r.id,
            name: r.name,
            address: r.address,
            ssh_port: r.ssh_port,
            ssh_user: r.ssh_user,
            host_key: r.host_key,
            presented_key: r.presented_key,
            provider: r.provider,
            region: r.region,
            monthly_cost_minor: r.cost_minor,
            currency: r.currency,
            state: r.state,
            health: r.health,
            health_reason: r.health_reason,
            blocked: r.blocked,
            scripts_version: r.scripts_version,
            last_error: r.last_error,
            capacity,
            allocated,
            free,
            sites: r.sites,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SELECT: &str = "SELECT n.id, n.name, n.address, n.ssh_port, n.ssh_user, n.host_key, n.presented_key,
        n.provider, n.region, n.cost_minor, n.currency, n.state, n.health, n.health_reason, n.blocked,
        n.scripts_version, n.last_error, n.millicores, n.memory_mb, n.disk_gb,
        COALESCE(SUM(a.millicores), 0)::bigint AS a_millicores, COALESCE(SUM(a.memory_mb), 0)::bigint AS a_memory_mb,
        COALESCE(SUM(a.disk_gb), 0)::bigint AS a_disk_gb, COUNT(a.site_id) AS sites,
        n.version, n.created_at, n.updated_at
   FROM proj_nodes.nodes n LEFT JOIN proj_nodes.node_allocations a ON a.node_id = n.id";

/// `GET /v1/nodes` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only nodes in this state.
    #[param(value_type = Option<berth_http::schema::NodeStateName>)]
    pub state: Option<String>,
    /// Only nodes with this health.
    #[param(value_type = Option<berth_http::schema::HealthName>)]
    pub health: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// Where to continue: the `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List the nodes (operators only).
#[utoipa::path(get, path = "/v1/nodes", operation_id = "list_nodes", tag = "nodes", params(ListParams),
    responses((status = 200, description = "A page of nodes", body = Page<NodeView>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<NodeView>>, ApiError> {
    one_of("state", params.state.as_deref(), &["registered", "ready", "draining", "decommissioned"])?;
    one_of("health", params.health.as_deref(), &["unknown", "healthy", "degraded", "down"])?;
    let page = PageParams { limit: params.limit, cursor: params.cursor.clone() };
    let limit = page.limit()?;
    let after = page.after::<Uuid>()?;
    let mut tx = operator.scope(&state).await?;
    let sql = format!(
        "{SELECT} WHERE ($1::uuid IS NULL OR n.id > $1) AND ($2::text IS NULL OR n.state = $2)
            AND ($3::text IS NULL OR n.health = $3) GROUP BY n.id ORDER BY n.id LIMIT $4"
    );
    let rows: Vec<NodeRow> = sqlx::query_as(&sql)
        .bind(after)
        .bind(params.state)
        .bind(params.health)
        .bind(limit + 1)
        .fetch_all(&mut *tx)
        .await?;
    let views: Vec<NodeView> = rows.into_iter().map(NodeView::from).collect();
    Ok(Json(paginate(views, limit, |n| n.id.to_string())))
}

/// A node with its capacity and sites (operators only).
#[utoipa::path(get, path = "/v1/nodes/{id}", operation_id = "get_node", tag = "nodes", params(("id" = uuid::Uuid, Path, description = "The node's id"), VersionParams),
    responses((status = 200, description = "The node and its sites", body = NodeDetail)), security(("bearer" = [])))]
async fn detail(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let read = || async {
        let mut tx = operator.scope(&state).await?;
        let row: Option<NodeRow> = sqlx::query_as(&format!("{SELECT} WHERE n.id = $1 GROUP BY n.id"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let site_list: Vec<NodeSite> = sqlx::query_as(
            "SELECT a.site_id AS id, s.domain, s.kind, a.millicores, a.memory_mb, a.disk_gb
               FROM proj_nodes.node_allocations a LEFT JOIN proj_nodes.node_site_names s ON s.site_id = a.site_id
              WHERE a.node_id = $1 ORDER BY a.site_id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        Ok(Some(NodeDetail { node: NodeView::from(row), site_list }))
    };
    let detail =
        at_version(&state.reads, "nodes", params.min_version, |n: &NodeDetail| n.node.version, read).await?;
    Ok(versioned(detail.node.version, detail, &if_none_match))
}
