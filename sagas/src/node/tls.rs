//! The node verbs for certificates and custom domains: ACME HTTP-01 answers, a site's key and
//! chain with its HTTPS vhost, and a site's aliases. Their arguments are value objects checked
//! here as strictly as the node scripts check them again.

use std::fmt;

use berth_domain::domain_name::DomainName;
use berth_domain::ids::SiteId;
use zeroize::Zeroizing;

use super::contract::{NodeRequest, NodeVerb};
use super::reply::{AliasesSet, ChallengeRemoved, ChallengeWritten, TlsInstalled};

/// An ACME challenge token: 16 to 128 base64url characters (RFC 8555 asks for at least 128
/// bits of entropy, which is 22 of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeToken(String);

/// A key authorization: the token, a dot and the account key's thumbprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAuthorization(String);

/// A token or key authorization that the node scripts would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ACME {0}: {1:?}")]
pub struct ChallengeError(&'static str, String);

fn base64url(text: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ChallengeToken {
    /// Checks a token as the CA sent it.
    pub fn parse(token: &str) -> Result<Self, ChallengeError> {
        if base64url(token, 16, 128) {
            Ok(Self(token.to_owned()))
        } else {
            Err(ChallengeError("token", token.to_owned()))
        }
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl KeyAuthorization {
    /// Checks a key authorization for `token`.
    pub fn parse(token: &ChallengeToken, text: &str) -> Result<Self, ChallengeError> {
        match text.split_once('.') {
            Some((head, thumbprint)) if head == token.as_str() && base64url(thumbprint, 16, 128) => {
                Ok(Self(text.to_owned()))
            }
            _ => Err(ChallengeError("key authorization", text.to_owned())),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `site-aliases`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteAliases {
    /// The site.
    pub site: SiteId,
    /// Every alias.
    pub aliases: Vec<DomainName>,
}

/// `challenge-put`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengePut {
    /// The token.
    pub token: ChallengeToken,
    /// The key authorization.
    pub content: KeyAuthorization,
}

/// `challenge-remove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRemove {
    /// The token.
    pub token: ChallengeToken,
}

/// `site-tls`, with the private key and chain (PEM) for stdin.
pub struct SiteTls {
    /// The site.
    pub site: SiteId,
    /// HSTS on its HTTPS answers.
    pub hsts: bool,
    /// Whether it answers for every name directly below its domain.
    pub wildcard: bool,
    /// The private key, then the chain, in PEM.
    pub pem: Zeroizing<Vec<u8>>,
}

// Written by hand: the key stays out of logs.
impl fmt::Debug for SiteTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteTls").field("site", &self.site).field("hsts", &self.hsts).finish_non_exhaustive()
    }
}

impl NodeVerb for SiteAliases {
    type Reply = AliasesSet;
    fn request(&self) -> NodeRequest {
        NodeRequest::SiteAliases { site: self.site, aliases: self.aliases.clone() }
    }
}

impl NodeVerb for ChallengePut {
    type Reply = ChallengeWritten;
    fn request(&self) -> NodeRequest {
        NodeRequest::ChallengePut { token: self.token.clone(), content: self.content.clone() }
    }
}

impl NodeVerb for ChallengeRemove {
    type Reply = ChallengeRemoved;
    fn request(&self) -> NodeRequest {
        NodeRequest::ChallengeRemove { token: self.token.clone() }
    }
}

impl NodeVerb for SiteTls {
    type Reply = TlsInstalled;
    fn request(&self) -> NodeRequest {
        NodeRequest::SiteTls { site: self.site, hsts: self.hsts, wildcard: self.wildcard }
    }

    fn stdin(&self) -> Option<&[u8]> {
        Some(&self.pem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> SiteId {
        "0190f3a2-7c4e-7d1a-9b3c-5e6f7a8b9c0d".parse().unwrap()
    }

    #[test]
    fn the_verbs_render_their_arguments_and_keep_the_key_off_argv() {
        let token = ChallengeToken::parse("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0").unwrap();
        let content = KeyAuthorization::parse(
            &token,
            &format!("{}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI", token.as_str()),
        )
        .unwrap();
        let put = ChallengePut { token: token.clone(), content: content.clone() }.request();
        assert_eq!(put.argv(), ["challenge-put", "--token", token.as_str(), "--content", content.as_str()]);
        let tls = SiteTls {
            site: site(),
            hsts: true,
            wildcard: false,
            pem: Zeroizing::new(b"-----BEGIN PRIVATE KEY-----".to_vec()),
        };
        assert_eq!(
            tls.request().argv(),
            ["site-tls", "--site", &site().to_string(), "--hsts", "1", "--wildcard", "0"]
        );
        assert!(!tls.request().argv().concat().contains("PRIVATE"));
        assert!(tls.stdin().is_some_and(|s| s.starts_with(b"-----BEGIN")));
        let aliases = vec![DomainName::parse("a.example").unwrap(), DomainName::parse("b.example").unwrap()];
        assert_eq!(SiteAliases { site: site(), aliases }.request().argv()[4], "a.example,b.example");
        assert_eq!(SiteAliases { site: site(), aliases: vec![] }.request().argv()[4], "");
    }

    #[test]
    fn tokens_and_key_authorizations_are_checked() {
        let token = ChallengeToken::parse("AAAAAAAAAAAAAAAAAAAA").unwrap();
        for bad in ["short", "../../etc/passwd-xxxxxxxx", "AAAAAAAAAAAAAAAAAAAA$(id)", &"A".repeat(129)] {
            assert!(ChallengeToken::parse(bad).is_err(), "{bad}");
        }
        assert!(KeyAuthorization::parse(&token, "AAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBB").is_ok());
        for bad in
            ["BBBBBBBBBBBBBBBBBBBB.BBBBBBBBBBBBBBBBBBBB", "AAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAA.x y"]
        {
            assert!(KeyAuthorization::parse(&token, bad).is_err(), "{bad}");
        }
    }
}
