//! `POST /v1/subscriptions/{id}/usage` (operators, and meters acting for them): one reading of
//! a metric, recorded once per idempotency key, rated at invoicing against the plan's overage
//! prices.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use berth_domain::billing::{Quantity, ServicePeriod};
use berth_domain::ids::SubscriptionId;
use berth_domain::plan::Metric;
use berth_domain::subscription::Subscription;
use berth_domain::usage::{usage_command_id, Usage, UsageCommand, UsageKey};
use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::Deserialize;

use super::input;
use crate::accepted::Located;
use crate::auth::Operator;
use crate::{Accepted, AppState, View};

/// The usage route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/subscriptions/{id}/usage", post(record))
}

/// `POST /v1/subscriptions/{id}/usage` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"metric": "storage_gb", "quantity": "12.5", "key": "storage:2025-09-30"}))]
pub struct RecordUsage {
    /// What was measured.
    #[schema(value_type = berth_http::schema::MetricName)]
    pub metric: String,
    /// How much, in GB, at most three decimals.
    #[schema(pattern = "^[0-9]{1,10}(\\.[0-9]{1,3})?$", example = "12.5")]
    pub quantity: String,
    /// The reading's own idempotency key: a reading sent again with it is recorded once.
    #[schema(pattern = "^[A-Za-z0-9:._-]{1,200}$")]
    pub key: String,
    /// The first day of the billing period it belongs to (default: the current period's).
    #[schema(format = Date)]
    pub period_start: Option<String>,
    /// The last day of that period.
    #[schema(format = Date)]
    pub period_end: Option<String>,
}

/// Record a usage reading for a subscription (operators only).
#[utoipa::path(post, path = "/v1/subscriptions/{id}/usage", operation_id = "record_usage", tag = "billing", request_body = RecordUsage,
    params(("id" = uuid::Uuid, Path, description = "The subscription's id")),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn record(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(raw): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<RecordUsage>,
) -> Result<Located<Accepted>, ApiError> {
    let id: SubscriptionId = crate::routes::parse_id(&raw)?;
    let metric = input::one_of("metric", &body.metric, &Metric::ALL, Metric::as_str)?;
    let quantity = Quantity::parse(&body.quantity).map_err(|e| ApiError::field("quantity", e))?;
    let key = UsageKey::parse(&body.key).map_err(|e| ApiError::field("key", e))?;
    let subscription = state.store.load::<Subscription>(&id.to_string()).await?.aggregate;
    let tenant = subscription.tenant_id().ok_or(ApiError::NotFound)?;
    let start = input::optional_date("period_start", body.period_start.as_deref())?;
    let end = input::optional_date("period_end", body.period_end.as_deref())?;
    let period = match (start, end) {
        (Some(start), Some(end)) => {
            ServicePeriod::new(start, end).map_err(|e| ApiError::field("period_end", e))?
        }
        (None, None) => subscription
            .current_period()
            .ok_or_else(|| ApiError::field("period_start", "the subscription has no current period"))?,
        _ => return Err(ApiError::field("period_end", "a period has both a start and an end")),
    };
    let expected = precondition.expected(state.require_if_match)?;
    let mut meta = operator.metadata_for(tenant.as_uuid());
    meta.command_id = usage_command_id(id, &key);
    meta.correlation_id = meta.command_id;
    let command =
        UsageCommand::Record { tenant_id: tenant, subscription_id: id, metric, quantity, period, key };
    let outcome =
        state.store.execute_at::<Usage>(&id.to_string(), command, &meta, state.retry, &[], expected).await?;
    Ok(state.links.accepted(id.as_uuid(), outcome.version, View::Usage(id.as_uuid())))
}
