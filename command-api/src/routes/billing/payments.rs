//! Paying: a tenant saves a card (the PaymentMethod its frontend collected with Stripe.js),
//! removes one, or pays an invoice now with its card; every card charge later is the
//! collection saga's.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::Router;
use berth_domain::ids::InvoiceId;
use berth_domain::invoice::{Invoice, Payment, PaymentMethod};
use berth_domain::payment_account::{PaymentAccount, PaymentAccountCommand, SavedCard};
use berth_domain::role::Permission;
use berth_eventstore::billing::{provider_payment_id, record_payment, PaymentRequest};
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use berth_payments::{ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway};
use serde::{Deserialize, Serialize};

use crate::accepted::Located;
use crate::auth::Caller;
use crate::{AppState, View};

/// The paying routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/billing/payment-methods", post(save_card))
        .route("/v1/billing/payment-methods/{id}", delete(remove_card))
        .route("/v1/invoices/{id}/pay", post(pay_now))
}

/// `POST /v1/billing/payment-methods` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    /// The PaymentMethod id Stripe.js gave the frontend (`pm_...`).
    #[schema(example = "pm_1Q0PsIJvEtkwdCNYMSaVuRz6", max_length = 255)]
    pub payment_method: String,
}

/// A saved card.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CardAnswer {
    /// The PaymentMethod id.
    pub payment_method: String,
    /// `visa`, `mastercard`, ...
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: u16,
    /// The payment account's version.
    #[schema(minimum = 0)]
    pub version: i64,
}

/// `POST /v1/invoices/{id}/pay` body; every field is optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBody {
    /// One of the tenant's saved cards (default: the default card).
    #[schema(max_length = 255)]
    pub payment_method: Option<String>,
}

/// The answer to a payment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PaidAnswer {
    /// The document.
    pub id: uuid::Uuid,
    /// Its version afterwards.
    #[schema(minimum = 0)]
    pub version: i64,
    /// The payment's id.
    pub payment_id: uuid::Uuid,
    /// What is left to pay, in minor units.
    pub balance_due_minor: i64,
    /// Whether nothing is left to pay.
    pub settled: bool,
}

fn gateway(state: &AppState) -> Result<&dyn PaymentGateway, ApiError> {
    state.payments.as_deref().ok_or(ApiError::Refused {
        code: "payments-not-configured",
        kind: berth_domain::error::RefusalKind::Conflict,
        detail: "card payments are not set up on this platform; pay by bank transfer".to_owned(),
        field: None,
    })
}

/// The provider's refusal of a request, naming `field`; unavailability is a 503.
fn provider_error(error: GatewayError, field: &str) -> ApiError {
    match error {
        GatewayError::Invalid { message, .. } => ApiError::Refused {
            code: "payment-method-refused",
            kind: berth_domain::error::RefusalKind::Rule,
            detail: format!("{field}: {message}"),
            field: Some(field.to_owned()),
        },
        GatewayError::Unavailable(why) => {
            tracing::warn!(%why, "the payment provider is unavailable");
            ApiError::Unavailable
        }
    }
}

fn payment_method_id(field: &str, value: &str) -> Result<String, ApiError> {
    let ok = value.starts_with("pm_")
        && value.len() <= 255
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ApiError::field(field, "must be a Stripe PaymentMethod id such as pm_1Q0PsIJvEtkwdCNY"))
    }
}

/// Save a card.
///
/// The card is attached to the tenant's customer at Stripe (made on first use) and becomes
/// the one invoices are charged to. An unknown or unusable PaymentMethod is refused (422).
#[utoipa::path(post, path = "/v1/billing/payment-methods", operation_id = "save_payment_method", tag = "billing", request_body = CardBody,
    responses((status = 201, description = "Saved", body = CardAnswer)), security(("bearer" = [])))]
