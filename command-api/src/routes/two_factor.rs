//! Two-factor login (TOTP). Enrolling, confirming and disabling are proven with the account's
//! email and password (and a code to confirm or disable), not with a session, so a member of
//! an organization that requires a second factor can enrol before they can log in.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::routing::{post, put};
use axum::{Json, Router};
use berth_domain::email::Email;
use berth_domain::error::RefusalKind;
use berth_domain::ids::UserId;
use berth_domain::organization::OrganizationCommand;
use berth_domain::role::Role;
use berth_domain::security::{AccountSecurity, SecondFactor, SecurityCommand};
use berth_eventstore::credentials::{CredentialKind, CredentialWrite};
use berth_eventstore::metadata::CommandMetadata;
use berth_eventstore::two_factor;
use berth_http::conditional::Precondition;
use berth_http::extract::ApiJson;
use berth_http::ApiError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::auth::{check_account, code_step, second_factor, Attempt};
use crate::accepted::Located;
use crate::auth::{Anonymous, Caller};
use crate::{security, totp, Accepted, AppState, View};

/// The two-factor routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/two-factor/enrol", post(enrol))
        .route("/v1/auth/two-factor/confirm", post(confirm))
        .route("/v1/auth/two-factor/disable", post(disable))
        .route("/v1/tenant/two-factor", put(require))
}

/// `POST /v1/auth/two-factor/enrol` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrol {
    /// The account's email.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// Its password.
    #[schema(format = Password)]
    pub password: String,
}

/// A new enrolment: what an authenticator app needs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrolment {
    /// The `otpauth://totp/…` URI, for a QR code.
    pub otpauth_uri: String,
    /// The secret in base32, to type in by hand.
    pub secret: String,
    /// Digits per code.
    pub digits: u8,
    /// Seconds per code.
    pub period: u64,
}

/// `POST /v1/auth/two-factor/confirm` and `…/disable` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithCode {
    /// The account's email.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// Its password.
    #[schema(format = Password)]
    pub password: String,
    /// The authenticator's current code (to disable, a recovery code also works).
    #[schema(max_length = 64)]
    pub code: String,
}

/// A confirmed enrolment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Confirmed {
    /// Ten single-use recovery codes. Store them now: they are not shown again.
    pub recovery_codes: Vec<String>,
    /// The account's security stream version after the change.
    pub version: i64,
}

/// A disabled second factor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Disabled {
    /// The account's security stream version after the change.
    pub version: i64,
}

/// `PUT /v1/tenant/two-factor` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Whether every member must log in with a second factor.
    pub required: bool,
}

fn refused(code: &'static str, detail: &str) -> ApiError {
    ApiError::Refused { code, kind: RefusalKind::Conflict, detail: detail.to_owned(), field: None }
}

/// The account behind `email` and `password`, within the login rate limits.
async fn sign_in(
    state: &AppState,
    client: SocketAddr,
    headers: &HeaderMap,
    anonymous: &Anonymous,
    email: &str,
    password: &str,
) -> Result<(Attempt, UserId, Email), ApiError> {
    let email = Email::parse(email).map_err(|e| ApiError::field("email", e))?;
    super::auth::limit(state, client, &email.canonical())?;
    let attempt =
        Attempt { origin: security::origin(client, headers), request_id: anonymous.request_id.clone() };
    let user = check_account(state, &email, password, &attempt).await?;
    Ok((attempt, user, email))
}

/// Runs `command` on the account's security stream with `write` in the same transaction.
async fn change(
    state: &AppState,
    anonymous: &Anonymous,
    user: UserId,
    command: SecurityCommand,
    write: CredentialWrite,
) -> Result<i64, ApiError> {
    let meta: CommandMetadata = anonymous.metadata(None, format!("user:{user}"));
    let stream = user.to_string();
    let outcome = state
        .store
        .execute_with::<AccountSecurity>(&stream, command, &meta, state.retry, &[write.into()])
        .await?;
    Ok(outcome.version)
}

