//! Certificate authorities: [`CertificateAuthority`] is an ACME CA seen as two steps, an order
//! with its challenges to present and, once they are presented, the certificate; [`client`]
//! speaks ACME with instant-acme (its account key sealed in the vault), [`x509`] reads what
//! the CA issued.

pub mod client;
pub mod x509;

use berth_domain::certificate::{ChallengeMethod, FailureCode};
use futures::future::BoxFuture;
use zeroize::Zeroizing;

/// One challenge of an order, still to be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The name it proves (`*.example.com` for a wildcard).
    pub name: String,
    /// The name without a wildcard's `*.`: where its HTTP or DNS answer goes.
    pub base: String,
    /// The token (the HTTP-01 file's name).
    pub token: String,
    /// The key authorization (the HTTP-01 file's content).
    pub key_authorization: String,
    /// The DNS-01 TXT value.
    pub dns_value: String,
}

/// An order that waits for its challenges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The order's URL at the CA.
    pub url: String,
    /// Its challenges not yet valid (a CA may reuse earlier authorizations).
    pub challenges: Vec<Challenge>,
}

/// What the CA issued: the certificate's private key and chain, in PEM.
pub struct IssuedPem {
    /// The private key (made here, never sent).
    pub key: Zeroizing<String>,
    /// The chain, the site's certificate first.
    pub chain: String,
}

/// Why the CA did not issue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaError {
    /// The CA could not be reached, or failed on its side.
    #[error("the CA is unavailable: {0}")]
    Unavailable(String),
    /// The CA refused the order (a rate limit, a policy, a name it will not certify).
    #[error("the CA refused: {0}")]
    Refused(String),
    /// A challenge did not validate.
    #[error("a challenge failed: {0}")]
    ChallengeFailed(String),
    /// Berth's own storage failed (the account's sealed key).
    #[error("storage failed: {0}")]
    Storage(String),
}

impl CaError {
    /// The certificate's failure code for this error.
    pub fn code(&self) -> FailureCode {
        match self {
            Self::Unavailable(_) => FailureCode::CaUnavailable,
            Self::Refused(_) => FailureCode::OrderRefused,
            Self::ChallengeFailed(_) => FailureCode::ChallengeFailed,
            Self::Storage(_) => FailureCode::Unknown,
        }
    }
}

/// An ACME certificate authority.
pub trait CertificateAuthority: Send + Sync + 'static {
    /// Opens an order for `names`, with the challenges of `method` to answer.
    fn order<'a>(
        &'a self,
        names: &'a [String],
        method: ChallengeMethod,
    ) -> BoxFuture<'a, Result<Order, CaError>>;

    /// Tells the CA that `order`'s challenges are answered, waits for it to validate them, and
    /// fetches the certificate for a key made here.
    fn finish<'a>(
        &'a self,
        order: &'a Order,
        method: ChallengeMethod,
    ) -> BoxFuture<'a, Result<IssuedPem, CaError>>;
}
