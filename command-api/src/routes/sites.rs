//! `/v1/sites`: create, change and delete sites.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{patch, post};
use axum::{Json, Router};
use berth_domain::domain_name::DomainName;
use berth_domain::ids::SiteId;
use berth_domain::php::{PhpVersion, SiteKind};
use berth_domain::role::Permission;
use berth_domain::site::{Site, SiteCommand, SiteLabel};
use serde::Deserialize;

use crate::auth::Caller;
use crate::{Accepted, AppState};
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;

/// The site routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sites", post(create))
        .route("/v1/sites/{id}", patch(update).delete(delete))
        .route("/v1/sites/{id}/suspend", post(suspend))
        .route("/v1/sites/{id}/resume", post(resume))
        .route("/v1/sites/{id}/retry", post(retry))
}

/// `POST /v1/sites` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSite {
    /// The host name.
    pub domain: String,
    /// `wordpress`, `php`, `laravel` or `static`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `8.1` to `8.4`; not for static sites.
    pub php_version: Option<String>,
}

/// `PATCH /v1/sites/{id}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSite {
    /// A new PHP version.
    pub php_version: Option<String>,
    /// A new display label.
    pub label: Option<String>,
}

/// Parses a site type.
pub fn parse_kind(value: &str) -> Result<SiteKind, ApiError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|_| {
        ApiError::field("type", format!("unknown type `{value}`; expected wordpress, php, laravel or static"))
    })
}

/// Parses a PHP version.
pub fn parse_php(value: &str) -> Result<PhpVersion, ApiError> {
    serde_json::from_value(serde_json::Value::String(value.to_owned())).map_err(|_| {
        ApiError::field(
            "php_version",
            format!("unsupported PHP version `{value}`; expected 8.1, 8.2, 8.3 or 8.4"),
        )
    })
}

impl CreateSite {
    /// The command this body asks for, for a new site of `tenant`.
    pub fn into_command(
        self,
        site_id: SiteId,
        tenant: berth_domain::ids::TenantId,
    ) -> Result<SiteCommand, ApiError> {
        let domain = DomainName::parse(&self.domain).map_err(|e| ApiError::field("domain", e))?;
        let kind = parse_kind(&self.kind)?;
        let php_version = self.php_version.as_deref().map(parse_php).transpose()?;
        match (kind.runs_php(), php_version) {
            (true, None) => {
                return Err(ApiError::field("php_version", format!("required for {} sites", self.kind)))
            }
            (false, Some(_)) => {
                return Err(ApiError::field("php_version", "static sites have no PHP version"))
            }
            _ => {}
        }
        Ok(SiteCommand::Create { site_id, tenant_id: tenant, domain, kind, php_version })
    }
}

#[utoipa::path(post, path = "/v1/sites", tag = "sites", request_body = CreateSite, responses((status = 202, description = "Accepted", body = crate::Accepted), (status = 400, description = "Bad input, naming the field", body = berth_http::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSite>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id = SiteId::from_uuid(caller.new_id());
    let command = body.into_command(site_id, caller.tenant_id)?;
    // The domain is claimed by the site's own `Created` event, in the same commit.
    let meta = caller.metadata();
    let outcome = state.store.execute::<Site>(&site_id.to_string(), command, &meta, state.retry).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id: site_id.to_string(), version: outcome.version })))
}

#[utoipa::path(patch, path = "/v1/sites/{id}", tag = "sites", request_body = UpdateSite, params(("id" = String, Path, description = "The id")), responses((status = 202, description = "Accepted", body = crate::Accepted), (status = 400, description = "Bad input, naming the field", body = berth_http::Problem, content_type = "application/problem+json"), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "A rule, a taken value or a concurrent change", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateSite>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    owned_site(&state, &caller, site_id).await?;
    let php_version = body.php_version.as_deref().map(parse_php).transpose()?;
    let label =
        body.label.as_deref().map(SiteLabel::parse).transpose().map_err(|e| ApiError::field("label", e))?;
    let meta = caller.metadata();
    let command = SiteCommand::Update { php_version, label };
    let outcome = state.store.execute::<Site>(&site_id.to_string(), command, &meta, state.retry).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id: site_id.to_string(), version: outcome.version })))
}

#[utoipa::path(delete, path = "/v1/sites/{id}", tag = "sites", params(("id" = String, Path, description = "The id")), responses((status = 202, description = "Accepted; the node carries it out", body = crate::Accepted), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "Not in a state that allows it, or other work is under way", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    // The domain is given back when the node has removed the site (a failed deletion leaves
    // the site as it was, domain included).
    site_command(&state, &caller, &id, SiteCommand::Delete).await
}

