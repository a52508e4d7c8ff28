//! `/v1/sites`: create, change and delete sites.

use axum::extract::State;
use axum::routing::{patch, post};
use axum::Router;
use berth_domain::domain_name::DomainName;
use berth_domain::ids::SiteId;
use berth_domain::php::{PhpVersion, SiteKind};
use berth_domain::role::Permission;
use berth_domain::site::{Site, SiteCommand, SiteLabel};
use serde::Deserialize;

use berth_http::conditional::Precondition;
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;

use crate::accepted::Located;
use crate::auth::Caller;
use crate::{Accepted, AppState, View};

/// The site routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sites", post(create))
        .route("/v1/sites/{id}", patch(update).delete(delete))
        .route("/v1/sites/{id}/suspend", post(suspend))
        .route("/v1/sites/{id}/resume", post(resume))
        .route("/v1/sites/{id}/retry", post(retry))
        .route("/v1/sites/{id}/recover", post(recover))
}

/// `POST /v1/sites` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"domain": "blog.acme.test", "type": "wordpress", "php_version": "8.3"}))]
pub struct CreateSite {
    /// The host name it answers for (internationalized names are taken and kept as punycode).
    #[schema(min_length = 1, max_length = 253)]
    pub domain: String,
    /// What runs it.
    #[serde(rename = "type")]
    #[schema(value_type = berth_http::schema::SiteType)]
    pub kind: String,
    /// Required for PHP types, refused for static sites.
    #[schema(value_type = Option<berth_http::schema::PhpVersionName>)]
    pub php_version: Option<String>,
}

/// `PATCH /v1/sites/{id}` body: only the fields present change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"label": "Client X blog"}))]
pub struct UpdateSite {
    /// A new PHP version.
    #[schema(value_type = Option<berth_http::schema::PhpVersionName>)]
    pub php_version: Option<String>,
    /// A new display label.
    #[schema(max_length = 100)]
    pub label: Option<String>,
}

/// Parses a site type.
pub fn parse_kind(value: &str) -> Result<SiteKind, ApiError> {
    SiteKind::ALL.into_iter().find(|k| k.as_str() == value).ok_or_else(|| {
        ApiError::field("type", format!("unknown type `{value}`; expected wordpress, php, laravel or static"))
    })
}

/// Parses a PHP version.
pub fn parse_php(value: &str) -> Result<PhpVersion, ApiError> {
    PhpVersion::ALL.into_iter().find(|v| v.as_str() == value).ok_or_else(|| {
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

/// The path parameter of a site.
const SITE: &str = "The site's id";

/// Create a site.
///
/// The site is placed on a node and set up there by the provisioning saga; follow it at the
/// answer's `Location`. It must fit the tenant's plan: over the plan's site limit is 409
/// `plan-limit`, and without a subscription or trial 402 `subscription-required`.
#[utoipa::path(post, path = "/v1/sites", operation_id = "create_site", tag = "sites", request_body = CreateSite,
    responses((status = 202, description = "Accepted: the site is requested", body = Accepted),
        (status = 402, description = "No subscription or trial (`subscription-required`)", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSite>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id = SiteId::from_uuid(caller.new_id());
    let command = body.into_command(site_id, caller.tenant_id)?;
    // The domain is claimed by the site's own `Created` event, and the site is admitted to the
    // tenant's quota of sites, in the same commit.
    let meta = caller.metadata();
    let outcome = berth_eventstore::billing::create_site(
        &state.store,
        caller.tenant_id,
        site_id,
        command,
        &meta,
        state.retry,
    )
    .await?;
    Ok(state.links.accepted(site_id.as_uuid(), outcome.version, View::Site(site_id.as_uuid())))
}

/// Change a site's PHP version or label.
#[utoipa::path(patch, path = "/v1/sites/{id}", operation_id = "update_site", tag = "sites", request_body = UpdateSite,
    params(("id" = uuid::Uuid, Path, description = SITE)),
    responses((status = 202, description = "Accepted", body = Accepted)), security(("bearer" = [])))]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
    ApiJson(body): ApiJson<UpdateSite>,
) -> Result<Located<Accepted>, ApiError> {
    let php_version = body.php_version.as_deref().map(parse_php).transpose()?;
    let label =
        body.label.as_deref().map(SiteLabel::parse).transpose().map_err(|e| ApiError::field("label", e))?;
    site_command(&state, &caller, &id, precondition, SiteCommand::Update { php_version, label }).await
}

/// Delete a site.
///
/// Its node removes it; the domain is free again once it has.
#[utoipa::path(delete, path = "/v1/sites/{id}", operation_id = "delete_site", tag = "sites",
    params(("id" = uuid::Uuid, Path, description = SITE)),
    responses((status = 202, description = "Accepted; the node carries it out", body = Accepted)), security(("bearer" = [])))]
