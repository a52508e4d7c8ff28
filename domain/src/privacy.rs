//! Data subjects: whose personal data the log holds sealed, and when it was shredded.
//!
//! Personal data inside events is sealed by the event store with a key per data subject (a
//! person, an email address, an issued invoice's buyer under legal retention). This aggregate
//! is the log's record of a subject's key being destroyed: by an operator erasing a person
//! (with a reason), or by the retention timer when the law no longer requires the data. Its
//! events name the destroyed subjects by id only (keyed digests and ids, never the data); the
//! event store destroys those keys in the same transaction as the event. Aggregate id: the
//! subject's id (`person:<user id>`, `retention:invoice:<invoice id>`).

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::error::{Refusal, RefusalKind};

/// What can be asked of a data subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubjectCommand {
    /// Destroy the keys of `subjects` (this one and the others that are the same person), for
    /// `reason`.
    Erase {
        /// Every subject id whose key goes.
        subjects: Vec<String>,
        /// Why (an operator's words: a request reference, not personal data).
        reason: String,
    },
    /// The legal retention period ended: destroy this subject's key.
    EndRetention,
    /// Record that events written before payloads were sealed were re-encoded (`berth gdpr
    /// encrypt-existing`): each event id with the hash of the payload form it now has.
    RecordResealed {
        /// `(event id, form hash hex)` pairs.
        events: Vec<(uuid::Uuid, String)>,
    },
}

/// Something that happened to a data subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubjectEvent {
    /// The subjects' keys were destroyed on request.
    Erased {
        /// The subject ids whose keys were destroyed.
        subjects: Vec<String>,
        /// Why.
        reason: String,
    },
    /// The retention period ended and the key was destroyed.
    RetentionEnded {
        /// The subject ids whose keys were destroyed.
        subjects: Vec<String>,
    },
    /// Events written before payloads were sealed were re-encoded: their ids and the hashes
    /// of the forms they now have (their stored hashes, over the plain form, are unchanged).
    LegacyPayloadsSealed {
        /// `(event id, form hash hex)` pairs.
        events: Vec<(uuid::Uuid, String)>,
    },
}

impl SubjectEvent {
    /// The subject ids whose keys this event destroys.
    pub fn destroyed(&self) -> &[String] {
        match self {
            Self::Erased { subjects, .. } | Self::RetentionEnded { subjects } => subjects,
            Self::LegacyPayloadsSealed { .. } => &[],
        }
    }
}

impl DomainEvent for SubjectEvent {
    fn event_type(&self) -> String {
        match self {
            Self::Erased { .. } => "DataSubjectErased",
            Self::RetentionEnded { .. } => "RetentionEnded",
            Self::LegacyPayloadsSealed { .. } => "LegacyPayloadsSealed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for SubjectEvent {}

/// Why a data subject command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// The subject's keys are already destroyed.
    #[error("this person's personal data is already erased")]
    AlreadyErased,
}

impl Refusal for SubjectError {
    fn code(&self) -> &'static str {
        "already-erased"
    }
    fn kind(&self) -> RefusalKind {
        RefusalKind::Conflict
    }
}

/// A data subject's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSubject {
    erased: bool,
}

impl DataSubject {
    /// Whether its key is destroyed.
    pub fn erased(&self) -> bool {
        self.erased
    }
}

impl crate::aggregate::Consequences for DataSubject {}

impl Aggregate for DataSubject {
    const TYPE: &'static str = "data_subject";
    type Command = SubjectCommand;
    type Event = SubjectEvent;
    type Error = SubjectError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SubjectCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SubjectError> {
        if let SubjectCommand::RecordResealed { events } = command {
            sink.write(SubjectEvent::LegacyPayloadsSealed { events }, self).await;
            return Ok(());
        }
        if self.erased {
            return Err(SubjectError::AlreadyErased);
        }
        let event = match command {
            SubjectCommand::RecordResealed { .. } => unreachable!("handled above"),
            SubjectCommand::Erase { subjects, reason } => SubjectEvent::Erased { subjects, reason },
            // The timer's own aggregate id is the subject: `EndRetention` destroys it alone.
            SubjectCommand::EndRetention => SubjectEvent::RetentionEnded { subjects: Vec::new() },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: SubjectEvent) {
        if !matches!(event, SubjectEvent::LegacyPayloadsSealed { .. }) {
            self.erased = true;
        }
    }
}
