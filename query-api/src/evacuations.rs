//! `/v1/evacuations/{id}` (operators only): where an evacuation stands, site by site, with each
//! step's timing, and how long the moves took.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::extract::{ApiPath, ApiQuery};
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::OperatorReader;
use crate::page::VersionParams;
use crate::scope::at_version;
use crate::AppState;

/// The evacuation routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/evacuations/{id}", get(detail))
}

/// One step of a site's move.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EvacuationStepView {
    /// Which step.
    #[schema(value_type = berth_http::schema::EvacuationStepName)]
    pub step: String,
    /// How it ended.
    #[schema(value_type = berth_http::schema::OutcomeName)]
    pub outcome: String,
    /// How long it took, in milliseconds.
    pub took_ms: Option<i64>,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Where one site of an evacuation stands.
#[derive(Debug, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct EvacuationSite {
    /// The site.
    pub site_id: Uuid,
    /// Its domain.
    pub domain: Option<String>,
    /// `waiting`, `moving`, `moved` or `failed` (it stayed where it was).
    #[schema(value_type = berth_http::schema::EvacuationSiteStatusName)]
    pub status: String,
    /// The step it is at, or failed at.
    #[schema(value_type = Option<berth_http::schema::EvacuationStepName>)]
    pub step: Option<String>,
    /// Why it failed.
    pub reason: Option<String>,
    /// The node it moves, or moved, to.
    pub target_node_id: Option<Uuid>,
    /// That node's name.
    pub target_node: Option<String>,
    /// When its move started.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When it moved or failed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// Its steps, oldest first.
    #[sqlx(json)]
    pub steps: Vec<EvacuationStepView>,
}

/// How many sites are where.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct EvacuationCounts {
    /// Not started yet.
    pub waiting: u32,
    /// Under way.
    pub moving: u32,
    /// On their new node.
    pub moved: u32,
    /// Stayed where they were, with a reason.
    pub failed: u32,
}

/// An evacuation and its sites.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EvacuationDetail {
    /// The evacuation.
    pub id: Uuid,
    /// The node it empties.
    pub node_id: Uuid,
    /// Where the content comes from.
    #[schema(value_type = berth_http::schema::EvacuationModeName)]
    pub mode: String,
    /// When it was asked for.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// `running` while a site is waiting or moving, then `completed` (some sites may have failed).
    #[schema(pattern = "^(running|completed)$")]
    pub status: String,
    /// How many sites are where.
    pub counts: EvacuationCounts,
    /// The median time a moved site took, from the start of its move to its switch, in ms.
    pub median_site_ms: Option<i64>,
    /// From the request to the last site's end, in ms, once completed.
    pub total_ms: Option<i64>,
    /// Each site.
    pub sites: Vec<EvacuationSite>,
}

#[derive(sqlx::FromRow)]
struct Head {
    node_id: Uuid,
    mode: String,
    started_at: OffsetDateTime,
}

fn ms(duration: time::Duration) -> i64 {
    i64::try_from(duration.whole_milliseconds()).unwrap_or(i64::MAX)
}

/// An evacuation (operators only).
#[utoipa::path(get, path = "/v1/evacuations/{id}", operation_id = "get_evacuation", tag = "nodes",
    params(("id" = uuid::Uuid, Path, description = "The evacuation's id"), VersionParams),
    responses((status = 200, description = "The evacuation and where each of its sites stands", body = EvacuationDetail)),
    security(("bearer" = [])))]
async fn detail(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<VersionParams>,
) -> Result<Response, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound)?;
    let read = || async {
        let mut tx = operator.scope(&state).await?;
        let head: Option<Head> = sqlx::query_as(
            "SELECT node_id, mode, started_at FROM proj_evacuations.evacuations WHERE evacuation_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(head) = head else { return Ok(None) };
        let sites: Vec<EvacuationSite> = sqlx::query_as(
            "SELECT e.site_id, n.domain, e.status, e.step, e.reason, e.target_node_id, e.target_node,
                    e.started_at, e.finished_at,
                    COALESCE((SELECT json_agg(json_build_object('step', t.step, 'outcome', t.outcome,
                                  'took_ms', t.took_ms,
                                  'at', to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))
                                  ORDER BY t.sequence)
                                FROM proj_evacuations.evacuation_steps t
                               WHERE t.evacuation_id = e.evacuation_id AND t.site_id = e.site_id),
                             '[]'::json) AS steps
               FROM proj_evacuations.evacuation_sites e
               LEFT JOIN proj_nodes.node_site_names n ON n.site_id = e.site_id
              WHERE e.evacuation_id = $1 ORDER BY e.site_id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        Ok(Some(summarize(id, head, sites)))
    };
    let detail = at_version(&state.reads, "evacuations", params.min_version, |_| i64::MAX, read).await?;
    Ok(axum::response::IntoResponse::into_response(Json(detail)))
}

fn summarize(id: Uuid, head: Head, sites: Vec<EvacuationSite>) -> EvacuationDetail {
    let mut counts = EvacuationCounts::default();
    for site in &sites {
        match site.status.as_str() {
            "waiting" => counts.waiting += 1,
            "moving" => counts.moving += 1,
            "moved" => counts.moved += 1,
            _ => counts.failed += 1,
        }
    }
    let mut moved: Vec<i64> = sites
        .iter()
        .filter(|s| s.status == "moved")
        .filter_map(|s| Some(ms(s.finished_at? - s.started_at?)))
        .collect();
    moved.sort_unstable();
    let median_site_ms = match moved.len() {
        0 => None,
        n if n % 2 == 1 => Some(moved[n / 2]),
        n => Some((moved[n / 2 - 1] + moved[n / 2]) / 2),
    };
    let completed = counts.waiting == 0 && counts.moving == 0;
    let total_ms = completed
        .then(|| sites.iter().filter_map(|s| s.finished_at).max())
        .flatten()
        .map(|last| ms(last - head.started_at));
    EvacuationDetail {
        id,
        node_id: head.node_id,
        mode: head.mode,
        started_at: head.started_at,
        status: if completed { "completed" } else { "running" }.to_owned(),
        counts,
        median_site_ms,
        total_ms,
        sites,
    }
}