async fn save_card(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CardBody>,
) -> Result<Located<CardAnswer>, ApiError> {
    caller.require(Permission::ManageBilling)?;
    let payment_method = payment_method_id("payment_method", &body.payment_method)?;
    let gateway = gateway(&state)?;
    let tenant = caller.tenant_id;
    let id = tenant.to_string();
    let account = state.store.load::<PaymentAccount>(&id).await?.aggregate;
    let meta = caller.metadata();
    let customer = match account.customer() {
        Some(customer) => customer.to_owned(),
        None => {
            let customer = gateway
                .create_customer(tenant.as_uuid(), &tenant.to_string(), None)
                .await
                .map_err(|e| provider_error(e, "payment_method"))?;
            let link = PaymentAccountCommand::LinkCustomer { tenant_id: tenant, customer: customer.clone() };
            state.store.execute::<PaymentAccount>(&id, link, &meta.step("customer"), state.retry).await?;
            customer
        }
    };
    let card = gateway
        .attach_card(&customer, &payment_method)
        .await
        .map_err(|e| provider_error(e, "payment_method"))?;
    let saved = SavedCard {
        payment_method: card.payment_method,
        brand: card.brand,
        last4: card.last4,
        exp_month: card.exp_month,
        exp_year: card.exp_year,
    };
    let save = PaymentAccountCommand::SaveCard { card: saved.clone() };
    let outcome = state.store.execute::<PaymentAccount>(&id, save, &meta.step("card"), state.retry).await?;
    let location = state.links.to(View::PaymentMethods, outcome.version);
    let answer = CardAnswer {
        payment_method: saved.payment_method,
        brand: saved.brand,
        last4: saved.last4,
        exp_month: saved.exp_month,
        exp_year: saved.exp_year,
        version: outcome.version,
    };
    Ok(Located::new(StatusCode::CREATED, location, answer))
}

/// Remove a saved card.
///
/// It is detached at Stripe and no longer charged; the newest other card becomes the default.
#[utoipa::path(delete, path = "/v1/billing/payment-methods/{id}", operation_id = "remove_payment_method", tag = "billing",
    params(("id" = String, Path, description = "The PaymentMethod id")),
    responses((status = 202, description = "Removed", body = crate::Accepted)), security(("bearer" = [])))]
async fn remove_card(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
) -> Result<Located<crate::Accepted>, ApiError> {
    caller.require(Permission::ManageBilling)?;
    let payment_method = payment_method_id("id", &raw)?;
    let id = caller.tenant_id.to_string();
    let account = state.store.load::<PaymentAccount>(&id).await?.aggregate;
    if !account.cards().iter().any(|c| c.payment_method == payment_method) {
        return Err(ApiError::NotFound);
    }
    gateway(&state)?.detach_card(&payment_method).await.map_err(|e| provider_error(e, "id"))?;
    let remove = PaymentAccountCommand::RemoveCard { payment_method };
    let outcome = state.store.execute::<PaymentAccount>(&id, remove, &caller.metadata(), state.retry).await?;
    Ok(state.links.accepted(caller.tenant_id.as_uuid(), outcome.version, View::PaymentMethods))
}

/// Pay an invoice or proforma now with a saved card.
///
/// The balance is charged at once. A declined card answers 402 with Stripe's reason, and the
/// document stays unpaid; an invoice of another tenant is 404.
#[utoipa::path(post, path = "/v1/invoices/{id}/pay", operation_id = "pay_invoice", tag = "invoices", request_body = PayBody,
    params(("id" = uuid::Uuid, Path, description = "The document's id")),
    responses((status = 202, description = "Paid", body = PaidAnswer)), security(("bearer" = [])))]