/// Start two-factor enrolment: a new secret, not in force until a code from it is confirmed.
#[utoipa::path(post, path = "/v1/auth/two-factor/enrol", operation_id = "enrol_two_factor", tag = "auth", request_body = Enrol,
    responses((status = 200, description = "The secret to add to an authenticator", body = Enrolment),
        (status = 401, description = "Wrong email or password", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Two-factor login is on already", body = berth_http::Problem, content_type = "application/problem+json")))]
async fn enrol(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    anonymous: Anonymous,
    ApiJson(body): ApiJson<Enrol>,
) -> Result<Json<Enrolment>, ApiError> {
    let (_, user, email) = sign_in(&state, client, &headers, &anonymous, &body.email, &body.password).await?;
    let secret = totp::new_secret();
    let generator = totp::generator(secret.clone(), &state.totp_issuer, &email.to_string())
        .map_err(ApiError::Internal)?;
    let sealed = state.vault.sealed(Uuid::now_v7(), "totp", &secret);
    if !two_factor::begin(&state.pool, user, &sealed).await? {
        return Err(refused("two-factor-enabled", "two-factor login is on already: disable it first"));
    }
    Ok(Json(Enrolment {
        otpauth_uri: generator.get_url(),
        secret: generator.get_secret_base32(),
        digits: 6,
        period: totp::STEP_SECS,
    }))
}

/// Confirm two-factor enrolment with a code from the new secret.
///
/// Two-factor login is on from now; the answer holds the recovery codes, shown only here.
#[utoipa::path(post, path = "/v1/auth/two-factor/confirm", operation_id = "confirm_two_factor", tag = "auth", request_body = WithCode,
    responses((status = 200, description = "On; the recovery codes are shown once", body = Confirmed),
        (status = 401, description = "Wrong email, password or code", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No enrolment waiting, or on already", body = berth_http::Problem, content_type = "application/problem+json")))]
async fn confirm(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    anonymous: Anonymous,
    ApiJson(body): ApiJson<WithCode>,
) -> Result<Json<Confirmed>, ApiError> {
    let (attempt, user, _) =
        sign_in(&state, client, &headers, &anonymous, &body.email, &body.password).await?;
    let pending = match two_factor::state(&state.pool, user).await? {
        Some(stored) if stored.enabled => {
            return Err(refused("two-factor-enabled", "two-factor login is on already"));
        }
        Some(stored) => stored,
        None => {
            return Err(refused(
                "two-factor-not-enrolled",
                "no enrolment is waiting: start one with /v1/auth/two-factor/enrol",
            ));
        }
    };
    let code = body.code.trim();
    let step =
        if totp::looks_like_totp(code) { code_step(&state, pending.secret_id, code).await? } else { None };
    let Some(step) = step else {
        return Err(attempt.refuse(&state, user, super::auth::Refusal::CodeWrong).await);
    };
    let codes = totp::new_recovery_codes();
    let digests = codes.iter().map(|c| totp::recovery_digest(user, c)).collect();
    let write = CredentialWrite::TwoFactorOn { user, step, recovery_digests: digests };
    let command = SecurityCommand::EnableTwoFactor {
        user_id: user,
        recovery_codes: totp::RECOVERY_CODES,
        origin: attempt.origin,
    };
    let version = change(&state, &anonymous, user, command, write).await?;
    Ok(Json(Confirmed { recovery_codes: codes, version }))
}

/// Turn two-factor login off, with a current code or a recovery code.
#[utoipa::path(post, path = "/v1/auth/two-factor/disable", operation_id = "disable_two_factor", tag = "auth", request_body = WithCode,
    responses((status = 200, description = "Off", body = Disabled),
        (status = 401, description = "Wrong email, password or code", body = berth_http::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Two-factor login is off", body = berth_http::Problem, content_type = "application/problem+json")))]
async fn disable(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    anonymous: Anonymous,
    ApiJson(body): ApiJson<WithCode>,
) -> Result<Json<Disabled>, ApiError> {
    let (attempt, user, _) =
        sign_in(&state, client, &headers, &anonymous, &body.email, &body.password).await?;
    let factor = second_factor(&state, user, Some(&body.code), &attempt).await?;
    if factor == SecondFactor::None {
        return Err(refused("two-factor-not-enabled", "two-factor login is not on"));
    }
    let command = SecurityCommand::DisableTwoFactor { user_id: user, factor, origin: attempt.origin };
    let write = CredentialWrite::TwoFactorOff { user };
    let version = change(&state, &anonymous, user, command, write).await?;
    Ok(Json(Disabled { version }))
}

/// Require (or stop requiring) two-factor login of every member; owners only.
///
/// Once required, members without a second factor are logged out and cannot log in until they
/// enrol.
///
/// `If-Match` is the tenant's ETag (`GET /v1/tenant`).
#[utoipa::path(put, path = "/v1/tenant/two-factor", operation_id = "require_two_factor", tag = "tenant", request_body = Requirement,
    responses((status = 202, description = "Accepted", body = Accepted),
        (status = 409, description = "The owner's own login has no second factor", body = berth_http::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
async fn require(
    State(state): State<AppState>,
    caller: Caller,
    precondition: Precondition,
    ApiJson(body): ApiJson<Requirement>,
) -> Result<Located<Accepted>, ApiError> {
    if caller.role != Role::Owner {
        return Err(ApiError::Forbidden(format!("the {} role may not do this", caller.role.as_str())));
    }
    if body.required && caller.principal.kind == CredentialKind::Session {
        let user = caller.principal.user_id.map(UserId::from_uuid);
        let on = match user {
            Some(user) => two_factor::state(&state.pool, user).await?.is_some_and(|t| t.enabled),
            None => false,
        };
        if !on {
            return Err(refused(
                "two-factor-not-enabled",
                "turn two-factor login on for your own account first, or you would be logged out",
            ));
        }
    }
    let expected = precondition.expected(state.require_if_match)?;
    let write = CredentialWrite::TwoFactorRequired { tenant: caller.tenant_id, required: body.required };
    let command = OrganizationCommand::RequireTwoFactor { required: body.required, by_role: caller.role };
    let outcome = super::run_org(&state, &caller, command, &[write.into()], expected).await?;
    Ok(state.links.accepted(caller.tenant_id.as_uuid(), outcome.version, View::Tenant))
}
