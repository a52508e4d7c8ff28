//! `POST /v1/sites/{id}/sftp-users`: an SFTP account chrooted to the site's directory;
//! `DELETE /v1/sites/{id}/sftp-users/{name}`: remove it.

use axum::extract::State;
use axum::routing::{delete, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use berth_domain::ids::SiteId;
use berth_domain::role::Permission;
use berth_domain::sftp::{SftpAccounts, SftpAuth, SftpCommand, SftpName};
use berth_http::extract::{ApiJson, ApiPath};
use berth_http::ApiError;
use serde::Deserialize;

use crate::accepted::Located;
use crate::auth::Caller;
use crate::routes::owned_site;
use crate::{Accepted, AppState, View};

/// The SFTP account routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sites/{id}/sftp-users", post(add))
        .route("/v1/sites/{id}/sftp-users/{name}", delete(remove))
}

/// `POST /v1/sites/{id}/sftp-users` body: a public key or a password, not both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "deploy", "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI... me@laptop"}))]
pub struct AddSftpUser {
    /// The account's name; it logs in as `<name>_<the end of the site's id>` (see the list).
    #[schema(min_length = 1, max_length = 20, pattern = "^[a-z][a-z0-9_-]*$")]
    pub name: String,
    /// An OpenSSH public key line (`ssh-ed25519`, `ssh-rsa` or `ecdsa-sha2-nistp*`).
    #[schema(max_length = 16000)]
    pub public_key: Option<String>,
    /// A password of 12 to 128 characters; it is hashed on the node and kept nowhere else.
    #[schema(min_length = 12, max_length = 128)]
    pub password: Option<String>,
}

/// Add an SFTP account to a site, chrooted to the site's directory.
///
/// The account lands in the site's `public/` and can reach nothing outside the site's
/// directory. The node makes it shortly after; the list shows when it is `ready`.
#[utoipa::path(post, path = "/v1/sites/{id}/sftp-users", operation_id = "add_sftp_user", tag = "sftp",
    request_body = AddSftpUser, params(("id" = uuid::Uuid, Path, description = "The site's id")),
    responses((status = 202, description = "Accepted: the node makes the account", body = Accepted),
              (status = 400, description = "A bad name, key or password", body = berth_http::Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such site", body = berth_http::Problem, content_type = "application/problem+json"),
              (status = 409, description = "An account of that name exists", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn add(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AddSftpUser>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    let name = SftpName::parse(&body.name).map_err(|e| ApiError::field("name", e))?;
    let (auth, writes) = match (body.public_key, body.password) {
        (Some(key), None) => (
            SftpAuth::Key { public_key: public_key(&key).map_err(|e| ApiError::field("public_key", e))? },
            Vec::new(),
        ),
        (None, Some(password)) => {
            let count = password.chars().count();
            if !(12..=128).contains(&count) {
                return Err(ApiError::field("password", "must be 12 to 128 characters"));
            }
            let secret_id = uuid::Uuid::now_v7();
            let sealed =
                state.vault.seal(secret_id, &format!("sftp-password:site:{site_id}"), password.as_bytes());
            (SftpAuth::Password { secret_id }, vec![sealed])
        }
        _ => return Err(ApiError::field("public_key", "give a public_key or a password, not both")),
    };
    owned_site(&state, &caller, site_id).await?;
    let command =
        SftpCommand::Add { site_id, tenant_id: caller.tenant_id, name, auth, now: state.clock.now() };
    let outcome = state
        .store
        .execute_with::<SftpAccounts>(&site_id.to_string(), command, &caller.metadata(), state.retry, &writes)
        .await?;
    Ok(state.links.accepted(site_id.as_uuid(), outcome.version, View::SftpUsers(site_id.as_uuid())))
}

/// Remove an SFTP account from a site.
#[utoipa::path(delete, path = "/v1/sites/{id}/sftp-users/{name}", operation_id = "remove_sftp_user", tag = "sftp",
    params(("id" = uuid::Uuid, Path, description = "The site's id"), ("name" = String, Path, description = "The account's name")),
    responses((status = 202, description = "Accepted: the node deletes the account", body = Accepted),
              (status = 404, description = "No such site or account", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> Result<Located<Accepted>, ApiError> {
    caller.require(Permission::ManageSites)?;
    let site_id: SiteId = crate::routes::parse_id(&id)?;
    let name = SftpName::parse(&name).map_err(|_| ApiError::NotFound)?;
    owned_site(&state, &caller, site_id).await?;
    let outcome = state
        .store
        .execute::<SftpAccounts>(
            &site_id.to_string(),
            SftpCommand::Remove { name },
            &caller.metadata(),
            state.retry,
        )
        .await?;
    Ok(state.links.accepted(site_id.as_uuid(), outcome.version, View::SftpUsers(site_id.as_uuid())))
}

/// Checks an OpenSSH public key line: a known type, its base64 blob naming the same type,
/// an optional comment without control characters. Returns the line as it is kept.
fn public_key(line: &str) -> Result<String, &'static str> {
    let line = line.trim();
    let mut parts = line.splitn(3, ' ');
    let (kind, blob) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let comment = parts.next().unwrap_or("");
    const KINDS: [&str; 5] =
        ["ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"];
    if !KINDS.contains(&kind) {
        return Err(
            "must be an OpenSSH public key: ssh-ed25519, ssh-rsa or ecdsa-sha2-nistp* and its base64",
        );
    }
    let bytes = STANDARD.decode(blob).map_err(|_| "the key's base64 does not decode")?;
    let named = bytes
        .get(..4)
        .and_then(|n| usize::try_from(u32::from_be_bytes(n.try_into().ok()?)).ok())
        .and_then(|n| bytes.get(4..4 + n));
    if named != Some(kind.as_bytes()) || bytes.len() < 4 + kind.len() + 16 {
        return Err("the key's blob is not a key of the type it names");
    }
    if comment.chars().any(char::is_control) {
        return Err("the key's comment must be one line");
    }
    Ok(line.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_are_checked_down_to_their_blob() {
        let good =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop";
        assert!(public_key(good).is_ok());
        assert!(public_key("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
            .is_err());
        assert!(public_key("ssh-ed25519 not-base64!").is_err());
        assert!(public_key("ssh-dss AAAA").is_err());
        assert!(public_key("hello").is_err());
    }
}