#[utoipa::path(post, path = "/v1/sites/{id}/suspend", tag = "sites", params(("id" = String, Path, description = "The id")), responses((status = 202, description = "Accepted; the node carries it out", body = crate::Accepted), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "Not in a state that allows it, or other work is under way", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    site_command(&state, &caller, &id, SiteCommand::Suspend).await
}

#[utoipa::path(post, path = "/v1/sites/{id}/resume", tag = "sites", params(("id" = String, Path, description = "The id")), responses((status = 202, description = "Accepted; the node carries it out", body = crate::Accepted), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "Not in a state that allows it, or other work is under way", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    site_command(&state, &caller, &id, SiteCommand::Resume).await
}

#[utoipa::path(post, path = "/v1/sites/{id}/retry", tag = "sites", params(("id" = String, Path, description = "The id")), responses((status = 202, description = "Accepted; the node carries it out", body = crate::Accepted), (status = 401, description = "Missing or bad token", body = berth_http::Problem, content_type = "application/problem+json"), (status = 403, description = "The role does not allow it", body = berth_http::Problem, content_type = "application/problem+json"), (status = 404, description = "No such resource in this tenant", body = berth_http::Problem, content_type = "application/problem+json"), (status = 409, description = "Not in a state that allows it, or other work is under way", body = berth_http::Problem, content_type = "application/problem+json"), (status = 429, description = "Rate limited", body = berth_http::Problem, content_type = "application/problem+json"), (status = 503, description = "Unavailable", body = berth_http::Problem, content_type = "application/problem+json")), security(("bearer" = [])))]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    site_command(&state, &caller, &id, SiteCommand::RetryProvisioning).await
}

async fn site_command(
    state: &AppState,
    caller: &Caller,
    id: &str,
    command: SiteCommand,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(id)?;
    owned_site(state, caller, site_id).await?;
    let meta = caller.metadata();
    let outcome = state.store.execute::<Site>(&site_id.to_string(), command, &meta, state.retry).await?;
    Ok((StatusCode::ACCEPTED, Json(Accepted { id: site_id.to_string(), version: outcome.version })))
}

/// The site's domain, if it exists and belongs to the caller's tenant; 404 otherwise.
async fn owned_site(state: &AppState, caller: &Caller, site_id: SiteId) -> Result<String, ApiError> {
    let loaded = state.store.load::<Site>(&site_id.to_string()).await?;
    match (loaded.aggregate.tenant_id(), loaded.aggregate.domain()) {
        (Some(tenant), Some(domain)) if tenant == caller.tenant_id => Ok(domain.to_string()),
        _ => Err(ApiError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use berth_domain::ids::TenantId;
    use proptest::prelude::*;

    use super::*;

    fn parse(body: &str) -> Result<SiteCommand, ApiError> {
        let dto: CreateSite = serde_json::from_str(body).map_err(|e| ApiError::field("body", e))?;
        dto.into_command(SiteId::from_uuid(uuid::Uuid::nil()), TenantId::from_uuid(uuid::Uuid::nil()))
    }

    #[test]
    fn a_valid_body_becomes_a_create_command() {
        let command = parse(r#"{"domain":"Shop.Example.com","type":"php","php_version":"8.1"}"#).unwrap();
        let SiteCommand::Create { domain, kind, php_version, .. } = command else { panic!("not a create") };
        assert_eq!(
            (domain.as_str(), kind, php_version),
            ("shop.example.com", SiteKind::Php, Some(PhpVersion::V8_1))
        );
    }

    proptest! {
        /// Arbitrary text never panics the parser, and whatever it accepts is a valid command.
        #[test]
        fn arbitrary_bodies_are_parsed_or_refused(body in "\\PC{0,200}") {
            if let Ok(SiteCommand::Create { kind, php_version, .. }) = parse(&body) {
                prop_assert_eq!(kind.runs_php(), php_version.is_some());
            }
        }

        /// Arbitrary field values inside well-formed JSON are parsed or refused naming a field.
        #[test]
        fn arbitrary_fields_are_refused_by_name(domain in "\\PC{0,80}", kind in "[a-z]{0,10}", php in proptest::option::of("[0-9.]{0,4}")) {
            let body = serde_json::json!({"domain": domain, "type": kind, "php_version": php}).to_string();
            match parse(&body) {
                Ok(_) => {}
                Err(ApiError::BadRequest { field: Some(field), .. }) => {
                    prop_assert!(["domain", "type", "php_version"].contains(&field.as_str()), "{}", field);
                }
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
