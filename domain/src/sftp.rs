//! A site's SFTP accounts: one aggregate per site (its id is the site's), each account a
//! name, the login it becomes on the node, and how it logs in. The key is kept as given (it is
//! public); a password never is: it is sealed in the vault under the id the event names, and
//! hashed on the node.

use std::collections::BTreeMap;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Refusal, RefusalKind};
use crate::ids::{SiteId, TenantId};

/// The most accounts one site has.
pub const MAX_ACCOUNTS: usize = 20;

/// An account's name: lower-case letters, digits, `_` and `-`, starting with a letter, at
/// most 20 characters (a valid Linux user name once the site's suffix is added).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SftpName(String);

impl SftpName {
    /// Parses `raw`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=20).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err("must be 1 to 20 lower-case letters, digits, _ or -, starting with a letter".to_owned())
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Linux user it is on the node: the name and the end of the site's id, so two sites'
    /// accounts of one name never meet on a node.
    pub fn login(&self, site: SiteId) -> String {
        let hex = site.as_uuid().simple().to_string();
        format!("{}_{}", self.0, &hex[hex.len() - 8..])
    }
}

/// How an account logs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum SftpAuth {
    /// An OpenSSH public key line.
    Key {
        /// The key.
        public_key: String,
    },
    /// A password, sealed in the vault.
    Password {
        /// The vault id.
        secret_id: uuid::Uuid,
    },
}

impl SftpAuth {
    /// `key` or `password`.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Key { .. } => "key",
            Self::Password { .. } => "password",
        }
    }
}

/// What can be asked of a site's accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SftpCommand {
    /// Add an account.
    Add {
        /// The site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// The account's name.
        name: SftpName,
        /// How it logs in.
        auth: SftpAuth,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        now: OffsetDateTime,
    },
    /// Remove an account.
    Remove {
        /// The account's name.
        name: SftpName,
    },
    /// Record that the node has the account.
    RecordReady {
        /// The account's name.
        name: SftpName,
    },
    /// Record that the node refused the account.
    RecordFailed {
        /// The account's name.
        name: SftpName,
        /// Why.
        reason: String,
    },
    /// Compare the tenant's storage in use with its plan's limit: at or past it, uploads are
    /// locked; back under it, unlocked.
    CheckStorage {
        /// The tenant's storage in use, in bytes.
        used_bytes: u64,
        /// The plan's storage limit, in bytes (`None`: unlimited).
        limit_bytes: Option<u64>,
    },
}

/// Something that happened to a site's accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SftpEvent {
    /// An account was added; the node is to make it.
    AccountAdded {
        /// The site.
        site_id: SiteId,
        /// Its owner.
        tenant_id: TenantId,
        /// The account's name.
        name: SftpName,
        /// The Linux user it is on the node.
        login: String,
        /// How it logs in.
        auth: SftpAuth,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        added_at: OffsetDateTime,
    },
    /// The node has the account: it can log in.
    AccountReady {
        /// The account's name.
        name: SftpName,
    },
    /// The node refused it.
    AccountFailed {
        /// The account's name.
        name: SftpName,
        /// Why.
        reason: String,
    },
    /// An account was removed; the node is to delete it.
    AccountRemoved {
        /// The account's name.
        name: SftpName,
        /// The Linux user it was.
        login: String,
    },
    /// The tenant's storage reached its plan's limit: the site's accounts may read but not
    /// upload until it is back under.
    WritesLocked {
        /// The storage in use, in bytes.
        used_bytes: u64,
        /// The limit, in bytes.
        limit_bytes: u64,
    },
    /// The tenant's storage is back under its plan's limit (or the limit was raised).
    WritesUnlocked {
        /// The storage in use, in bytes.
        used_bytes: u64,
        /// The limit, in bytes (`None`: unlimited).
        limit_bytes: Option<u64>,
    },
}

impl DomainEvent for SftpEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AccountAdded { .. } => "SftpAccountAdded",
            Self::AccountReady { .. } => "SftpAccountReady",
            Self::AccountFailed { .. } => "SftpAccountFailed",
            Self::AccountRemoved { .. } => "SftpAccountRemoved",
            Self::WritesLocked { .. } => "SftpWritesLocked",
            Self::WritesUnlocked { .. } => "SftpWritesUnlocked",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::event::Versioned for SftpEvent {}

