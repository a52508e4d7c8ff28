//! The SFTP accounts saga: makes each added account on its site's node and deletes each
//! removed one, recording whether the node took it. A password is opened from the vault only
//! to go to the node on stdin.

use std::time::Duration;

use berth_domain::event::Event;
use berth_domain::ids::SiteId;
use berth_domain::sftp::{SftpAccounts, SftpAuth, SftpCommand, SftpEvent};
use berth_domain::site::Site;
use berth_eventstore::recorded::Recorded;
use serde::{Deserialize, Serialize};

use crate::context::SagaContext;
use crate::node::sftp::{Credential, SftpLock, SftpUserAdd, SftpUserRemove};
use crate::node::{saga_metadata, NodeCallError, NodeWork};
use crate::saga::{Outcome, Saga, Tuning};

const SAGA: &str = "sftp";

/// The SFTP accounts saga (consumes sftp_accounts events).
pub struct SftpSaga {
    work: NodeWork,
}

/// `[sagas.sftp]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SftpSagaSettings {
    /// Accounts worked on at once per sagas process.
    pub concurrency: usize,
    /// Seconds after which another sagas process takes over a step whose worker died.
    pub takeover_secs: u64,
}

impl Default for SftpSagaSettings {
    fn default() -> Self {
        Self { concurrency: 2, takeover_secs: 60 }
    }
}

impl Saga for SftpSaga {
    const NAME: &'static str = SAGA;
    const AGGREGATES: &'static [&'static str] = &["sftp_accounts"];
    type Settings = SftpSagaSettings;

    fn build(context: &SagaContext, _: &SftpSagaSettings) -> Self {
        Self { work: NodeWork::new(context) }
    }

    fn tuning(settings: &SftpSagaSettings) -> Tuning {
        Tuning {
            concurrency: settings.concurrency.max(1),
            takeover: Duration::from_secs(settings.takeover_secs.max(1)),
        }
    }

    fn wants(&self, event: &Recorded) -> bool {
        matches!(
            event.event,
            Event::Sftp(
                SftpEvent::AccountAdded { .. }
                    | SftpEvent::AccountRemoved { .. }
                    | SftpEvent::WritesLocked { .. }
                    | SftpEvent::WritesUnlocked { .. }
            )
        )
    }

    async fn handle(&self, event: &Recorded) -> Outcome {
        let Some(site) = event.aggregate_uuid().map(SiteId::from_uuid) else {
            return Outcome::Failed(format!("`{}` is not a site id", event.aggregate_id));
        };
        let loaded = match self.work.store.load::<Site>(&site.to_string()).await {
            Ok(loaded) => loaded.aggregate,
            Err(error) => return Outcome::later(error),
        };
        let Some(node) = loaded.node().map(|p| p.node_id) else {
            return Outcome::Done;
        };
        match &event.event {
            Event::Sftp(SftpEvent::AccountAdded { name, login, .. }) => {
                let accounts = match self.work.store.load::<SftpAccounts>(&site.to_string()).await {
                    Ok(loaded) => loaded.aggregate,
                    Err(error) => return Outcome::later(error),
                };
                // Removed (or added anew) since: the later event does what is needed.
                let Some(account) = accounts.account(name).filter(|a| &a.login == login) else {
                    return Outcome::Done;
                };
                let credential = match &account.auth {
                    SftpAuth::Key { public_key } => Credential::Key(public_key.clone()),
                    SftpAuth::Password { secret_id } => {
                        match self.work.vault.open(&self.work.pool, *secret_id).await {
                            Ok(secret) => Credential::Password(zeroize::Zeroizing::new(
                                String::from_utf8_lossy(&secret).into_owned(),
                            )),
                            Err(error) => return Outcome::later(error),
                        }
                    }
                };
                let verb = SftpUserAdd { site, login: login.clone(), credential };
                let meta = saga_metadata(event, SAGA, "host-key");
                let command = match self.work.call(node, verb, &meta).await {
                    Ok(_) => SftpCommand::RecordReady { name: name.clone() },
                    Err(NodeCallError::Script(error)) if error.code().is_some() => {
                        SftpCommand::RecordFailed { name: name.clone(), reason: error.to_string() }
                    }
                    Err(error) => return Outcome::later(error),
                };
                self.work
                    .record::<SftpAccounts>(
                        &site.to_string(),
                        command,
                        &saga_metadata(event, SAGA, "applied"),
                    )
                    .await
            }
            Event::Sftp(SftpEvent::AccountRemoved { login, .. }) => {
                let meta = saga_metadata(event, SAGA, "host-key");
                match self.work.call(node, SftpUserRemove { site, login: login.clone() }, &meta).await {
                    Ok(_) => Outcome::Done,
                    Err(NodeCallError::Script(error)) if error.code().is_some() => {
                        tracing::warn!(%error, site_id = %site, login, "the node did not remove an SFTP account");
                        Outcome::Done
                    }
                    Err(error) => Outcome::later(error),
                }
            }
            Event::Sftp(SftpEvent::WritesLocked { .. } | SftpEvent::WritesUnlocked { .. }) => {
                // The aggregate as it is now: of a lock and an unlock in quick succession, each
                // delivery puts the node in the latest state.
                let locked = match self.work.store.load::<SftpAccounts>(&site.to_string()).await {
                    Ok(loaded) => loaded.aggregate.writes_locked(),
                    Err(error) => return Outcome::later(error),
                };
                let meta = saga_metadata(event, SAGA, "host-key");
                match self.work.call(node, SftpLock { site, locked }, &meta).await {
                    Ok(_) => Outcome::Done,
                    Err(NodeCallError::Script(error)) if error.code().is_some() => {
                        Outcome::Failed(format!("the node did not lock the site's SFTP accounts: {error}"))
                    }
                    Err(error) => Outcome::later(error),
                }
            }
            _ => Outcome::Done,
        }
    }
}
