//! `POST /v1/webhooks/stripe`: Stripe's notifications of payments.
//!
//! The signature is checked over the raw body before anything is read from it; a bad or stale
//! one is 400 and changes nothing. Each Stripe event is processed once: its delivery is
//! recorded in the same commit as the payment it reports, so ten deliveries of one event, in
//! any order, before or after the collection saga's own record of the charge, record one
//! payment. The handler acts on the PaymentIntent as the event shows it; a failed attempt is
//! the collection saga's to record (from Stripe's answer to its own charge), so here it is
//! only acknowledged. Other event types are acknowledged and ignored.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use berth_domain::ids::InvoiceId;
use berth_domain::invoice::{Invoice, Payment, PaymentMethod};
use berth_domain::money::{Currency, Money};
use berth_domain::webhook::{delivery_id, WebhookCommand, WebhookDelivery, WebhookReceipt};
use berth_eventstore::billing::{provider_payment_id, record_payment, BillingError, PaymentRequest};
use berth_eventstore::execute::ExecuteError;
use berth_http::ApiError;
use berth_payments::webhook::{self, Notice};
use serde::Serialize;

use crate::auth::Anonymous;
use crate::AppState;

/// The webhook route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/webhooks/stripe", post(stripe))
}

/// What Berth made of a delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookAnswer {
    /// Stripe's event id.
    pub event: String,
    /// `applied`, `already_recorded`, `duplicate` or `ignored`.
    pub outcome: String,
}

/// Receive a Stripe webhook (Stripe calls it).
///
/// Verified by `Stripe-Signature` (HMAC-SHA256 of `t.body`, five minutes' tolerance, any of the
/// endpoint's secrets during a rotation). Always 200 for a verified event, whatever its type.
#[utoipa::path(post, path = "/v1/webhooks/stripe", operation_id = "stripe_webhook", tag = "webhooks",
    request_body(content = serde_json::Value, description = "A Stripe event, as Stripe sends it", content_type = "application/json"),
    params(("Stripe-Signature" = String, Header, description = "t=<unix time>,v1=<hex HMAC-SHA256>")),
    responses((status = 200, description = "Processed, or ignored", body = WebhookAnswer),
              (status = 400, description = "Missing, forged or stale signature, or not a Stripe event", body = berth_http::Problem, content_type = "application/problem+json")))]
async fn stripe(
    State(state): State<AppState>,
    anonymous: Anonymous,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    // Stripe signs with the wall clock, so freshness is judged by it, not by the business
    // clock (which tests and drills move).
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if let Err(error) =
        webhook::verify(signature, &body, &state.webhooks.secrets, now, state.webhooks.tolerance_secs)
    {
        metrics::counter!("berth_webhooks_refused_total", "provider" => "stripe").increment(1);
        tracing::warn!(%error, "a Stripe webhook was refused");
        return Err(ApiError::BadRequest {
            detail: error.to_string(),
            field: Some("Stripe-Signature".to_owned()),
        });
    }
    let event =
        webhook::parse(&body).map_err(|e| ApiError::BadRequest { detail: e.to_string(), field: None })?;
    let outcome = process(&state, &anonymous, &event).await?;
    metrics::counter!("berth_webhooks_processed_total", "provider" => "stripe", "outcome" => outcome.clone())
        .increment(1);
    Ok(Json(WebhookAnswer { event: event.id, outcome }))
}

async fn process(
    state: &AppState,
    anonymous: &Anonymous,
    event: &webhook::WebhookEvent,
) -> Result<String, ApiError> {
    let receipt = |outcome: &str, detail: String, invoice: Option<InvoiceId>, tenant| WebhookReceipt {
        provider: "stripe".to_owned(),
        event_id: event.id.clone(),
        event_type: event.kind.clone(),
        outcome: outcome.to_owned(),
        detail,
        invoice_id: invoice,
        tenant_id: tenant,
    };
    let facts = match &event.notice {
        Notice::Succeeded(facts) => facts,
        Notice::Failed { intent, code, message } => {
            let detail = format!("attempt {:?} failed: {code}: {message}", intent.attempt);
            return acknowledge(
                state,
                anonymous,
                receipt("acknowledged", detail, Some(InvoiceId::from_uuid(intent.invoice)), None),
            )
            .await;
        }
        Notice::Ignored(why) => {
            return acknowledge(state, anonymous, receipt("ignored", why.clone(), None, None)).await
        }
    };
    let invoice_id = InvoiceId::from_uuid(facts.invoice);
    let invoice = state.store.load::<Invoice>(&invoice_id.to_string()).await?.aggregate;
    let Some(tenant) = invoice.tenant_id() else {
        let detail = format!("no document {invoice_id}");
        return acknowledge(state, anonymous, receipt("ignored", detail, None, None)).await;
    };
    let amount = Currency::parse(&facts.currency)
        .ok()
        .and_then(|c| Money::new(facts.amount_minor, c).ok())
        .ok_or_else(|| ApiError::BadRequest {
        detail: format!("`{}` is not a currency", facts.currency),
        field: None,
    })?;
    let payment = Payment {
        payment_id: provider_payment_id("stripe", &facts.payment_intent),
        method: PaymentMethod::Card { payment_intent: facts.payment_intent.clone() },
        amount,
        received_on: state.clock.now().date(),
        reference: Some(facts.payment_intent.clone()),
    };
    let detail = format!("{} received for {invoice_id}", amount);
    let request = PaymentRequest {
        invoice_id,
        payment,
        webhook: Some(receipt("applied", detail, Some(invoice_id), Some(tenant))),
    };
    let meta = anonymous.metadata(Some(tenant.as_uuid()), "webhook:stripe".to_owned());
    match record_payment(&state.store, &request, &meta, state.retry).await {
        Ok(recorded) if recorded.duplicate_delivery => Ok("duplicate".to_owned()),
        Ok(recorded) if recorded.new => Ok("applied".to_owned()),
        Ok(_) => Ok("already_recorded".to_owned()),
        // The document cannot take it (a credit note, a currency it is not in): acknowledged,
        // with the reason, so Stripe stops retrying and an operator sees it.
        Err(BillingError::Rejected(refusal)) => {
            let detail = format!("not recorded: {refusal}");
            acknowledge(state, anonymous, receipt("refused", detail, Some(invoice_id), Some(tenant))).await
        }
        Err(error) => Err(error.into()),
    }
}

/// Records a delivery that changes nothing else, once.
async fn acknowledge(
    state: &AppState,
    anonymous: &Anonymous,
    receipt: WebhookReceipt,
) -> Result<String, ApiError> {
    let id = delivery_id(&receipt.provider, &receipt.event_id).to_string();
    let outcome = receipt.outcome.clone();
    let meta = anonymous.metadata(receipt.tenant_id.map(|t| t.as_uuid()), "webhook:stripe".to_owned());
    match state
        .store
        .execute::<WebhookDelivery>(&id, WebhookCommand::Record { receipt }, &meta, state.retry)
        .await
    {
        Ok(_) => Ok(outcome),
        Err(ExecuteError::Rejected(_)) => Ok("duplicate".to_owned()),
        Err(error) => Err(error.into()),
    }
}