/// Why an account command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SftpError {
    /// An account of that name exists.
    #[error("the site has an SFTP account named {0}")]
    Exists(String),
    /// No account of that name.
    #[error("the site has no SFTP account named {0}")]
    NotFound(String),
    /// The site has as many accounts as it may.
    #[error("a site has at most {MAX_ACCOUNTS} SFTP accounts")]
    TooMany,
}

impl Refusal for SftpError {
    fn code(&self) -> &'static str {
        match self {
            Self::Exists(_) => "sftp-account-exists",
            Self::NotFound(_) => "sftp-account-not-found",
            Self::TooMany => "sftp-accounts-too-many",
        }
    }

    fn kind(&self) -> RefusalKind {
        match self {
            Self::Exists(_) => RefusalKind::Conflict,
            Self::NotFound(_) => RefusalKind::NotFound,
            Self::TooMany => RefusalKind::Rule,
        }
    }
}

/// One account as the aggregate keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The Linux user.
    pub login: String,
    /// How it logs in.
    pub auth: SftpAuth,
}

/// A site's accounts, rebuilt from their events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SftpAccounts {
    site_id: Option<SiteId>,
    tenant_id: Option<TenantId>,
    accounts: BTreeMap<SftpName, Account>,
    #[serde(default)]
    writes_locked: bool,
}

impl SftpAccounts {
    /// The account named `name`.
    pub fn account(&self, name: &SftpName) -> Option<&Account> {
        self.accounts.get(name)
    }

    /// The site.
    pub fn site_id(&self) -> Option<SiteId> {
        self.site_id
    }

    /// Whether uploads are locked (the tenant's storage is at its plan's limit).
    pub fn writes_locked(&self) -> bool {
        self.writes_locked
    }
}

impl crate::aggregate::Consequences for SftpAccounts {
    fn owner(&self) -> Option<uuid::Uuid> {
        self.tenant_id.map(|t| t.as_uuid())
    }
}

impl Aggregate for SftpAccounts {
    const TYPE: &'static str = "sftp_accounts";
    type Command = SftpCommand;
    type Event = SftpEvent;
    type Error = SftpError;
    type Services = ();

