//! An account's security: whether it logs in with a second factor, and the security log of
//! what happened to it (logins that worked or failed, second-factor changes, recovery codes
//! used, requests refused). One stream per account, keyed by the user's id; failed logins for
//! an address no account has go to a stream keyed by an id derived from that address.
//!
//! The second factor's secret and the recovery codes' digests live outside the log (the
//! vault and the `recovery_codes` table), written in the same transaction as these events.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::error::{Refusal, RefusalKind};
use crate::ids::UserId;

/// Where a request came from, as the edge saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The client's address.
    pub address: String,
    /// Its `User-Agent`, cut to 512 characters.
    pub user_agent: Option<String>,
}

impl Origin {
    /// An origin, with the user agent cut to a bounded length.
    pub fn new(address: String, user_agent: Option<&str>) -> Self {
        Self { address, user_agent: user_agent.map(|agent| agent.chars().take(512).collect()) }
    }
}

/// How a login proved itself beyond the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecondFactor {
    /// No second factor (the account has none).
    None,
    /// A time-based code.
    Totp,
    /// A single-use recovery code.
    RecoveryCode,
}

/// What can be asked of an account's security.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum SecurityCommand {
    /// Record a login that worked.
    RecordLogin { user_id: UserId, tenant_id: uuid::Uuid, factor: SecondFactor, origin: Origin },
    /// Record that a login session was ended by its user.
    RecordLogout { user_id: UserId, tenant_id: uuid::Uuid, session_id: uuid::Uuid, origin: Origin },
    /// Record a login that failed, and why.
    RecordFailure { user_id: Option<UserId>, reason: String, origin: Origin },
    /// Record a request refused for lack of permission.
    RecordDenied { actor: String, method: String, path: String, reason: String },
    /// Turn the second factor on (its code was confirmed), with this many recovery codes.
    EnableTwoFactor { user_id: UserId, recovery_codes: u8, origin: Origin },
    /// Turn the second factor off.
    DisableTwoFactor { user_id: UserId, factor: SecondFactor, origin: Origin },
    /// Record that a recovery code was used.
    UseRecoveryCode { user_id: UserId, remaining: u8 },
}

/// Something that happened to an account's security.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[expect(missing_docs, reason = "the fields are named for what they hold; each variant says the rest")]
pub enum SecurityEvent {
    /// A login worked.
    LoginSucceeded { user_id: UserId, tenant_id: uuid::Uuid, factor: SecondFactor, origin: Origin },
    /// A login session was ended by its user (signed out).
    LoggedOut { user_id: UserId, tenant_id: uuid::Uuid, session_id: uuid::Uuid, origin: Origin },
    /// A login failed.
    LoginFailed { user_id: Option<UserId>, reason: String, origin: Origin },
    /// A request was refused for lack of permission.
    AccessDenied { actor: String, method: String, path: String, reason: String },
    /// The second factor was turned on.
    TwoFactorEnabled { user_id: UserId, recovery_codes: u8, origin: Origin },
    /// The second factor was turned off.
    TwoFactorDisabled { user_id: UserId, factor: SecondFactor, origin: Origin },
    /// A recovery code was used; `remaining` are left.
    RecoveryCodeUsed { user_id: UserId, remaining: u8 },
}

impl DomainEvent for SecurityEvent {
    fn event_type(&self) -> String {
        match self {
            Self::LoginSucceeded { .. } => "LoginSucceeded",
            Self::LoggedOut { .. } => "LoggedOut",
            Self::LoginFailed { .. } => "LoginFailed",
            Self::AccessDenied { .. } => "AccessDenied",
            Self::TwoFactorEnabled { .. } => "TwoFactorEnabled",
            Self::TwoFactorDisabled { .. } => "TwoFactorDisabled",
            Self::RecoveryCodeUsed { .. } => "RecoveryCodeUsed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

/// Why a security command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    /// Enabling a second factor that is on already.
    #[error("two-factor login is already enabled")]
    AlreadyEnabled,
    /// Disabling (or using a recovery code of) a second factor that is off.
    #[error("two-factor login is not enabled")]
    NotEnabled,
}

impl Refusal for SecurityError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyEnabled => "two-factor-enabled",
            Self::NotEnabled => "two-factor-not-enabled",
        }
    }

    fn kind(&self) -> RefusalKind {
        RefusalKind::Conflict
    }
}

/// An account's security state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSecurity {
    two_factor: bool,
    recovery_codes: u8,
    logins: u64,
    failures: u64,
}

impl AccountSecurity {
    /// Whether logins need a second factor.
    pub fn two_factor(&self) -> bool {
        self.two_factor
    }

