//! Sending one queued mail: the [`MailSender`] trait, and the real client over SMTP (lettre on
//! tokio and rustls). Tests point the real client at the local SMTP sink.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::mail::outbox::Attachment;
use crate::mail::settings::{MailSettings, TlsMode};

/// A mail leased from the outbox for sending.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    /// Its row.
    pub id: i64,
    /// Its idempotency key (also the source of its `Message-ID`).
    pub key: String,
    /// Where it goes.
    pub to: Vec<String>,
    /// Its subject.
    pub subject: String,
    /// Its plain-text body.
    pub text: String,
    /// Its HTML alternative.
    pub html: Option<String>,
    /// Its attachments.
    pub attachments: Vec<Attachment>,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// Why a mail was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// Hands mail to a mail server.
#[async_trait]
pub trait MailSender: Send + Sync {
    /// Sends `mail`; an error leaves it to be tried again.
    async fn send(&self, mail: &QueuedMail) -> Result<(), SendError>;
}

/// A `[mail]` section that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mail.{key}: {reason}")]
pub struct MailConfigError {
    /// The setting at fault.
    pub key: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// The SMTP client.
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpSender {
    /// A client for `[mail]`; `None` when no host is set (mail then waits in the outbox).
    pub fn new(settings: &MailSettings) -> Result<Option<Self>, MailConfigError> {
        let from = sender(settings)?;
        let host = settings.host.trim();
        if host.is_empty() {
            return Ok(None);
        }
        let tls = |wrap: fn(TlsParameters) -> Tls| {
            TlsParameters::new(host.to_owned())
                .map(wrap)
                .map_err(|e| MailConfigError { key: "tls", reason: e.to_string() })
        };
        let tls = match settings.tls {
            TlsMode::None => Tls::None,
            TlsMode::Starttls => tls(Tls::Required)?,
            TlsMode::Tls => tls(Tls::Wrapper)?,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(settings.timeout_secs.max(1))));
        if !settings.username.is_empty() {
            builder = builder.credentials(Credentials::new(
                settings.username.clone(),
                settings.password.expose_secret().to_owned(),
            ));
        }
        Ok(Some(Self { transport: builder.build(), from }))
    }
}

/// Checks `[mail]` without connecting anywhere: the sender's address, and TLS for the host.
pub fn check(settings: &MailSettings) -> Result<(), MailConfigError> {
    SmtpSender::new(settings).map(drop)
}

fn sender(settings: &MailSettings) -> Result<Mailbox, MailConfigError> {
    let address = settings.from_address.trim().parse::<lettre::Address>().map_err(|e| MailConfigError {
        key: "from_address",
        reason: format!("`{}`: {e}", settings.from_address),
    })?;
    let name = Some(settings.from_name.trim()).filter(|n| !n.is_empty()).map(str::to_owned);
    Ok(Mailbox::new(name, address))
}

impl SmtpSender {
    fn message(&self, mail: &QueuedMail) -> Result<Message, SendError> {
        let domain = self.from.email.domain().to_owned();
        // The same id at every attempt: a server or a client that sees a mail twice (a
        // delivery whose answer was lost) can tell it is one mail.
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, mail.key.as_bytes());
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(&mail.subject)
            .message_id(Some(format!("<{id}@{domain}>")));
        for to in &mail.to {
            let to: Mailbox = to.parse().map_err(|e| SendError(format!("recipient `{to}`: {e}")))?;
            builder = builder.to(to);
        }
        let text = SinglePart::plain(mail.text.clone());
        let body = match &mail.html {
            Some(html) => {
                MultiPart::alternative().singlepart(text).singlepart(SinglePart::html(html.clone()))
            }
            None if mail.attachments.is_empty() => {
                return builder.singlepart(text).map_err(|e| SendError(e.to_string()));
            }
            None => MultiPart::mixed().singlepart(text),
        };
        let body = match (mail.attachments.is_empty(), mail.html.is_some()) {
            (true, _) => body,
            (false, true) => MultiPart::mixed().multipart(body),
            (false, false) => body,
        };
        let body =
            mail.attachments.iter().try_fold(body, |body, a| {
                let kind = ContentType::parse(&a.content_type)
                    .map_err(|e| SendError(format!("attachment `{}`: {e}", a.filename)))?;
                Ok::<_, SendError>(body.singlepart(
                    lettre::message::Attachment::new(a.filename.clone()).body(a.bytes.clone(), kind),
                ))
            })?;
        builder.multipart(body).map_err(|e| SendError(e.to_string()))
    }
}

#[async_trait]
impl MailSender for SmtpSender {
    async fn send(&self, mail: &QueuedMail) -> Result<(), SendError> {
        let message = self.message(mail)?;
        self.transport.send(message).await.map(drop).map_err(|e| SendError(e.to_string()))
    }
}
