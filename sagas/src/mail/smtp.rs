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
        // The text, or the text and the HTML as alternatives; with attachments, that and the
        // files side by side in a mixed part.
        let text = SinglePart::plain(mail.text.clone());
        let alternative = mail.html.as_ref().map(|html| {
            MultiPart::alternative().singlepart(text.clone()).singlepart(SinglePart::html(html.clone()))
        });
        if mail.attachments.is_empty() {
            let message = match alternative {
                Some(both) => builder.multipart(both),
                None => builder.singlepart(text),
            };
            return message.map_err(|e| SendError(e.to_string()));
        }
        let mut body = match alternative {
            Some(both) => MultiPart::mixed().multipart(both),
            None => MultiPart::mixed().singlepart(text),
        };
        for file in &mail.attachments {
            let kind = ContentType::parse(&file.content_type)
                .map_err(|e| SendError(format!("attachment `{}`: {e}", file.filename)))?;
            let part = lettre::message::Attachment::new(file.filename.clone()).body(file.bytes.clone(), kind);
            body = body.singlepart(part);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MailSettings {
        MailSettings {
            host: "smtp.example.test".into(),
            port: 587,
            tls: TlsMode::Starttls,
            username: String::new(),
            password: String::new().into(),
            from_address: "billing@example.test".into(),
            from_name: "Example Hosting".into(),
            templates_dir: String::new(),
            timeout_secs: 30,
            max_attempts: 8,
            backoff_base_secs: 60,
            backoff_max_secs: 3600,
        }
    }

    fn mail(html: Option<&str>, attachments: Vec<Attachment>) -> QueuedMail {
        QueuedMail {
            id: 1,
            key: "invoice-issued:1".into(),
            to: vec!["a@example.test".into(), "b@example.test".into()],
            subject: "Invoice BRT000001".into(),
            text: "Hello".into(),
            html: html.map(str::to_owned),
            attachments,
            attempts: 1,
        }
    }

    fn formatted(mail: &QueuedMail) -> String {
        let sender = SmtpSender::new(&settings()).unwrap().unwrap();
        String::from_utf8(sender.message(mail).unwrap().formatted()).unwrap()
    }

    #[test]
    fn text_html_and_attachments_nest_as_mail_readers_expect_with_one_id_per_key() {
        let pdf = Attachment {
            filename: "BRT000001.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF-1.7".to_vec(),
        };
        let raw = formatted(&mail(Some("<p>Hello</p>"), vec![pdf]));
        let mixed = raw.find("multipart/mixed").expect("a mixed part");
        let alternative = raw.find("multipart/alternative").expect("an alternative part");
        assert!(mixed < alternative && raw.contains("text/html"), "{raw}");
        assert!(raw.contains("filename=\"BRT000001.pdf\"") && raw.contains("application/pdf"), "{raw}");
        assert!(raw.contains("To: a@example.test, b@example.test"), "{raw}");
        assert!(raw.contains("From: \"Example Hosting\" <billing@example.test>"), "{raw}");
        let id = |raw: &str| raw.lines().find(|l| l.starts_with("Message-ID:")).map(str::to_owned);
        assert!(id(&raw).is_some_and(|l| l.ends_with("@example.test>")), "{raw}");
        assert_eq!(id(&raw), id(&formatted(&mail(None, Vec::new()))), "the id follows the key");
        let plain = formatted(&mail(None, Vec::new()));
        assert!(!plain.contains("multipart") && plain.contains("text/plain"), "{plain}");
    }

    #[test]
    fn a_bad_sender_or_no_host_is_told_apart() {
        let none = MailSettings { host: " ".into(), ..settings() };
        assert!(SmtpSender::new(&none).unwrap().is_none(), "no host: no client, mail waits");
        let bad = MailSettings { from_address: "billing".into(), ..settings() };
        assert_eq!(check(&bad).unwrap_err().key, "from_address");
    }
}
