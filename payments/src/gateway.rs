//! What Berth asks of a payment provider.

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

/// A saved card, as far as Berth shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// The provider's PaymentMethod id (`pm_...`).
    pub payment_method: String,
    /// `visa`, `mastercard`, ...
    pub brand: String,
    /// The last four digits.
    pub last4: String,
    /// Expiry month (1-12).
    pub exp_month: u8,
    /// Expiry year.
    pub exp_year: u16,
}

/// An off-session charge of a saved card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// The provider's customer.
    pub customer: String,
    /// The card.
    pub payment_method: String,
    /// In minor units.
    pub amount_minor: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// Derived from what is paid and the attempt: the same key never charges twice.
    pub idempotency_key: String,
    /// Written on the PaymentIntent (`invoice`, `tenant`, `attempt`), so webhooks find it.
    pub metadata: Vec<(String, String)>,
    /// On statements and in the provider's dashboard.
    pub description: String,
}

/// How a charge ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// Paid.
    Succeeded {
        /// The PaymentIntent.
        payment_intent: String,
        /// What was received, in minor units.
        amount_minor: i64,
    },
    /// Refused by the card's issuer or the provider.
    Declined {
        /// The PaymentIntent, when one was made.
        payment_intent: Option<String>,
        /// The provider's code (`card_declined`, `expired_card`, `authentication_required`).
        code: String,
        /// The decline code, when the issuer gave one (`insufficient_funds`).
        decline_code: Option<String>,
        /// The provider's words.
        message: String,
    },
    /// Still under way at the provider (`processing`); a webhook says how it ends.
    Pending {
        /// The PaymentIntent.
        payment_intent: String,
    },
}

/// A refund made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    /// The provider's refund id.
    pub id: String,
    /// Its amount in minor units.
    pub amount_minor: i64,
}

/// Why a call to the provider did not give an answer Berth can act on.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The provider refused the request as given (an unknown PaymentMethod, a bad
    /// parameter): asking again will not help.
    #[error("{message}")]
    Invalid {
        /// The provider's code.
        code: String,
        /// The parameter it names, if any.
        param: Option<String>,
        /// Its words.
        message: String,
    },
    /// The provider could not be reached or failed: try again later, with the same key.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
}

/// A payment provider.
pub trait PaymentGateway: Send + Sync + 'static {
    /// The provider's customer for `tenant`, created once (the key derives from the tenant).
    fn create_customer<'a>(
        &'a self,
        tenant: uuid::Uuid,
        name: &'a str,
        email: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, GatewayError>>;

    /// Attaches `payment_method` to `customer` and describes the card.
    fn attach_card<'a>(
        &'a self,
        customer: &'a str,
        payment_method: &'a str,
    ) -> BoxFuture<'a, Result<Card, GatewayError>>;

    /// Detaches a card that is no longer wanted.
    fn detach_card<'a>(&'a self, payment_method: &'a str) -> BoxFuture<'a, Result<(), GatewayError>>;

    /// Charges a saved card off-session, confirmed at once.
    fn charge<'a>(&'a self, request: &'a ChargeRequest)
        -> BoxFuture<'a, Result<ChargeOutcome, GatewayError>>;

    /// Refunds `amount_minor` of a PaymentIntent (the key derives from the credit note).
    fn refund<'a>(
        &'a self,
        payment_intent: &'a str,
        amount_minor: i64,
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<Refund, GatewayError>>;
}
