//! One module per resource, each exposing `router()`.

pub mod auth;
pub mod backups;
pub mod billing;
pub mod certificates;
pub mod costs;
pub mod deploys;
pub mod domains;
pub mod git_hooks;
pub mod invitations;
pub mod members;
pub mod nodes;
pub mod people;
pub mod sftp;
pub mod sign_out;
pub mod sites;
pub mod staging;
pub mod tokens;
pub mod two_factor;
pub mod webhooks;
pub mod zones;

use time::OffsetDateTime;

/// Parses an optional RFC 3339 time field.
pub(crate) fn parse_time(
    field: &str,
    value: Option<&str>,
) -> Result<Option<OffsetDateTime>, berth_http::ApiError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).map_err(|_| {
                berth_http::ApiError::field(field, "must be an RFC 3339 time such as 2030-01-31T00:00:00Z")
            })
        })
        .transpose()
}

/// Parses a role name.
pub(crate) fn parse_role(value: &str) -> Result<berth_domain::role::Role, berth_http::ApiError> {
    berth_domain::role::Role::parse(value).ok_or_else(|| {
        berth_http::ApiError::field(
            "role",
            format!("unknown role `{value}`; expected owner, admin, member or viewer"),
        )
    })
}

/// Parses an id path segment; a malformed id is as unknown as a missing one.
pub(crate) fn parse_id<T: std::str::FromStr>(raw: &str) -> Result<T, berth_http::ApiError> {
    raw.parse().map_err(|_| berth_http::ApiError::NotFound)
}

/// Runs an organization command for the caller's tenant, with its side writes; ids the
/// organization does not know (including other tenants' ids) answer 404 through the refusal's
/// kind.
pub(crate) async fn run_org(
    state: &crate::AppState,
    caller: &crate::auth::Caller,
    command: berth_domain::organization::OrganizationCommand,
    writes: &[berth_eventstore::append::SideWrite],
    expected: Option<i64>,
) -> Result<berth_eventstore::execute::CommandOutcome, berth_http::ApiError> {
    use berth_domain::organization::Organization;
    let meta = caller.metadata();
    let tenant = caller.tenant_id.to_string();
    Ok(state.store.execute_at::<Organization>(&tenant, command, &meta, state.retry, writes, expected).await?)
}

/// The site, if it exists and belongs to the caller's tenant; 404 otherwise (another tenant's
/// site is as unknown as a missing one). For commands on other aggregates that need the site's
/// state: its domain, its aliases.
pub(crate) async fn owned_site(
    state: &crate::AppState,
    caller: &crate::auth::Caller,
    site_id: berth_domain::ids::SiteId,
) -> Result<berth_domain::site::Site, berth_http::ApiError> {
    let loaded = state.store.load::<berth_domain::site::Site>(&site_id.to_string()).await?;
    match (loaded.aggregate.tenant_id(), loaded.aggregate.domain()) {
        (Some(tenant), Some(_)) if tenant == caller.tenant_id => Ok(loaded.aggregate),
        _ => Err(berth_http::ApiError::NotFound),
    }
}
