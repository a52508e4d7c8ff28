//! The delivery worker: sends queued mail, in any number of sagas processes at once.
//!
//! Each round leases a batch of due messages (`FOR UPDATE SKIP LOCKED`, then a lease time
//! written back, so no transaction stays open while a mail server is talked to and rows
//! another process holds are skipped), sends them a few at a time, and records each outcome:
//! sent, or failed and due again after an exponential backoff, or failed for good after the
//! last attempt, with the reason. It sleeps until the next message is due, a mail is queued,
//! the clock is moved by hand, or the poll interval passes.

use std::sync::Arc;
use std::time::Duration;

use berth_eventstore::clock::Clock;
use berth_eventstore::feed::FeedNotifier;
use berth_eventstore::shutdown::pause;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::context::SagaContext;
use crate::mail::outbox::Attachment;
use crate::mail::settings::RetryPolicy;
use crate::mail::smtp::{MailSender, QueuedMail};
use crate::saga::Worker;

/// The delivery worker.
pub struct MailDelivery {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    wakeups: FeedNotifier,
    sender: Option<Arc<dyn MailSender>>,
    retry: RetryPolicy,
    settings: DeliverySettings,
}

/// `[sagas.mail]` (how often and how much; the server and the retries are `[mail]`'s).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliverySettings {
    /// Messages leased per round.
    pub batch: i64,
    /// Messages sent at once.
    pub concurrency: usize,
    /// Seconds a leased message stays with this process before another may send it: longer
    /// than one SMTP exchange may take.
    pub lease_secs: u64,
    /// Milliseconds between looks when nothing wakes the worker.
    pub poll_ms: u64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self { batch: 50, concurrency: 4, lease_secs: 300, poll_ms: 1000 }
    }
}

impl Worker for MailDelivery {
    const NAME: &'static str = "mail";
    type Settings = DeliverySettings;

    fn build(context: &SagaContext, settings: &DeliverySettings) -> Self {
        Self {
            pool: context.pool.clone(),
            clock: context.clock.clone(),
            wakeups: context.mail.wakeups.clone(),
            sender: context.mail.sender.clone(),
            retry: context.mail.retry,
            settings: settings.clone(),
        }
    }

    async fn run(mut self, shutdown: CancellationToken) {
        let Some(sender) = self.sender.clone() else {
            tracing::warn!("mail.host is empty: mail is queued but not sent until a server is set");
            shutdown.cancelled().await;
            return;
        };
        let mut moved = self.clock.moved();
        while !shutdown.is_cancelled() {
            let leased = match self.round(sender.as_ref()).await {
                Ok(leased) => leased,
                Err(error) => {
                    tracing::warn!(%error, "cannot lease queued mail; retrying");
                    pause(&shutdown, Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.gauge().await;
            if leased > 0 {
                continue;
            }
            let until_next = self.until_next_due().await;
            tokio::select! {
                () = self.wakeups.wait(&shutdown) => {}
                _ = moved.changed() => {}
                () = tokio::time::sleep(until_next) => {}
            }
        }
    }
}

/// A leased row as it is read.
#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    key: String,
    recipients: Vec<String>,
    subject: String,
    body_text: String,
    body_html: Option<String>,
    attachment_names: Vec<String>,
    attachment_types: Vec<String>,
    attachment_contents: Vec<Vec<u8>>,
    attempts: i32,
}

impl From<Row> for QueuedMail {
    fn from(row: Row) -> Self {
        let attachments = row
            .attachment_names
            .into_iter()
            .zip(row.attachment_types)
            .zip(row.attachment_contents)
            .map(|((filename, content_type), bytes)| Attachment { filename, content_type, bytes })
            .collect();
        Self {
            id: row.id,
            key: row.key,
            to: row.recipients,
            subject: row.subject,
            text: row.body_text,
            html: row.body_html,
            attachments,
            attempts: row.attempts,
        }
    }
}

/// Leases up to `limit` messages due at `now` for `lease`, skipping rows another process holds.
async fn lease_due(
    pool: &PgPool,
    now: OffsetDateTime,
    limit: i64,
    lease: Duration,
) -> Result<Vec<QueuedMail>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "UPDATE mail_outbox m SET lease_until = now() + make_interval(secs => $3), attempts = m.attempts + 1
           FROM (SELECT id FROM mail_outbox
                  WHERE status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < now())
                  ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
          WHERE m.id = due.id
         RETURNING m.id, m.key, m.recipients, m.subject, m.body_text, m.body_html, m.attachment_names,
                   m.attachment_types, m.attachment_contents, m.attempts",
    )
    .bind(now)
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(QueuedMail::from).collect())
}

