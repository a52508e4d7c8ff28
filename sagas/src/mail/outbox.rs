//! Queueing mail: rendered at once, written to `mail_outbox` under an idempotency key, in the
//! caller's transaction or on its own; a delivery worker sends it later ([`super::delivery`]).
//! Queueing never touches the SMTP server, so a mail server that is down never holds up or
//! fails the work that wants a mail sent.

use std::sync::Arc;

use berth_domain::ids::TenantId;
use berth_eventstore::clock::Clock;
use serde_json::Value;

use crate::mail::templates::Templates;
use crate::mail::MailError;

/// The NOTIFY channel delivery workers wake on: a mail was queued (sent at commit).
pub const MAIL_CHANNEL: &str = "berth_mail";

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its file name, as the recipient sees it.
    pub filename: String,
    /// Its MIME type (`application/pdf`).
    pub content_type: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// A mail to queue.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// The idempotency key: one mail per key, ever (derive it from what the mail is about and
    /// the step, such as `invoice-issued:<invoice id>`).
    pub key: String,
    /// The tenant it is about, if any.
    pub tenant_id: Option<TenantId>,
    /// Where it goes.
    pub to: Vec<String>,
    /// The template (one of [`crate::mail::catalog`]'s names).
    pub template: &'static str,
    /// The template's variables.
    pub context: Value,
    /// Files to attach.
    pub attachments: Vec<Attachment>,
}

/// Queues mail. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    templates: Arc<Templates>,
    clock: Arc<dyn Clock>,
}

impl Outbox {
    /// An outbox rendering with `templates`, dating mail by `clock`.
    pub fn new(templates: Arc<Templates>, clock: Arc<dyn Clock>) -> Self {
        Self { templates, clock }
    }

    /// The templates it renders with.
    pub fn templates(&self) -> &Templates {
        &self.templates
    }

    /// Renders `mail` and queues it on `executor` (`&PgPool`, or `&mut *tx` to queue it with
    /// the caller's own writes: it is then sent only if they commit). Answers whether it was
    /// newly queued: `false` when a mail with its key was queued before, which is left as it
    /// was. A template that does not render or an address that does not parse is an error and
    /// queues nothing.
    pub async fn enqueue<'e, E>(&self, executor: E, mail: OutgoingMail) -> Result<bool, MailError>
    where
        E: sqlx::PgExecutor<'e>,
    {
        if mail.to.is_empty() {
            return Err(MailError::NoRecipients);
        }
        for address in &mail.to {
            address
                .parse::<lettre::Address>()
                .map_err(|e| MailError::Address { address: address.clone(), reason: e.to_string() })?;
        }
        let rendered = self.templates.render(mail.template, &mail.context)?;
        let (names, types, contents): (Vec<String>, Vec<String>, Vec<Vec<u8>>) = mail
            .attachments
            .into_iter()
            .map(|a| (a.filename, a.content_type, a.bytes))
            .fold((Vec::new(), Vec::new(), Vec::new()), |(mut n, mut t, mut c), (name, kind, bytes)| {
                n.push(name);
                t.push(kind);
                c.push(bytes);
                (n, t, c)
            });
        // The wake-up is in the same statement, so it is sent when (and only if) the row commits.
        let (queued, _woken): (i64, i64) = sqlx::query_as(
            "WITH queued AS (
                 INSERT INTO mail_outbox (key, tenant_id, template, recipients, subject, body_text, body_html,
                                          attachment_names, attachment_types, attachment_contents,
                                          next_attempt_at, queued_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
                 ON CONFLICT (key) DO NOTHING
                 RETURNING id),
             woken AS (SELECT pg_notify($12, '') FROM queued)
             SELECT (SELECT count(*) FROM queued), (SELECT count(*) FROM woken)",
        )
        .bind(&mail.key)
        .bind(mail.tenant_id.map(|t| t.as_uuid()))
        .bind(mail.template)
        .bind(&mail.to)
        .bind(&rendered.subject)
        .bind(&rendered.text)
        .bind(&rendered.html)
        .bind(&names)
        .bind(&types)
        .bind(&contents)
        .bind(self.clock.now())
        .bind(MAIL_CHANNEL)
        .fetch_one(executor)
        .await?;
        if queued > 0 {
            metrics::counter!("berth_mail_queued_total", "template" => mail.template).increment(1);
        }
        Ok(queued > 0)
    }
}
