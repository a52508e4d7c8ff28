//! `/v1/sites/{id}/certificate`: issue (or reissue) a site's certificate.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use berth_domain::certificate::{Certificate, CertificateCommand, CertificateNames, Reason};
use berth_domain::ids::SiteId;
use berth_domain::role::Permission;
use serde::Deserialize;

use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;

use crate::accepted::Located;
use crate::auth::Caller;
use crate::routes::owned_site;
use crate::{Accepted, AppState, View};

/// The certificate routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sites/{id}/certificate", post(issue))
}

/// `POST /v1/sites/{id}/certificate` body (`{}` for the defaults).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"wildcard": false, "hsts": true}))]
pub struct IssueCertificate {
    /// Cover every name directly below the site's domain too (`*.<domain>`); needs DNS-01, so
    /// the domain must lie in a zone Berth serves for the tenant.
    #[serde(default)]
    pub wildcard: bool,
    /// Send HSTS (`Strict-Transport-Security: max-age=31536000`) with the site's HTTPS
    /// answers.
    #[serde(default)]
    pub hsts: bool,
}

/// Issue or reissue a site's certificate.
///
/// It covers the site's domain and its verified custom domains. The CA checks the names by
/// HTTP-01 on the site's node when they resolve there, by DNS-01 through a zone Berth serves
/// otherwise; follow it at the answer's `Location`. The certificate in use serves until the
/// new one is installed.
#[utoipa::path(post, path = "/v1/sites/{id}/certificate", operation_id = "issue_certificate", tag = "certificates",
    request_body = IssueCertificate, params(("id" = uuid::Uuid, Path, description = "The site's id")),
    responses((status = 202, description = "Accepted: an attempt is under way", body = Accepted)), security(("bearer" = [])))]
async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<IssueCertificate>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    let expected = precondition.expected(state.require_if_match)?;
    let site = owned_site(&state, &caller, site_id).await?;
    let primary = site.domain().cloned().ok_or(ApiError::NotFound)?;
    let names = CertificateNames { primary, wildcard: body.wildcard, aliases: site.aliases().to_vec() };
    let command = CertificateCommand::Request {
        site_id,
        tenant_id: caller.tenant_id,
        names,
        hsts: body.hsts,
        reason: Reason::Requested,
    };
    let outcome = state
        .store
        .execute_at::<Certificate>(
            &site_id.to_string(),
            command,
            &caller.metadata(),
            state.retry,
            &[],
            expected,
        )
        .await?;
    Ok(state.links.accepted(site_id.as_uuid(), outcome.version, View::Certificate(site_id.as_uuid())))
}
