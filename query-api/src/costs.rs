//! `/v1/ops/costs`, `/v1/ops/capacity` and `/v1/ops/cost-model` (operators only): the month's
//! cost, revenue and margin tables, the fleet's capacity with its forecast, and the cost model
//! in force, computed from the views (`berth_projections::costs`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use berth_http::extract::ApiQuery;
use berth_http::ApiError;
use berth_projections::costs::capacity::{capacity, CapacityReport};
use berth_projections::costs::report::{report, terms, CostReport, Month};
use serde::{Deserialize, Serialize};

use crate::auth::OperatorReader;
use crate::AppState;

/// The cost and capacity routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/ops/costs", get(costs))
        .route("/v1/ops/capacity", get(fleet_capacity))
        .route("/v1/ops/cost-model", get(cost_model))
}

/// `GET /v1/ops/costs` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CostParams {
    /// The month, `YYYY-MM` (default: the current one on Berth's clock).
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$", example = "2027-01")]
    pub month: Option<String>,
}

/// The month's cost, revenue and margin, per category, tenant and plan (operators only).
#[utoipa::path(get, path = "/v1/ops/costs", operation_id = "get_costs", tag = "ops", params(CostParams),
    responses((status = 200, description = "The month's tables", body = CostReport)), security(("bearer" = [])))]
async fn costs(
    State(state): State<AppState>,
    operator: OperatorReader,
    ApiQuery(params): ApiQuery<CostParams>,
) -> Result<Json<CostReport>, ApiError> {
    let month = match params.month.as_deref() {
        Some(text) => {
            Month::parse(text).ok_or_else(|| ApiError::field("month", "must be a month such as 2027-01"))?
        }
        None => Month::of(state.clock.now().date()),
    };
    let mut scoped = operator.scope(&state).await?;
    Ok(Json(report(&mut scoped, month).await?))
}

/// Allocated and free capacity per region and resource, its growth and when it runs out (operators only).
#[utoipa::path(get, path = "/v1/ops/capacity", operation_id = "get_capacity", tag = "ops",
    responses((status = 200, description = "The fleet's capacity", body = CapacityReport)), security(("bearer" = [])))]
async fn fleet_capacity(
    State(state): State<AppState>,
    operator: OperatorReader,
) -> Result<Json<CapacityReport>, ApiError> {
    let mut scoped = operator.scope(&state).await?;
    Ok(Json(capacity(&mut scoped, state.clock.now()).await?))
}

/// The cost model in force.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CostModelView {
    /// Whether one was ever set (if not, the other fields are absent).
    pub set: bool,
    /// The prices and budgets, as they were set.
    #[schema(value_type = Option<Object>)]
    pub terms: Option<serde_json::Value>,
}

/// The cost model in force: prices, overhead and budgets (operators only).
#[utoipa::path(get, path = "/v1/ops/cost-model", operation_id = "get_cost_model", tag = "ops",
    responses((status = 200, description = "The cost model", body = CostModelView)), security(("bearer" = [])))]
async fn cost_model(
    State(state): State<AppState>,
    operator: OperatorReader,
) -> Result<Json<CostModelView>, ApiError> {
    let mut scoped = operator.scope(&state).await?;
    let terms = terms(&mut scoped).await?;
    let terms = terms.map(|t| serde_json::to_value(t).unwrap_or_default());
    Ok(Json(CostModelView { set: terms.is_some(), terms }))
}
