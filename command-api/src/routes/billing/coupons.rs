//! `/v1/coupons` (operators only): create a coupon, withdraw it.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use berth_domain::billing::Percent;
use berth_domain::coupon::{Coupon, CouponCode, CouponCommand, CouponDiscount, CouponDuration};
use berth_domain::ids::CouponId;
use berth_domain::plan::PlanCode;
use berth_eventstore::billing::plan_by_code;
use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::Deserialize;

use super::input::{self, MoneyBody};
use crate::accepted::Located;
use crate::auth::Operator;
use crate::{Accepted, AppState, View};

/// The coupon routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/coupons", post(create)).route("/v1/coupons/{id}/withdraw", post(withdraw))
}

/// `POST /v1/coupons` body: a percentage or fixed amounts off, for some paid periods.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "WELCOME10", "percent_off": "10", "duration": "once", "max_redemptions": 100}))]
pub struct CreateCoupon {
    /// 3 to 32 characters of A-Z, 0-9, `-` and `_` (folded to upper case).
    #[schema(pattern = "^[A-Za-z0-9_-]{3,32}$")]
    pub code: String,
    /// A percentage off each discounted period, at most two decimals; or `amounts_off`.
    #[schema(pattern = "^[0-9]{1,3}(\\.[0-9]{1,2})?$", example = "10")]
    pub percent_off: Option<String>,
    /// A fixed amount off per period, one per currency it can be redeemed in; or `percent_off`.
    pub amounts_off: Option<Vec<MoneyBody>>,
    /// For how many paid periods.
    #[schema(value_type = berth_http::schema::CouponDurationName)]
    pub duration: String,
    /// With `duration` `periods`: how many.
    #[schema(minimum = 1)]
    pub periods: Option<u32>,
    /// How many subscriptions may redeem it.
    #[schema(minimum = 1)]
    pub max_redemptions: Option<u32>,
    /// When it stops being redeemable (RFC 3339).
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// The codes of the plans it applies to; none: every plan.
    #[serde(default)]
    pub plans: Vec<String>,
}

/// Create a coupon (operators only).
#[utoipa::path(post, path = "/v1/coupons", operation_id = "create_coupon", tag = "billing", request_body = CreateCoupon,
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    operator: Operator,
    ApiJson(body): ApiJson<CreateCoupon>,
) -> Result<Located<Accepted>, ApiError> {
    let coupon_id = CouponId::from_uuid(operator.new_id());
    let code = CouponCode::parse(&body.code).map_err(|e| ApiError::field("code", e))?;
    let discount = match (&body.percent_off, &body.amounts_off) {
        (Some(percent), None) => {
            CouponDiscount::Percent(Percent::parse(percent).map_err(|e| ApiError::field("percent_off", e))?)
        }
        (None, Some(amounts)) => CouponDiscount::Amounts(
            amounts
                .iter()
                .enumerate()
                .map(|(i, a)| input::money(&format!("amounts_off.{i}"), a))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(ApiError::field("percent_off", "give either percent_off or amounts_off")),
    };
    let duration = match (body.duration.as_str(), body.periods) {
        ("once", None) => CouponDuration::Once,
        ("forever", None) => CouponDuration::Forever,
        ("periods", Some(n)) => CouponDuration::Periods(n),
        ("periods", None) => {
            return Err(ApiError::field("periods", "a coupon for some periods says how many"))
        }
        ("once" | "forever", Some(_)) => {
            return Err(ApiError::field("periods", "only a coupon for some periods has a number of periods"))
        }
        (other, _) => {
            return Err(ApiError::field(
                "duration",
                format!("unknown value `{other}`; expected once, periods or forever"),
            ))
        }
    };
    let expires_at = crate::routes::parse_time("expires_at", body.expires_at.as_deref())?;
    let mut plans = Vec::with_capacity(body.plans.len());
    for (i, raw) in body.plans.iter().enumerate() {
        let field = format!("plans.{i}");
        let code = PlanCode::parse(raw).map_err(|e| ApiError::field(&field, e))?;
        let plan = plan_by_code(&state.store, &code).await?.ok_or_else(|| {
            super::unknown(&field, "plan-not-found", format!("no plan has the code `{}`", code.as_str()))
        })?;
        plans.push(plan);
    }
    let command = CouponCommand::Create {
        coupon_id,
        code,
        discount,
        duration,
        max_redemptions: body.max_redemptions,
        expires_at,
        plans,
        now: state.clock.now(),
    };
    let meta = operator.metadata();
    // The code is claimed by the coupon's own `Created` event, in the same commit.
    let outcome = state.store.execute::<Coupon>(&coupon_id.to_string(), command, &meta, state.retry).await?;
    Ok(state.links.accepted(coupon_id.as_uuid(), outcome.version, View::Coupon(coupon_id.as_uuid())))
}

/// Withdraw a coupon (operators only).
///
/// It takes no new redemptions; subscriptions that redeemed it keep their discount.
#[utoipa::path(post, path = "/v1/coupons/{id}/withdraw", operation_id = "withdraw_coupon", tag = "billing",
    params(("id" = uuid::Uuid, Path, description = "The coupon's id")),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn withdraw(
    State(state): State<AppState>,
    operator: Operator,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    let coupon_id: CouponId = crate::routes::parse_id(&id)?;
    let expected = precondition.expected(state.require_if_match)?;
    let meta = operator.metadata();
    let outcome = state
        .store
        .execute_at::<Coupon>(
            &coupon_id.to_string(),
            CouponCommand::Withdraw,
            &meta,
            state.retry,
            &[],
            expected,
        )
        .await?;
    Ok(state.links.accepted(coupon_id.as_uuid(), outcome.version, View::Coupon(coupon_id.as_uuid())))
}
