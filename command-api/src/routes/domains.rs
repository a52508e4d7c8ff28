//! `/v1/sites/{id}/domains`: point a custom domain at a site, and take it off again.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::Router;
use berth_domain::custom_domain::{CustomDomain, CustomDomainCommand, VerificationToken, CHALLENGE_LABEL};
use berth_domain::domain_name::DomainName;
use berth_domain::ids::SiteId;
use berth_domain::role::Permission;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;

use crate::accepted::Located;
use crate::auth::Caller;
use crate::routes::owned_site;
use crate::{AppState, View};

/// The custom domain routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sites/{id}/domains", post(add))
        .route("/v1/sites/{id}/domains/{domain}", delete(remove))
}

/// How long a claim waits for its TXT record before it lapses.
const CLAIM_DAYS: i64 = 7;

/// `POST /v1/sites/{id}/domains` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"domain": "shop.example.com"}))]
pub struct AddDomain {
    /// The custom domain (internationalized names are taken and kept as punycode).
    #[schema(min_length = 1, max_length = 253)]
    pub domain: String,
}

/// A DNS record for the domain's owner to set at their DNS provider.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DnsRecord {
    /// Its type.
    #[serde(rename = "type")]
    #[schema(value_type = berth_http::schema::RecordTypeName)]
    pub rtype: &'static str,
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// The answer to a custom domain's claim: the records to set, and the claim's version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DomainClaimed {
    /// The site.
    pub id: Uuid,
    /// The domain, as Berth keeps it.
    pub domain: String,
    /// The custom domain's version: ask the query API for `?min_version=` this.
    #[schema(minimum = 0)]
    pub version: i64,
    /// The token the verification record holds.
    pub token: String,
    /// Set these: the verification record (TXT `_berth-challenge.<domain>`) proves the domain
    /// is the tenant's; the address record points it at the site's node (once placed).
    pub records: Vec<DnsRecord>,
    /// When the claim lapses unless verified.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
}

/// The answer to taking a domain off a site.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DomainRemoved {
    /// The site.
    pub id: Uuid,
    /// The custom domain's version.
    #[schema(minimum = 0)]
    pub version: i64,
}

/// Point a custom domain at a site.
///
/// Berth looks for the verification record until it is there (or the claim lapses after seven
/// days); once verified, the site's node serves the domain and the site's certificate is
/// issued again to cover it. A domain verified for another tenant's site is refused.
#[utoipa::path(post, path = "/v1/sites/{id}/domains", operation_id = "add_domain", tag = "domains", request_body = AddDomain,
    params(("id" = uuid::Uuid, Path, description = "The site's id")),
    responses((status = 202, description = "Claimed: set the records in the answer", body = DomainClaimed)), security(("bearer" = [])))]
async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AddDomain>,
) -> Result<Located<DomainClaimed>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    let domain = DomainName::parse(&body.domain).map_err(|e| ApiError::field("domain", e))?;
    let site = owned_site(&state, &caller, site_id).await?;
    let site_domain = site.domain().cloned().ok_or(ApiError::NotFound)?;
    // 128 random bits: another tenant must not be able to guess a claim's token.
    let random: String = rand::random::<[u8; 16]>().iter().map(|b| format!("{b:02x}")).collect();
    let token = VerificationToken::parse(&random).map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires_at = state.clock.now() + time::Duration::days(CLAIM_DAYS);
    let command = CustomDomainCommand::Claim {
        domain: domain.clone(),
        site_id,
        site_domain,
        tenant_id: caller.tenant_id,
        token,
        expires_at,
    };
    let outcome = state
        .store
        .execute::<CustomDomain>(domain.as_str(), command, &caller.metadata(), state.retry)
        .await?;
    // A repeated claim keeps its first token: answer with the one the domain holds.
    let state_now = state.store.load::<CustomDomain>(domain.as_str()).await?.aggregate;
    let (token, expires_at) = match state_now.claim_of(site_id) {
        Some(claim) => (claim.token.clone(), claim.expires_at),
        None => return Err(ApiError::Conflict),
    };
    let mut records = vec![DnsRecord {
        rtype: "TXT",
        name: format!("{CHALLENGE_LABEL}.{domain}"),
        value: token.txt_value(),
    }];
    if let Some(node) = site.node() {
        let rtype = if node.address.contains(':') { "AAAA" } else { "A" };
        records.push(DnsRecord { rtype, name: domain.to_string(), value: node.address.clone() });
    }
    let location = state.links.to(View::Domain(site_id.as_uuid(), domain.to_string()), outcome.version);
    let body = DomainClaimed {
        id: site_id.as_uuid(),
        domain: domain.to_string(),
        version: outcome.version,
        token: token.as_str().to_owned(),
        records,
        expires_at,
    };
    Ok(Located::new(StatusCode::ACCEPTED, location, body))
}

/// Take a custom domain off a site.
///
/// The node stops serving it at once; the certificate drops it at its next issue.
#[utoipa::path(delete, path = "/v1/sites/{id}/domains/{domain}", operation_id = "remove_domain", tag = "domains",
    params(("id" = uuid::Uuid, Path, description = "The site's id"), ("domain" = String, Path, description = "The custom domain")),
    responses((status = 202, description = "Accepted", body = DomainRemoved)), security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, domain)): ApiPath<(String, String)>,
    precondition: Precondition,
) -> Result<Located<DomainRemoved>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    let domain = DomainName::parse(&domain).map_err(|e| ApiError::field("domain", e))?;
    let expected = precondition.expected(state.require_if_match)?;
    owned_site(&state, &caller, site_id).await?;
    let command = CustomDomainCommand::Remove { site_id };
    let outcome = state
        .store
        .execute_at::<CustomDomain>(domain.as_str(), command, &caller.metadata(), state.retry, &[], expected)
        .await?;
    let location = state.links.to(View::Domain(site_id.as_uuid(), domain.to_string()), outcome.version);
    Ok(Located::new(
        StatusCode::ACCEPTED,
        location,
        DomainRemoved { id: site_id.as_uuid(), version: outcome.version },
    ))
}