impl MailDelivery {
    /// Leases and sends one batch; how many were leased.
    async fn round(&self, sender: &dyn MailSender) -> Result<usize, sqlx::Error> {
        let lease = Duration::from_secs(self.settings.lease_secs.max(1));
        let due = lease_due(&self.pool, self.clock.now(), self.settings.batch.max(1), lease).await?;
        let count = due.len();
        futures::stream::iter(due)
            .for_each_concurrent(self.settings.concurrency.max(1), |mail| async move {
                self.deliver(sender, &mail).await;
            })
            .await;
        Ok(count)
    }

    #[tracing::instrument(skip_all, fields(key = %mail.key, attempt = mail.attempts))]
    async fn deliver(&self, sender: &dyn MailSender, mail: &QueuedMail) {
        let outcome = sender.send(mail).await;
        let now = self.clock.now();
        let recorded = match &outcome {
            Ok(()) => {
                metrics::counter!("berth_mail_sent_total").increment(1);
                sqlx::query(
                    "UPDATE mail_outbox SET status = 'sent', sent_at = $3, lease_until = NULL, last_error = NULL
                      WHERE id = $1 AND attempts = $2 AND status = 'pending'",
                )
                .bind(mail.id)
                .bind(mail.attempts)
                .bind(now)
                .execute(&self.pool)
                .await
            }
            Err(error) => {
                metrics::counter!("berth_mail_failed_attempts_total").increment(1);
                let attempts = u32::try_from(mail.attempts).unwrap_or(u32::MAX);
                let last = attempts >= self.retry.max_attempts;
                if last {
                    metrics::counter!("berth_mail_failed_total").increment(1);
                    tracing::error!(%error, "mail not sent; no attempts left, marked failed");
                } else {
                    tracing::warn!(%error, "mail not sent; will retry");
                }
                let backoff =
                    time::Duration::try_from(self.retry.backoff(attempts)).unwrap_or(time::Duration::DAY);
                sqlx::query(
                    "UPDATE mail_outbox SET status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END,
                            next_attempt_at = $5, lease_until = NULL, last_error = $3
                      WHERE id = $1 AND attempts = $2 AND status = 'pending'",
                )
                .bind(mail.id)
                .bind(mail.attempts)
                .bind(&error.0)
                .bind(last)
                .bind(now + backoff)
                .execute(&self.pool)
                .await
            }
        };
        if let Err(error) = recorded {
            // Its lease lapses and it is tried again: a sent mail may then go out twice.
            tracing::error!(%error, sent = outcome.is_ok(), "could not record the mail's outcome");
        }
    }

    async fn gauge(&self) {
        let pending: Result<i64, _> =
            sqlx::query_scalar("SELECT count(*) FROM mail_outbox WHERE status = 'pending'")
                .fetch_one(&self.pool)
                .await;
        if let Ok(pending) = pending {
            metrics::gauge!("berth_mail_pending").set(pending as f64);
        }
    }

    /// How long until the next message is due, at most the poll interval.
    async fn until_next_due(&self) -> Duration {
        let poll = Duration::from_millis(self.settings.poll_ms.max(10));
        let next: Option<OffsetDateTime> = sqlx::query_scalar(
            "SELECT min(next_attempt_at) FROM mail_outbox
              WHERE status = 'pending' AND (lease_until IS NULL OR lease_until < now())",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap_or(None);
        match next {
            Some(at) => Duration::from_secs_f64((at - self.clock.now()).as_seconds_f64().max(0.0)).min(poll),
            None => poll,
        }
    }
}