async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    site_command(&state, &caller, &id, precondition, SiteCommand::Delete).await
}

/// Suspend a site: its node answers 503 for it, its data is kept.
#[utoipa::path(post, path = "/v1/sites/{id}/suspend", operation_id = "suspend_site", tag = "sites",
    params(("id" = uuid::Uuid, Path, description = SITE)),
    responses((status = 202, description = "Accepted; the node carries it out", body = Accepted)), security(("bearer" = [])))]
async fn suspend(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    site_command(&state, &caller, &id, precondition, SiteCommand::Suspend).await
}

/// Resume a suspended site.
#[utoipa::path(post, path = "/v1/sites/{id}/resume", operation_id = "resume_site", tag = "sites",
    params(("id" = uuid::Uuid, Path, description = SITE)),
    responses((status = 202, description = "Accepted; the node carries it out", body = Accepted)), security(("bearer" = [])))]
async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    site_command(&state, &caller, &id, precondition, SiteCommand::Resume).await
}

/// Start provisioning a failed site over.
#[utoipa::path(post, path = "/v1/sites/{id}/retry", operation_id = "retry_site", tag = "sites",
    params(("id" = uuid::Uuid, Path, description = SITE)),
    responses((status = 202, description = "Accepted; provisioning starts over", body = Accepted)), security(("bearer" = [])))]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    site_command(&state, &caller, &id, precondition, SiteCommand::RetryProvisioning).await
}

/// Restore a lost site onto another node from its latest verified backup.
///
/// Its domain is claimed again (409 `unique-taken` if another site took it meanwhile), a ready
/// node with room is chosen, and the backup is restored there; follow the move at the answer's
/// `Location` (the site) — it is `active` again once it serves, or stays `lost` with the reason.
#[utoipa::path(post, path = "/v1/sites/{id}/recover", operation_id = "recover_site", tag = "sites",
    params(("id" = uuid::Uuid, Path, description = SITE)),
    responses((status = 202, description = "Accepted; the site is restored onto another node", body = Accepted)), security(("bearer" = [])))]
async fn recover(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    precondition: Precondition,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    let site = crate::routes::owned_site(&state, &caller, site_id).await?;
    if site.status() != berth_domain::site::SiteStatus::Lost {
        return Err(ApiError::refused(&berth_domain::site::SiteError::WrongStatus(site.status().as_str())));
    }
    let Some(from_node) = site.node().map(|n| n.node_id) else { return Err(ApiError::NotFound) };
    let command = SiteCommand::StartEvacuation {
        evacuation_id: berth_domain::ids::EvacuationId::from_uuid(uuid::Uuid::now_v7()),
        mode: berth_domain::evacuation::EvacuationMode::FromBackup,
        from_node,
    };
    site_command(&state, &caller, &id, precondition, command).await
}

async fn site_command(
    state: &AppState,
    caller: &Caller,
    id: &str,
    precondition: Precondition,
    command: SiteCommand,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(id)?;
    let expected = precondition.expected(state.require_if_match)?;
    let meta = caller.metadata().within_tenant();
    let outcome = state
        .store
        .execute_at::<Site>(&site_id.to_string(), command, &meta, state.retry, &[], expected)
        .await?;
    Ok(state.links.accepted(site_id.as_uuid(), outcome.version, View::Site(site_id.as_uuid())))
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