    /// Recovery codes left unused.
    pub fn recovery_codes(&self) -> u8 {
        self.recovery_codes
    }

    /// Logins that worked, and that failed, so far.
    pub fn logins(&self) -> (u64, u64) {
        (self.logins, self.failures)
    }
}

impl crate::aggregate::Consequences for AccountSecurity {}

impl Aggregate for AccountSecurity {
    const TYPE: &'static str = "security";
    type Command = SecurityCommand;
    type Event = SecurityEvent;
    type Error = SecurityError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SecurityCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SecurityError> {
        for event in decide(self, command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SecurityEvent) {
        use SecurityEvent as E;
        match event {
            E::LoginSucceeded { .. } => self.logins += 1,
            E::LoggedOut { .. } => {}
            E::LoginFailed { .. } => self.failures += 1,
            E::AccessDenied { .. } => {}
            E::TwoFactorEnabled { recovery_codes, .. } => {
                self.two_factor = true;
                self.recovery_codes = recovery_codes;
            }
            E::TwoFactorDisabled { .. } => {
                self.two_factor = false;
                self.recovery_codes = 0;
            }
            E::RecoveryCodeUsed { remaining, .. } => self.recovery_codes = remaining,
        }
    }
}

/// Decides the events for `command`. Pure.
fn decide(state: &AccountSecurity, command: SecurityCommand) -> Result<Vec<SecurityEvent>, SecurityError> {
    use SecurityCommand as C;
    use SecurityEvent as E;
    Ok(vec![match command {
        C::RecordLogin { user_id, tenant_id, factor, origin } => {
            E::LoginSucceeded { user_id, tenant_id, factor, origin }
        }
        C::RecordLogout { user_id, tenant_id, session_id, origin } => {
            E::LoggedOut { user_id, tenant_id, session_id, origin }
        }
        C::RecordFailure { user_id, reason, origin } => E::LoginFailed { user_id, reason, origin },
        C::RecordDenied { actor, method, path, reason } => E::AccessDenied { actor, method, path, reason },
        C::EnableTwoFactor { user_id, recovery_codes, origin } => {
            if state.two_factor {
                return Err(SecurityError::AlreadyEnabled);
            }
            E::TwoFactorEnabled { user_id, recovery_codes, origin }
        }
        C::DisableTwoFactor { user_id, factor, origin } => {
            if !state.two_factor {
                return Err(SecurityError::NotEnabled);
            }
            E::TwoFactorDisabled { user_id, factor, origin }
        }
        C::UseRecoveryCode { user_id, remaining } => {
            if !state.two_factor {
                return Err(SecurityError::NotEnabled);
            }
            E::RecoveryCodeUsed { user_id, remaining }
        }
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::new("127.0.0.1".to_owned(), Some("curl/8"))
    }

    fn enabled() -> AccountSecurity {
        let mut state = AccountSecurity::default();
        let user_id = UserId::from_uuid(uuid::Uuid::nil());
        state.apply(SecurityEvent::TwoFactorEnabled { user_id, recovery_codes: 10, origin: origin() });
        state
    }

    #[test]
    fn a_second_factor_is_enabled_once_and_disabled_only_when_on() {
        let user_id = UserId::from_uuid(uuid::Uuid::nil());
        let enable = SecurityCommand::EnableTwoFactor { user_id, recovery_codes: 10, origin: origin() };
        assert!(decide(&AccountSecurity::default(), enable.clone()).is_ok());
        assert_eq!(decide(&enabled(), enable), Err(SecurityError::AlreadyEnabled));
        let disable =
            SecurityCommand::DisableTwoFactor { user_id, factor: SecondFactor::Totp, origin: origin() };
        assert_eq!(decide(&AccountSecurity::default(), disable.clone()), Err(SecurityError::NotEnabled));
        let mut state = enabled();
        for event in decide(&state, disable).unwrap() {
            state.apply(event);
        }
        assert!(!state.two_factor());
    }

    #[test]
    fn recovery_codes_count_down() {
        let user_id = UserId::from_uuid(uuid::Uuid::nil());
        let mut state = enabled();
        for event in decide(&state, SecurityCommand::UseRecoveryCode { user_id, remaining: 9 }).unwrap() {
            state.apply(event);
        }
        assert_eq!(state.recovery_codes(), 9);
    }

    #[test]
    fn a_long_user_agent_is_cut() {
        let long = "x".repeat(2000);
        assert_eq!(Origin::new(String::new(), Some(&long)).user_agent.unwrap().len(), 512);
    }
}
