//! `/v1/ops/timers` (operators only): the durable timers, due first, with their targets and
//! how they ended.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::extract::ApiQuery;
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::auth::OperatorReader;
use crate::page::{one_of, paginate, Page, PageParams};
use crate::AppState;

/// The timer routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/ops/timers", get(list))
}

/// A timer as operators see it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TimerView {
    /// Its key, such as `invitation-expiry:<id>`.
    pub key: String,
    /// The tenant its command acts for, if any.
    pub tenant: Option<uuid::Uuid>,
    /// The aggregate type its command is for.
    pub target_type: String,
    /// The aggregate its command is for.
    pub target_id: String,
    /// When it is (or was) due.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    /// `scheduled`, `fired`, `refused` (fired; the aggregate refused its command) or `cancelled`.
    pub status: String,
    /// The refusal's code, for `refused`.
    pub outcome_code: Option<String>,
    /// The refusal in words, for `refused`.
    pub reason: Option<String>,
    /// When its status last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
}

/// `GET /v1/ops/timers` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only timers with this status.
    pub status: Option<String>,
    /// Page size, 1 to 200.
    pub limit: Option<i64>,
    /// Where to continue.
    pub cursor: Option<String>,
}

const STATUSES: &[&str] = &["scheduled", "fired", "refused", "cancelled"];

/// The durable timers, soonest due first (operators only).
#[utoipa::path(get, path = "/v1/ops/timers", operation_id = "list_timers", tag = "operations", params(ListParams),
    responses((status = 200, description = "A page of timers, soonest due first", body = Page<TimerView>)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<Page<TimerView>>, ApiError> {
    one_of("status", params.status.as_deref(), STATUSES)?;
    let page = PageParams { limit: params.limit, cursor: params.cursor.clone() };
    let limit = page.limit()?;
    // The cursor is the last item's due time and key, so a page never skips a timer.
    let after = page
        .cursor
        .as_deref()
        .map(|c| {
            c.split_once('|')
                .and_then(|(at, key)| {
                    let at =
                        OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()?;
                    Some((at, key.to_owned()))
                })
                .ok_or_else(|| ApiError::field("cursor", "not a cursor from this list"))
        })
        .transpose()?;
    let mut tx = operator.scope(&state).await?;
    let rows: Vec<TimerView> = sqlx::query_as(
        "SELECT key, tenant, target_type, target_id, due_at, status, outcome_code, reason, changed_at
           FROM proj_timers.timers
          WHERE ($1::text IS NULL OR status = $1)
            AND ($2::timestamptz IS NULL OR (due_at, key) > ($2, $3))
          ORDER BY due_at, key LIMIT $4",
    )
    .bind(params.status)
    .bind(after.as_ref().map(|(at, _)| *at))
    .bind(after.as_ref().map(|(_, key)| key.clone()))
    .bind(limit + 1)
    .fetch_all(&mut *tx)
    .await?;
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    Ok(Json(paginate(rows, limit, |t| format!("{}|{}", t.due_at.format(rfc3339).unwrap_or_default(), t.key))))
}
