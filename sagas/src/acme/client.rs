//! [`CertificateAuthority`] on ACME, with instant-acme. The account is created on first use;
//! its key and credentials are sealed in the vault and the registration is an event of the
//! `acme_account` aggregate. The account is read back for every order rather than kept: the
//! CA's directory is fetched each time, so a CA that went away is noticed at once, and a CA
//! that forgot the account (a restarted test CA) gets a new one.

use std::path::PathBuf;
use std::time::Duration;

use berth_domain::acme_account::{account_id, AcmeAccount, AcmeAccountCommand};
use berth_domain::certificate::ChallengeMethod;
use berth_eventstore::execute::RetryPolicy;
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::store::EventStore;
use berth_eventstore::vault::Vault;
use futures::future::BoxFuture;
use instant_acme::{
    Account, AccountBuilder, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus,
};
use sqlx::PgPool;
use zeroize::Zeroizing;

use super::{CaError, CertificateAuthority, Challenge, IssuedPem, Order};

/// Which CA, and how to reach it.
#[derive(Debug, Clone)]
pub struct AcmeSettings {
    /// The directory URL.
    pub directory: String,
    /// A PEM root to trust for the directory's TLS, instead of the system's (a test CA).
    pub ca_file: Option<PathBuf>,
    /// Contact URIs for the account (`mailto:ops@example.com`).
    pub contact: Vec<String>,
}

/// An ACME CA.
pub struct AcmeCa {
    settings: AcmeSettings,
    store: EventStore,
    pool: PgPool,
    vault: Vault,
    retry: RetryPolicy,
}

impl AcmeCa {
    /// The CA in `settings`, its account kept in `store` and `vault`.
    pub fn new(
        settings: AcmeSettings,
        store: EventStore,
        pool: PgPool,
        vault: Vault,
        retry: RetryPolicy,
    ) -> Self {
        Self { settings, store, pool, vault, retry }
    }

    fn builder(&self) -> Result<AccountBuilder, CaError> {
        match &self.settings.ca_file {
            Some(path) => Account::builder_with_root(path),
            None => Account::builder(),
        }
        .map_err(|e| CaError::Unavailable(format!("cannot set up TLS for the CA: {e}")))
    }

    /// The account, registered on first use.
    async fn account(&self) -> Result<Account, CaError> {
        let id = account_id(&self.settings.directory).to_string();
        let loaded =
            self.store.load::<AcmeAccount>(&id).await.map_err(|e| CaError::Storage(e.to_string()))?;
        let Some(key_id) = loaded.aggregate.key_id() else { return self.register().await };
        let secret =
            self.vault.open(&self.pool, key_id).await.map_err(|e| CaError::Storage(e.to_string()))?;
        let credentials: AccountCredentials = serde_json::from_slice(&secret)
            .map_err(|e| CaError::Storage(format!("the sealed account: {e}")))?;
        self.builder()?.from_credentials(credentials).await.map_err(ca_error)
    }

    /// Registers a new account and records it, its credentials sealed in the same commit.
    async fn register(&self) -> Result<Account, CaError> {
        let contact: Vec<&str> = self.settings.contact.iter().map(String::as_str).collect();
        let new =
            NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
        let (account, credentials) =
            self.builder()?.create(&new, self.settings.directory.clone(), None).await.map_err(ca_error)?;
        let key_id = uuid::Uuid::now_v7();
        let json =
            Zeroizing::new(serde_json::to_vec(&credentials).map_err(|e| CaError::Storage(e.to_string()))?);
        let sealed = self.vault.seal(key_id, "acme-account", &json);
        let command = AcmeAccountCommand::Register {
            directory: self.settings.directory.clone(),
            account_url: account.id().to_owned(),
            key_id,
        };
        let meta = CommandMetadata::new(None, "saga:certificates");
        let id = account_id(&self.settings.directory).to_string();
        self.store
            .execute_with::<AcmeAccount>(&id, command, &meta, self.retry, &[sealed])
            .await
            .map_err(|e| CaError::Storage(e.to_string()))?;
        tracing::info!(directory = %self.settings.directory, account = account.id(), "registered with the ACME CA");
        Ok(account)
    }

    async fn open(
        &self,
        account: &Account,
        names: &[String],
        method: ChallengeMethod,
    ) -> Result<Order, CaError> {
        let identifiers: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
        let mut order = account.new_order(&NewOrder::new(&identifiers)).await.map_err(ca_error)?;
        let url = order.url().to_owned();
        let mut challenges = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization.map_err(ca_error)?;
            let name = authorization.identifier().to_string();
            match authorization.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => {
                    return Err(CaError::ChallengeFailed(format!(
                        "the authorization for {name} is {other:?}"
                    )))
                }
            }
            let challenge = authorization.challenge(challenge_type(method)).ok_or_else(|| {
                CaError::Refused(format!("the CA offers no {} challenge for {name}", method.as_str()))
            })?;
            let key_authorization = challenge.key_authorization();
            challenges.push(Challenge {
                base: name.strip_prefix("*.").unwrap_or(&name).to_owned(),
                token: challenge.token.clone(),
                key_authorization: key_authorization.as_str().to_owned(),
                dns_value: key_authorization.dns_value(),
                name,
            });
        }
        Ok(Order { url, challenges })
    }

    async fn complete(
        &self,
        account: &Account,
        order: &Order,
        method: ChallengeMethod,
    ) -> Result<IssuedPem, CaError> {
        let mut acme = account.order(order.url.clone()).await.map_err(ca_error)?;
        let mut authorizations = acme.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization.map_err(ca_error)?;
            if authorization.status != AuthorizationStatus::Pending {
                continue;
            }
            if let Some(mut challenge) = authorization.challenge(challenge_type(method)) {
                challenge.set_ready().await.map_err(ca_error)?;
            }
        }
        let patience = instant_acme::RetryPolicy::new()
            .initial_delay(Duration::from_millis(250))
            .timeout(Duration::from_secs(90));
        let status = acme.poll_ready(&patience).await.map_err(challenge_error)?;
        if status != OrderStatus::Ready {
            let mut reasons = Vec::new();
            let mut authorizations = acme.authorizations();
            while let Some(Ok(authorization)) = authorizations.next().await {
                let name = authorization.identifier().to_string();
                for error in authorization.challenges.iter().filter_map(|c| c.error.as_ref()) {
                    reasons.push(format!("{name}: {error}"));
                }
            }
            return Err(CaError::ChallengeFailed(if reasons.is_empty() {
                format!("the order is {status:?}")
            } else {
                reasons.join("; ")
            }));
        }
        let key = Zeroizing::new(acme.finalize().await.map_err(ca_error)?);
        let chain = acme.poll_certificate(&patience).await.map_err(ca_error)?;
        Ok(IssuedPem { key, chain })
    }
}

