//! Outgoing mail: templates ([`templates`], [`catalog`]), a transactional outbox ([`outbox`]),
//! the delivery worker that sends it over SMTP ([`delivery`], [`smtp`]), who a tenant's mail
//! goes to ([`recipients`]), and the sagas that send the first notices ([`invoice`],
//! [`certificate`]).
//!
//! A saga that wants a mail sent queues it with [`Outbox::enqueue`] (on the pool, or in its
//! own transaction) under an idempotency key; rendering happens then, so the outbox holds
//! exactly what goes out, and queueing never waits for a mail server. Any sagas process
//! delivers it, once, retrying with backoff while the server is away.
//!
//! ```ignore
//! let to = recipients::billing_emails(&context.pool, tenant).await?;
//! context.mail.outbox.enqueue(&context.pool, OutgoingMail {
//!     key: format!("payment-failed:{payment_id}"),
//!     tenant_id: Some(tenant),
//!     to,
//!     template: catalog::PAYMENT_FAILED,
//!     context: json!({ "invoice_number": "BRT-000042", "amount": "119.00 EUR",
//!                      "reason": "the card was declined", "next_retry": null }),
//!     attachments: Vec::new(),
//! }).await?;
//! ```

pub mod catalog;
pub mod certificate;
pub mod delivery;
pub mod invoice;
pub mod outbox;
pub mod recipients;
pub mod settings;
pub mod smtp;
pub mod templates;

use std::sync::Arc;

use berth_eventstore::feed::FeedNotifier;

pub use outbox::{Attachment, Outbox, OutgoingMail};
pub use settings::{MailSettings, RetryPolicy, TlsMode};

use crate::mail::smtp::MailSender;

/// What sagas and the delivery worker share about mail.
#[derive(Clone)]
pub struct Mail {
    /// Where mail is queued.
    pub outbox: Outbox,
    /// The mail server; `None` when none is configured (mail waits in the outbox).
    pub sender: Option<Arc<dyn MailSender>>,
    /// How failed deliveries are retried.
    pub retry: RetryPolicy,
    /// Wakes the delivery workers when a mail is queued.
    pub wakeups: FeedNotifier,
}

/// Why a mail could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// No such template.
    #[error("no mail template `{0}`")]
    UnknownTemplate(String),
    /// The template did not render (a variable it needs is missing, say).
    #[error("{template}: {reason}")]
    Render {
        /// The template file.
        template: String,
        /// Why.
        reason: String,
    },
    /// A recipient is not an e-mail address.
    #[error("`{address}` is not an e-mail address: {reason}")]
    Address {
        /// The address.
        address: String,
        /// Why.
        reason: String,
    },
    /// Nobody to send it to.
    #[error("the mail has no recipients")]
    NoRecipients,
    /// The outbox could not be written: try again later.
    #[error("the mail outbox: {0}")]
    Storage(#[from] sqlx::Error),
}

/// An amount for people: `119.00 EUR`, `-20.50 RON`.
pub fn amount(money: berth_domain::money::Money) -> String {
    let minor = money.amount_minor();
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02} {}", abs / 100, abs % 100, money.currency().as_str())
}
