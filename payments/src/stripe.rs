//! The real provider: Stripe's API through async-stripe.

use std::collections::HashMap;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use secrecy::{ExposeSecret, SecretString};
use stripe::{Client, ClientBuilder, StripeError};
use stripe_client_core::{IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_core::customer::CreateCustomer;
use stripe_core::payment_intent::{CreatePaymentIntent, CreatePaymentIntentOffSession};
use stripe_core::refund::CreateRefund;
use stripe_payment::payment_method::{AttachPaymentMethod, DetachPaymentMethod};
use stripe_shared::{PaymentIntent, PaymentIntentStatus};

use crate::gateway::{Card, ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway, Refund};

/// Where Stripe is and how Berth signs in.
#[derive(Clone)]
pub struct StripeSettings {
    /// The API's base URL, ending in `/` (`https://api.stripe.com/`, or the local fake).
    pub url: String,
    /// The secret key (`sk_...`).
    pub secret_key: SecretString,
    /// Per attempt.
    pub timeout: Duration,
}

/// Stripe, as a [`PaymentGateway`].
pub struct StripeGateway {
    client: Client,
}

impl StripeGateway {
    /// A client for `settings`.
    pub fn new(settings: &StripeSettings) -> Result<Self, GatewayError> {
        let client = ClientBuilder::new(settings.secret_key.expose_secret())
            .url(settings.url.clone())
            .timeout(settings.timeout)
            .build()
            .map_err(|e| GatewayError::Unavailable(describe(&e)))?;
        Ok(Self { client })
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, GatewayError> {
    IdempotencyKey::new(key).map(RequestStrategy::Idempotent).map_err(|e| GatewayError::Invalid {
        code: "idempotency_key".to_owned(),
        param: None,
        message: e.to_string(),
    })
}

/// An error in words that never carry the key (async-stripe's own `Display` of a client error
/// is the transport's, which holds no credentials; Stripe's errors are described field by field).
fn describe(error: &StripeError) -> String {
    match error {
        StripeError::Stripe(api, status) => {
            format!("{status}: {}", api.message.as_deref().unwrap_or("no message"))
        }
        StripeError::JSONDeserialize(what) => format!("an answer Berth could not read: {what}"),
        StripeError::ClientError(what) => what.clone(),
        StripeError::ConfigError(what) => format!("configuration: {what}"),
        StripeError::Timeout => "timed out".to_owned(),
    }
}

/// A refusal (4xx other than 429) is final; anything else is worth another try.
fn failure(error: StripeError) -> GatewayError {
    match error {
        StripeError::Stripe(api, status) if (400..500).contains(&status) && status != 429 => {
            GatewayError::Invalid {
                code: api.code.as_ref().map_or_else(|| api.type_.to_string(), ToString::to_string),
                param: api.param.clone(),
                message: api.message.clone().unwrap_or_else(|| format!("refused ({status})")),
            }
        }
        other => GatewayError::Unavailable(describe(&other)),
    }
}

fn outcome(intent: &PaymentIntent) -> ChargeOutcome {
    let id = intent.id.to_string();
    match &intent.status {
        PaymentIntentStatus::Succeeded => {
            ChargeOutcome::Succeeded { payment_intent: id, amount_minor: intent.amount_received }
        }
        PaymentIntentStatus::Processing | PaymentIntentStatus::RequiresCapture => {
            ChargeOutcome::Pending { payment_intent: id }
        }
        other => {
            let error = intent.last_payment_error.as_deref();
            ChargeOutcome::Declined {
                payment_intent: Some(id),
                code: error
                    .and_then(|e| e.code.as_ref().map(ToString::to_string))
                    .unwrap_or_else(|| other.to_string()),
                decline_code: error.and_then(|e| e.decline_code.clone()),
                message: error
                    .and_then(|e| e.message.clone())
                    .unwrap_or_else(|| format!("the payment is {other}")),
            }
        }
    }
}

impl PaymentGateway for StripeGateway {
    fn create_customer<'a>(
        &'a self,
        tenant: uuid::Uuid,
        name: &'a str,
        email: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, GatewayError>> {
        async move {
            let mut create = CreateCustomer::new()
                .name(name)
                .metadata(HashMap::from([("tenant".to_owned(), tenant.to_string())]));
            if let Some(email) = email {
                create = create.email(email);
            }
            let customer = create
                .customize()
                .request_strategy(idempotent(&format!("berth-customer-{tenant}"))?)
                .send(&self.client)
                .await
                .map_err(failure)?;
            Ok(customer.id.to_string())
        }
        .boxed()
    }

    fn attach_card<'a>(
        &'a self,
        customer: &'a str,
        payment_method: &'a str,
    ) -> BoxFuture<'a, Result<Card, GatewayError>> {
        async move {
            let method = AttachPaymentMethod::new(payment_method)
                .customer(customer)
                .send(&self.client)
                .await
                .map_err(failure)?;
            let Some(card) = method.card else {
                return Err(GatewayError::Invalid {
                    code: "payment_method_not_a_card".to_owned(),
                    param: Some("payment_method".to_owned()),
                    message: "only cards can be saved".to_owned(),
                });
            };
            Ok(Card {
                payment_method: method.id.to_string(),
                brand: card.brand,
                last4: card.last4,
                exp_month: u8::try_from(card.exp_month).unwrap_or(0),
                exp_year: u16::try_from(card.exp_year).unwrap_or(0),
            })
        }
        .boxed()
    }

    fn detach_card<'a>(&'a self, payment_method: &'a str) -> BoxFuture<'a, Result<(), GatewayError>> {
        async move {
            DetachPaymentMethod::new(payment_method).send(&self.client).await.map_err(failure)?;
            Ok(())
        }
        .boxed()
    }

    fn charge<'a>(
        &'a self,
        request: &'a ChargeRequest,
    ) -> BoxFuture<'a, Result<ChargeOutcome, GatewayError>> {
        async move {
            let currency = request
                .currency
                .to_ascii_lowercase()
                .parse::<stripe_types::Currency>()
                .map_err(|never| match never {})?;
            let create = CreatePaymentIntent::new(request.amount_minor, currency)
                .customer(request.customer.as_str())
                .payment_method(request.payment_method.as_str())
                .off_session(CreatePaymentIntentOffSession::Bool(true))
                .confirm(true)
                .description(request.description.as_str())
                .metadata(request.metadata.iter().cloned().collect::<HashMap<_, _>>());
            let answer = create
                .customize()
                .request_strategy(idempotent(&request.idempotency_key)?)
                .send(&self.client)
                .await;
            match answer {
                Ok(intent) => Ok(outcome(&intent)),
                // A decline is a 402 card error that carries the PaymentIntent.
                Err(StripeError::Stripe(api, 402)) => Ok(ChargeOutcome::Declined {
                    payment_intent: api.payment_intent.as_ref().map(|p| p.id.to_string()),
                    code: api.code.as_ref().map_or_else(|| "card_declined".to_owned(), ToString::to_string),
                    decline_code: api.decline_code.clone(),
                    message: api.message.clone().unwrap_or_else(|| "the card was declined".to_owned()),
                }),
                Err(error) => Err(failure(error)),
            }
        }
        .boxed()
    }

    fn refund<'a>(
        &'a self,
        payment_intent: &'a str,
        amount_minor: i64,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Refund, GatewayError>> {
        async move {
            let refund = CreateRefund::new()
                .payment_intent(payment_intent)
                .amount(amount_minor)
                .customize()
                .request_strategy(idempotent(idempotency_key)?)
                .send(&self.client)
                .await
                .map_err(failure)?;
            Ok(Refund { id: refund.id.to_string(), amount_minor: refund.amount })
        }
        .boxed()
    }
}
