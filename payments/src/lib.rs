//! Payments: the provider Berth charges cards through (Stripe, behind [`PaymentGateway`]) and
//! the verification of the webhooks it sends.
//!
//! Every call that charges or refunds carries an idempotency key the caller derives from what
//! it pays (an invoice and an attempt), so a step retried after a crash replays Stripe's first
//! answer instead of charging again. Secret keys stay inside the client: they are never part
//! of an error, an event or a log line.

mod gateway;
mod stripe;
pub mod webhook;

pub use gateway::{Card, ChargeOutcome, ChargeRequest, GatewayError, PaymentGateway, Refund};
pub use stripe::{StripeGateway, StripeSettings};