impl CertificateAuthority for AcmeCa {
    fn order<'a>(
        &'a self,
        names: &'a [String],
        method: ChallengeMethod,
    ) -> BoxFuture<'a, Result<Order, CaError>> {
        Box::pin(async move {
            let account = self.account().await?;
            match with_fresh_nonces(|| self.open(&account, names, method)).await {
                Err(CaError::Refused(reason)) if reason.contains("accountDoesNotExist") => {
                    tracing::warn!(directory = %self.settings.directory, "the CA forgot Berth's account; registering again");
                    let account = self.register().await?;
                    with_fresh_nonces(|| self.open(&account, names, method)).await
                }
                other => other,
            }
        })
    }

    fn finish<'a>(
        &'a self,
        order: &'a Order,
        method: ChallengeMethod,
    ) -> BoxFuture<'a, Result<IssuedPem, CaError>> {
        Box::pin(async move {
            let account = self.account().await?;
            with_fresh_nonces(|| self.complete(&account, order, method)).await
        })
    }
}

/// How many times a step refused for a stale nonce is tried in all.
const NONCE_ATTEMPTS: usize = 5;

/// Runs `step` again when the CA refused one of its requests for a bad nonce: RFC 8555
/// (section 6.5) has the client retry with the fresh nonce that refusal carries, and CAs refuse
/// nonces at random to keep clients honest (pebble, by default, 5 % of them). Each step reads
/// the order again, so a retry picks up where the refused request left it.
async fn with_fresh_nonces<T, F, Fut>(mut step: F) -> Result<T, CaError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CaError>>,
{
    let mut attempt = 1;
    loop {
        match step().await {
            Err(error) if attempt < NONCE_ATTEMPTS && is_bad_nonce(&error) => {
                tracing::debug!(%error, attempt, "the CA refused a nonce; trying again");
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn is_bad_nonce(error: &CaError) -> bool {
    match error {
        CaError::Refused(reason) | CaError::ChallengeFailed(reason) | CaError::Unavailable(reason) => {
            reason.contains("badNonce")
        }
        _ => false,
    }
}

fn challenge_type(method: ChallengeMethod) -> ChallengeType {
    match method {
        ChallengeMethod::Http01 => ChallengeType::Http01,
        ChallengeMethod::Dns01 => ChallengeType::Dns01,
    }
}

/// A CA's problem document names its kind; one on the CA's side (or no answer) is worth
/// another try later, the others are refusals.
fn ca_error(error: instant_acme::Error) -> CaError {
    match error {
        instant_acme::Error::Api(problem) => {
            let kind = problem.r#type.clone().unwrap_or_default();
            if problem.status.is_some_and(|s| s >= 500) || kind.ends_with(":serverInternal") {
                CaError::Unavailable(problem.to_string())
            } else {
                CaError::Refused(format!("{kind}: {problem}"))
            }
        }
        other => CaError::Unavailable(other.to_string()),
    }
}

/// While waiting for validation, a problem on the order is a failed challenge.
fn challenge_error(error: instant_acme::Error) -> CaError {
    match error {
        instant_acme::Error::Api(problem) => CaError::ChallengeFailed(problem.to_string()),
        other => ca_error(other),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn nonce() -> CaError {
        CaError::Refused(
            "urn:ietf:params:acme:error:badNonce: JWS has an invalid anti-replay nonce".to_owned(),
        )
    }

    #[tokio::test]
    async fn a_step_refused_for_its_nonce_is_tried_again_and_nothing_else_is() {
        let calls = Cell::new(0);
        let twice_stale = with_fresh_nonces(|| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(nonce())
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(twice_stale.unwrap(), 3);

        calls.set(0);
        let always = with_fresh_nonces(|| {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(nonce()) }
        })
        .await;
        assert!(always.is_err());
        assert_eq!(calls.get(), NONCE_ATTEMPTS);

        calls.set(0);
        let refused = with_fresh_nonces(|| {
            calls.set(calls.get() + 1);
            async { Err::<(), _>(CaError::Refused("rejectedIdentifier".to_owned())) }
        })
        .await;
        assert!(refused.is_err());
        assert_eq!(calls.get(), 1, "a refusal of another kind is final");
    }
}
