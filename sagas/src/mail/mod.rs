//! Outgoing mail: templates ([`templates`], [`catalog`]), a transactional outbox ([`outbox`]),
//! the delivery worker that sends it over SMTP ([`delivery`], [`smtp`]), who a tenant's mail
//! goes to ([`recipients`]), and the sagas that send the notices ([`invoice`], [`billing`],
//! [`certificate`], [`backup`]).
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

pub mod backup;
pub mod billing;
pub mod catalog;
pub mod certificate;
pub mod delivery;
pub mod deploy;
pub mod invoice;
mod notice;
pub mod outbox;
pub mod recipients;
pub mod settings;
pub mod site_moves;
pub mod smtp;
pub mod templates;

use std::sync::Arc;

use berth_eventstore::feed::FeedNotifier;

pub use notice::{queue, when, NoticeSettings, Notifier};
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

/// Whether an event recorded at `recorded_at` is recent enough to mail about, `max_age_hours`
/// after it was recorded (0: any age). A mail saga deployed on a long log would otherwise mail
/// every customer about its whole history, and one that was stopped for weeks about stale
/// news. `recorded_at` is the wall-clock time of the write, so the age is taken on the wall
/// clock too, not on the sagas' (settable) clock.
pub fn recent(recorded_at: time::OffsetDateTime, max_age_hours: u64) -> bool {
    let max_age = time::Duration::hours(i64::try_from(max_age_hours).unwrap_or(i64::MAX / 3600));
    max_age_hours == 0 || time::OffsetDateTime::now_utc() - recorded_at <= max_age
}

/// An amount for people: `119.00 EUR` (money is never negative; a credit note says so in
/// words).
pub fn amount(money: berth_domain::money::Money) -> String {
    let minor = money.amount_minor();
    format!("{}.{:02} {}", minor / 100, minor % 100, money.currency().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_with_two_decimals_and_their_currency() {
        let eur = berth_domain::money::Currency::parse("EUR").unwrap();
        let money = |minor| berth_domain::money::Money::new(minor, eur).unwrap();
        assert_eq!(amount(money(11_900)), "119.00 EUR");
        assert_eq!(amount(money(2_050)), "20.50 EUR");
        assert_eq!(amount(money(7)), "0.07 EUR");
    }

    #[test]
    fn only_recent_events_are_mailed_about_unless_any_age_goes() {
        let now = time::OffsetDateTime::now_utc();
        assert!(recent(now - time::Duration::hours(1), 168));
        assert!(!recent(now - time::Duration::days(8), 168));
        assert!(recent(now - time::Duration::days(800), 0));
    }
}