    async fn handle(
        &mut self,
        command: SftpCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), SftpError> {
        let events = match command {
            SftpCommand::Add { site_id, tenant_id, name, auth, now } => {
                if self.accounts.contains_key(&name) {
                    return Err(SftpError::Exists(name.as_str().to_owned()));
                }
                if self.accounts.len() >= MAX_ACCOUNTS {
                    return Err(SftpError::TooMany);
                }
                let login = name.login(site_id);
                vec![SftpEvent::AccountAdded { site_id, tenant_id, name, login, auth, added_at: now }]
            }
            SftpCommand::Remove { name } => {
                let account =
                    self.accounts.get(&name).ok_or_else(|| SftpError::NotFound(name.as_str().to_owned()))?;
                vec![SftpEvent::AccountRemoved { login: account.login.clone(), name }]
            }
            SftpCommand::RecordReady { name } => {
                self.accounts.get(&name).ok_or_else(|| SftpError::NotFound(name.as_str().to_owned()))?;
                vec![SftpEvent::AccountReady { name }]
            }
            SftpCommand::RecordFailed { name, reason } => {
                self.accounts.get(&name).ok_or_else(|| SftpError::NotFound(name.as_str().to_owned()))?;
                vec![SftpEvent::AccountFailed { name, reason }]
            }
            SftpCommand::CheckStorage { used_bytes, limit_bytes } => {
                let over = limit_bytes.is_some_and(|limit| used_bytes >= limit);
                match (over, self.writes_locked, limit_bytes) {
                    // Only a site with accounts has anything to lock.
                    _ if self.site_id.is_none() => Vec::new(),
                    (true, false, Some(limit_bytes)) => {
                        vec![SftpEvent::WritesLocked { used_bytes, limit_bytes }]
                    }
                    (false, true, _) => vec![SftpEvent::WritesUnlocked { used_bytes, limit_bytes }],
                    _ => Vec::new(),
                }
            }
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: SftpEvent) {
        match event {
            SftpEvent::AccountAdded { site_id, tenant_id, name, login, auth, .. } => {
                self.site_id = Some(site_id);
                self.tenant_id = Some(tenant_id);
                self.accounts.insert(name, Account { login, auth });
            }
            SftpEvent::AccountRemoved { name, .. } => {
                self.accounts.remove(&name);
            }
            SftpEvent::AccountReady { .. } | SftpEvent::AccountFailed { .. } => {}
            SftpEvent::WritesLocked { .. } => self.writes_locked = true,
            SftpEvent::WritesUnlocked { .. } => self.writes_locked = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use cqrs_es::test::TestFramework;
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    fn add(name: &str) -> SftpCommand {
        SftpCommand::Add {
            site_id: SiteId::from_uuid(Uuid::from_u128(0xabcdef12)),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(2)),
            name: SftpName::parse(name).unwrap(),
            auth: SftpAuth::Key { public_key: "ssh-ed25519 AAAA".to_owned() },
            now: datetime!(2030-01-01 0:00 UTC),
        }
    }

    #[test]
    fn names_are_safe_user_names_and_logins_carry_the_site() {
        for bad in ["", "Deploy", "1up", "a b", "a.b", "root;id", "averyveryverylongname1"] {
            assert!(SftpName::parse(bad).is_err(), "{bad}");
        }
        let site = SiteId::from_uuid(Uuid::from_u128(0xabcdef12));
        assert_eq!(SftpName::parse("deploy").unwrap().login(site), "deploy_abcdef12");
    }

    #[test]
    fn an_account_name_is_taken_once_per_site_and_removal_needs_the_account() {
        let SftpCommand::Add { site_id, tenant_id, name, auth, now } = add("deploy") else { unreachable!() };
        let added = SftpEvent::AccountAdded {
            site_id,
            tenant_id,
            login: name.login(site_id),
            name,
            auth,
            added_at: now,
        };
        TestFramework::<SftpAccounts>::with(())
            .given(vec![added.clone()])
            .when(add("deploy"))
            .then_expect_error(SftpError::Exists("deploy".to_owned()));
        TestFramework::<SftpAccounts>::with(())
            .given(vec![added])
            .when(SftpCommand::Remove { name: SftpName::parse("other").unwrap() })
            .then_expect_error(SftpError::NotFound("other".to_owned()));
    }

    #[test]
    fn uploads_lock_at_the_storage_limit_and_unlock_under_it_once_each() {
        let SftpCommand::Add { site_id, tenant_id, name, auth, now } = add("deploy") else { unreachable!() };
        let added = SftpEvent::AccountAdded {
            site_id,
            tenant_id,
            login: name.login(site_id),
            name,
            auth,
            added_at: now,
        };
        let check = |used_bytes, limit_bytes| SftpCommand::CheckStorage { used_bytes, limit_bytes };
        TestFramework::<SftpAccounts>::with(())
            .given(vec![added.clone()])
            .when(check(10, Some(10)))
            .then_expect_events(vec![SftpEvent::WritesLocked { used_bytes: 10, limit_bytes: 10 }]);
        TestFramework::<SftpAccounts>::with(())
            .given(vec![added.clone()])
            .when(check(9, Some(10)))
            .then_expect_events(vec![]);
        TestFramework::<SftpAccounts>::with(())
            .given(vec![added.clone()])
            .when(check(u64::MAX, None))
            .then_expect_events(vec![]);
        let locked = vec![added, SftpEvent::WritesLocked { used_bytes: 10, limit_bytes: 10 }];
        TestFramework::<SftpAccounts>::with(())
            .given(locked.clone())
            .when(check(11, Some(10)))
            .then_expect_events(vec![]);
        TestFramework::<SftpAccounts>::with(())
            .given(locked)
            .when(check(11, None))
            .then_expect_events(vec![SftpEvent::WritesUnlocked { used_bytes: 11, limit_bytes: None }]);
        TestFramework::<SftpAccounts>::with(())
            .given_no_previous_events()
            .when(check(11, Some(10)))
            .then_expect_events(vec![]);
    }
}
