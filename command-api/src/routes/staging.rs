//! `/v1/sites/{id}/staging`: make a site's staging copy, promote it, delete it.

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use berth_domain::domain_name::DomainName;
use berth_domain::ids::{BackupId, SiteId};
use berth_domain::role::Permission;
use berth_domain::site::{Site, SiteCommand, SiteError, StagingOf};
use berth_eventstore::unit_of_work::UnitOfWork;
use berth_http::extract::ApiPath;
use berth_http::ApiError;

use crate::accepted::Located;
use crate::auth::Caller;
use crate::{Accepted, AppState, View};

/// The staging routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sites/{id}/staging", post(create).delete(remove))
        .route("/v1/sites/{id}/staging/promote", post(promote))
}

/// The path parameter of a production site.
const SITE: &str = "The production site's id";

/// Make a staging copy of a site.
///
/// The copy is a site of the tenant at `staging.<domain>`, on the same node, that counts against
/// no site limit of the plan. It is set up, then a fresh backup of the site is restored into
/// it (WordPress answers at the copy's name and asks search engines to stay away; every answer
/// carries `X-Robots-Tag: noindex`), and it gets its own certificate like any site. The answer
/// is the copy's id; the production site's `staging` shows how far it got. A copy of a copy is
/// 422 `site-is-staging`, a second copy 409 `staging-exists`.
#[utoipa::path(post, path = "/v1/sites/{id}/staging", operation_id = "create_staging", tag = "sites",
    params(("id" = uuid::Uuid, Path, description = SITE)),
    responses((status = 202, description = "Accepted: the copy is being made; its id", body = Accepted),
        (status = 404, description = "No such site of the tenant", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The site has a copy already (`staging-exists`) or is busy", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The site is itself a staging copy (`site-is-staging`)", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let production_id: SiteId = crate::routes::parse_id(&id)?;
    let loaded = state.store.load::<Site>(&production_id.to_string()).await?;
    let production = &loaded.aggregate;
    let (Some(tenant), Some(domain), Some(kind)) =
        (production.tenant_id(), production.domain(), production.kind())
    else {
        return Err(ApiError::NotFound);
    };
    if tenant != caller.tenant_id {
        return Err(ApiError::NotFound);
    }
    if production.staging_of().is_some() {
        return Err(ApiError::refused(&SiteError::IsStaging));
    }
    let Some(node_id) = production.node().map(|p| p.node_id) else {
        return Err(ApiError::refused(&SiteError::WrongStatus(production.status().as_str())));
    };
    let copy_domain = DomainName::parse(&format!("staging.{}", domain.as_str())).map_err(|e| {
        ApiError::field("domain", format!("the staging name of {domain} is not a host name: {e}"))
    })?;
    let copy_id = SiteId::from_uuid(caller.new_id());
    let copy = SiteCommand::CreateAsStaging {
        site_id: copy_id,
        tenant_id: caller.tenant_id,
        domain: copy_domain.clone(),
        kind,
        php_version: production.php_version(),
        of: StagingOf { production_site_id: production_id, node_id },
    };
    let link =
        SiteCommand::CreateStaging { staging_site_id: copy_id, domain: copy_domain, now: state.clock.now() };
    // The copy and production's link to it in one commit (the copy's first: the answer's
    // version is the copy's); production as it was read, so a concurrent change is a conflict.
    let mut unit = UnitOfWork::new(&state.store);
    unit.decide::<Site>(&copy_id.to_string(), copy).await?;
    unit.decide_loaded::<Site>(&production_id.to_string(), loaded, link).await?;
    let outcome = unit.commit(&caller.metadata()).await?;
    Ok(state.links.accepted(copy_id.as_uuid(), outcome.version, View::Site(copy_id.as_uuid())))
}

/// Promote a site's staging copy into production.
///
/// A backup of the copy is restored into the site, after a safety backup of the site (the
/// restore's own); WordPress answers at the site's name again with its own search engine
/// setting. A step that fails leaves the site as it was and the copy ready. Without a copy it
/// is 409 `no-staging`; with one not ready yet, 409 `staging-not-ready`.
#[utoipa::path(post, path = "/v1/sites/{id}/staging/promote", operation_id = "promote_staging", tag = "sites",
    params(("id" = uuid::Uuid, Path, description = SITE)),
    responses((status = 202, description = "Accepted: the promotion is under way", body = Accepted),
        (status = 404, description = "No such site of the tenant", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No copy (`no-staging`), or not ready (`staging-not-ready`)", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn promote(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let production_id: SiteId = crate::routes::parse_id(&id)?;
    let command = SiteCommand::PromoteStaging {
        backup_id: BackupId::from_uuid(caller.new_id()),
        now: state.clock.now(),
    };
    let meta = caller.metadata().within_tenant();
    let outcome = state
        .store
        .execute_with::<Site>(&production_id.to_string(), command, &meta, state.retry, &[])
        .await?;
    Ok(state.links.accepted(production_id.as_uuid(), outcome.version, View::Site(production_id.as_uuid())))
}

/// Delete a site's staging copy.
///
/// The copy's site is deleted as any site is (its vhost, user, database and certificate go);
/// once its node has removed it, the site has no copy and may get a new one. Without a copy
/// it is 409 `no-staging`.
#[utoipa::path(delete, path = "/v1/sites/{id}/staging", operation_id = "delete_staging", tag = "sites",
    params(("id" = uuid::Uuid, Path, description = SITE)),
    responses((status = 202, description = "Accepted: the copy's site is being deleted", body = Accepted),
        (status = 404, description = "No such site of the tenant", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The site has no copy (`no-staging`), or the copy is busy", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let production_id: SiteId = crate::routes::parse_id(&id)?;
    let production = crate::routes::owned_site(&state, &caller, production_id).await?;
    let Some(copy_id) = production.staging().map(|s| s.site_id) else {
        return Err(ApiError::refused(&SiteError::NoStaging));
    };
    let meta = caller.metadata().within_tenant();
    let outcome = state
        .store
        .execute_with::<Site>(&copy_id.to_string(), SiteCommand::Delete, &meta, state.retry, &[])
        .await?;
    Ok(state.links.accepted(copy_id.as_uuid(), outcome.version, View::Site(copy_id.as_uuid())))
}
