//! One module per resource, each exposing `router()`.

pub mod auth;
pub mod invitations;
pub mod members;
pub mod nodes;
pub mod sites;
pub mod tokens;

use time::OffsetDateTime;

/// Parses an optional RFC 3339 time field.
pub(crate) fn parse_time(
    field: &str,
    value: Option<&str>,
) -> Result<Option<OffsetDateTime>, crate::error::ApiError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).map_err(|_| {
                crate::error::ApiError::field(field, "must be an RFC 3339 time such as 2030-01-31T00:00:00Z")
            })
        })
        .transpose()
}

/// Parses a role name.
pub(crate) fn parse_role(value: &str) -> Result<berth_domain::role::Role, crate::error::ApiError> {
    berth_domain::role::Role::parse(value).ok_or_else(|| {
        crate::error::ApiError::field(
            "role",
            format!("unknown role `{value}`; expected owner, admin, member or viewer"),
        )
    })
}

/// Parses an id path segment; a malformed id is as unknown as a missing one.
pub(crate) fn parse_id<T: std::str::FromStr>(raw: &str) -> Result<T, crate::error::ApiError> {
    raw.parse().map_err(|_| crate::error::ApiError::NotFound)
}

/// Runs an organization command for the caller's tenant, with its side writes; ids the
/// organization does not know (including other tenants' ids) answer 404.
pub(crate) async fn run_org(
    state: &crate::AppState,
    caller: &crate::auth::Caller,
    command: berth_domain::organization::OrganizationCommand,
    writes: &[berth_eventstore::append::SideWrite],
) -> Result<berth_eventstore::execute::CommandOutcome, crate::error::ApiError> {
    use berth_domain::organization::{Organization, OrganizationError};
    use berth_eventstore::execute::ExecuteError;
    let meta = caller.metadata();
    let tenant = caller.tenant_id.to_string();
    match state.store.execute_with::<Organization>(&tenant, command, &(), &meta, state.retry, writes).await {
        Ok(outcome) => Ok(outcome),
        Err(ExecuteError::Rejected(
            OrganizationError::MemberNotFound
            | OrganizationError::TokenNotFound
            | OrganizationError::InvitationNotFound,
        )) => Err(crate::error::ApiError::NotFound),
        Err(other) => Err(other.into()),
    }
}