async fn pay_now(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(raw): ApiPath<String>,
    ApiJson(body): ApiJson<PayBody>,
) -> Result<Located<PaidAnswer>, ApiError> {
    caller.require(Permission::ManageBilling)?;
    let invoice_id: InvoiceId = crate::routes::parse_id(&raw)?;
    let invoice = state.store.load::<Invoice>(&invoice_id.to_string()).await?.aggregate;
    if invoice.tenant_id() != Some(caller.tenant_id) {
        return Err(ApiError::NotFound);
    }
    let due = invoice
        .balance_due()
        .ok_or_else(|| ApiError::refused(&berth_domain::invoice::InvoiceError::NotPayable))?;
    if due.amount_minor() == 0 {
        return Err(ApiError::Refused {
            code: "nothing-due",
            kind: berth_domain::error::RefusalKind::Conflict,
            detail: "nothing is left to pay on the document".to_owned(),
            field: None,
        });
    }
    let gateway = gateway(&state)?;
    let account = state.store.load::<PaymentAccount>(&caller.tenant_id.to_string()).await?.aggregate;
    let card =
        match body.payment_method.as_deref() {
            Some(raw) => {
                let wanted = payment_method_id("payment_method", raw)?;
                account.cards().iter().find(|c| c.payment_method == wanted).cloned().ok_or_else(|| {
                    ApiError::field("payment_method", "is not one of the tenant's saved cards")
                })?
            }
            None => account.default_card().cloned().ok_or_else(|| ApiError::Refused {
                code: "no-payment-method",
                kind: berth_domain::error::RefusalKind::Conflict,
                detail: "the tenant has no card on file: save one first".to_owned(),
                field: Some("payment_method".to_owned()),
            })?,
        };
    let customer = account.customer().ok_or(ApiError::NotFound)?;
    let meta = caller.metadata();
    let request = ChargeRequest {
        customer: customer.to_owned(),
        payment_method: card.payment_method.clone(),
        amount_minor: due.amount_minor(),
        currency: due.currency().as_str().to_owned(),
        // The command's id derives from the Idempotency-Key when one is sent: a retried
        // request charges once.
        idempotency_key: format!("berth-invoice-{invoice_id}-now-{}", meta.command_id),
        metadata: vec![
            ("invoice".to_owned(), invoice_id.to_string()),
            ("tenant".to_owned(), caller.tenant_id.to_string()),
        ],
        description: invoice
            .document()
            .map_or_else(|| format!("Berth {invoice_id}"), |d| format!("Berth {}", d.number())),
    };
    let (payment_intent, amount_minor) =
        match gateway.charge(&request).await.map_err(|e| provider_error(e, "payment_method"))? {
            ChargeOutcome::Succeeded { payment_intent, amount_minor } => (payment_intent, amount_minor),
            ChargeOutcome::Pending { .. } => {
                return Err(ApiError::Refused {
                    code: "payment-pending",
                    kind: berth_domain::error::RefusalKind::Conflict,
                    detail: "the payment is being processed; the invoice is marked paid when it completes"
                        .to_owned(),
                    field: None,
                })
            }
            ChargeOutcome::Declined { message, .. } => {
                return Err(ApiError::Refused {
                    code: "card-declined",
                    kind: berth_domain::error::RefusalKind::PaymentRequired,
                    detail: format!("the card was declined: {message}"),
                    field: Some("payment_method".to_owned()),
                })
            }
        };
    let amount = berth_domain::money::Money::new(amount_minor, due.currency())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let payment_id = provider_payment_id("stripe", &payment_intent);
    let payment = Payment {
        payment_id,
        method: PaymentMethod::Card { payment_intent: payment_intent.clone() },
        amount,
        received_on: state.clock.now().date(),
        reference: Some(payment_intent),
    };
    let recorded = record_payment(
        &state.store,
        &PaymentRequest { invoice_id, payment, webhook: None },
        &meta,
        state.retry,
    )
    .await?;
    let location = state.links.to(View::Invoice(invoice_id.as_uuid()), recorded.version);
    let answer = PaidAnswer {
        id: invoice_id.as_uuid(),
        version: recorded.version,
        payment_id,
        balance_due_minor: recorded.balance_due.map_or(0, |m| m.amount_minor()),
        settled: recorded.settled,
    };
    Ok(Located::new(StatusCode::ACCEPTED, location, answer))
}
