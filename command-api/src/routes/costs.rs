//! `PUT /v1/ops/cost-model` (operators only): the prices and budgets the cost tables and the
//! budget alerts are computed with. The nodes' own monthly prices are set when they register.

use axum::extract::State;
use axum::routing::put;
use axum::Router;
use berth_domain::cost_model::{CostCategory, CostModel, CostModelCommand, CostTerms, COST_MODEL_ID};
use berth_domain::money::Currency;
use berth_http::conditional::Precondition;
use berth_http::extract::ApiJson;
use berth_http::ApiError;
use serde::Deserialize;

use crate::accepted::Located;
use crate::auth::Operator;
use crate::{Accepted, AppState, View};

/// The cost model route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/ops/cost-model", put(set_cost_model))
}

/// One category's monthly budget.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetBody {
    /// The category.
    #[schema(value_type = berth_http::schema::CostCategoryName)]
    pub category: String,
    /// The monthly amount, minor units of the model's currency.
    #[schema(minimum = 0, maximum = 10_000_000_000_000_i64)]
    pub amount_minor: i64,
    /// The share of the budget, in percent, at which the budget alert warns.
    #[schema(minimum = 0, maximum = 100)]
    pub threshold_percent: i64,
}

/// `PUT /v1/ops/cost-model` body: every amount in minor units of `currency`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"currency": "EUR", "storage_gb_month_minor": 3, "bandwidth_gb_minor": 1,
    "platform_monthly_minor": 5000, "budgets": [{"category": "compute", "amount_minor": 20000, "threshold_percent": 80}]}))]
pub struct CostModelBody {
    /// The currency of every amount (the nodes' prices are taken to be in it).
    #[schema(value_type = berth_http::schema::CurrencyName)]
    pub currency: String,
    /// Backup storage, per GB-month.
    #[schema(minimum = 0, maximum = 10_000_000_000_000_i64)]
    pub storage_gb_month_minor: i64,
    /// Data transferred, per GB.
    #[schema(minimum = 0, maximum = 10_000_000_000_000_i64)]
    pub bandwidth_gb_minor: i64,
    /// The fixed monthly overhead of the platform.
    #[schema(minimum = 0, maximum = 10_000_000_000_000_i64)]
    pub platform_monthly_minor: i64,
    /// At most one budget per category.
    #[serde(default)]
    #[schema(max_items = 4)]
    pub budgets: Vec<BudgetBody>,
}

impl TryFrom<CostModelBody> for CostTerms {
    type Error = ApiError;

    fn try_from(body: CostModelBody) -> Result<Self, ApiError> {
        let currency = Currency::parse(&body.currency).map_err(|e| ApiError::field("currency", e))?;
        let mut budgets = Vec::with_capacity(body.budgets.len());
        for (i, budget) in body.budgets.into_iter().enumerate() {
            let category = CostCategory::parse(&budget.category).ok_or_else(|| {
                ApiError::field(
                    &format!("budgets.{i}.category"),
                    "one of compute, storage, bandwidth or platform",
                )
            })?;
            budgets.push((category, budget.amount_minor, budget.threshold_percent));
        }
        CostTerms::new(
            currency,
            body.storage_gb_month_minor,
            body.bandwidth_gb_minor,
            body.platform_monthly_minor,
            budgets,
        )
        .map_err(|e| ApiError::field(e.field(), &e))
    }
}

/// Set the cost model: storage, transfer and overhead prices and budgets (operators only).
///
/// The whole model is replaced; the cost tables and `/metrics` follow within their cache time.
#[utoipa::path(put, path = "/v1/ops/cost-model", operation_id = "set_cost_model", tag = "operations", request_body = CostModelBody,
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn set_cost_model(
    State(state): State<AppState>,
    operator: Operator,
    precondition: Precondition,
    ApiJson(body): ApiJson<CostModelBody>,
) -> Result<Located<Accepted>, ApiError> {
    let terms = CostTerms::try_from(body)?;
    let expected = precondition.expected(state.require_if_match)?;
    let meta = operator.metadata();
    let command = CostModelCommand::Set { terms };
    let outcome = state
        .store
        .execute_at::<CostModel>(COST_MODEL_ID, command, &meta, state.retry, &[], expected)
        .await?;
    let id = crate::routes::billing::derived_uuid("cost_model", COST_MODEL_ID);
    Ok(state.links.accepted(id, outcome.version, View::CostModel))
}
