//! The identity view: tenants, their members, invitations and API tokens; and the bearer
//! check both APIs authenticate with (against the `credentials` table, which is written in the
//! same transaction as the events, so a token works the moment its command returns).

use berth_domain::event::Event;
use berth_domain::organization::OrganizationEvent;
pub use berth_eventstore::credential_cache::CredentialCache;
pub use berth_eventstore::credentials::{is_live, token_digest, CredentialKind, Principal};
use berth_eventstore::recorded::Recorded;
use sqlx::{PgConnection, PgPool};

use crate::projection::{ApplyFuture, Projection};

/// The identity view.
pub struct IdentityView;

impl Projection for IdentityView {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&["organization"])
    }

    fn schema_version(&self) -> i32 {
        // 2: whether the tenant requires a second factor.
        2
    }

    fn ddl(&self) -> &'static [&'static str] {
        &[
            "CREATE TABLE tenants (
                tenant_id  uuid PRIMARY KEY,
                name       text NOT NULL,
                version    bigint NOT NULL,
                created_at timestamptz NOT NULL,
                two_factor_required boolean NOT NULL DEFAULT false
            )",
            "CREATE TABLE members (
                tenant_id uuid NOT NULL,
                user_id   uuid NOT NULL,
                email     text NOT NULL,
                role      text NOT NULL,
                joined_at timestamptz NOT NULL,
                PRIMARY KEY (tenant_id, user_id)
            )",
            "CREATE TABLE invitations (
                invitation_id uuid PRIMARY KEY,
                tenant_id     uuid NOT NULL,
                email         text NOT NULL,
                role          text NOT NULL,
                status        text NOT NULL,
                expires_at    timestamptz NOT NULL,
                created_at    timestamptz NOT NULL
            )",
            "CREATE INDEX invitations_tenant_idx ON invitations (tenant_id, invitation_id)",
            "CREATE TABLE tokens (
                token_id   uuid PRIMARY KEY,
                tenant_id  uuid NOT NULL,
                name       text NOT NULL,
                role       text NOT NULL,
                expires_at timestamptz,
                revoked_at timestamptz,
                created_at timestamptz NOT NULL
            )",
            "CREATE INDEX tokens_tenant_idx ON tokens (tenant_id, token_id)",
        ]
    }

    fn apply<'a>(&'a self, conn: &'a mut PgConnection, event: &'a Recorded) -> ApplyFuture<'a> {
        Box::pin(async move {
            let Event::Organization(org_event) = event.event.clone() else {
                return Ok(());
            };
            let tenant = event.tenant_id;
            let at = event.recorded_at;
            use OrganizationEvent as E;
            let query = match org_event {
                E::Registered { tenant_id, name, owner, owner_email } => {
                    sqlx::query(
                        "INSERT INTO tenants (tenant_id, name, version, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(tenant_id.as_uuid())
                    .bind(name.as_str())
                    .bind(event.sequence)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                    sqlx::query("INSERT INTO members VALUES ($1, $2, $3, 'owner', $4) ON CONFLICT DO NOTHING")
                        .bind(tenant_id.as_uuid())
                        .bind(owner.as_uuid())
                        .bind(owner_email.to_string())
                        .bind(at)
                }
                E::MemberInvited { invitation_id, email, role, expires_at } => sqlx::query(
                    "INSERT INTO invitations VALUES ($1, $2, $3, $4, 'pending', $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(invitation_id.as_uuid())
                .bind(tenant)
                .bind(email.to_string())
                .bind(role.as_str())
                .bind(expires_at)
                .bind(at),
                E::InvitationAccepted { invitation_id, user_id, email, role } => {
                    sqlx::query("UPDATE invitations SET status = 'accepted' WHERE invitation_id = $1")
                        .bind(invitation_id.as_uuid())
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("INSERT INTO members VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING")
                        .bind(tenant)
                        .bind(user_id.as_uuid())
                        .bind(email.to_string())
                        .bind(role.as_str())
                        .bind(at)
                }
                E::InvitationRevoked { invitation_id } => {
                    sqlx::query("UPDATE invitations SET status = 'revoked' WHERE invitation_id = $1")
                        .bind(invitation_id.as_uuid())
                }
                E::InvitationExpired { invitation_id } => {
                    sqlx::query("UPDATE invitations SET status = 'expired' WHERE invitation_id = $1")
                        .bind(invitation_id.as_uuid())
                }
                E::MemberRoleChanged { user_id, role } => {
                    sqlx::query("UPDATE members SET role = $3 WHERE tenant_id = $1 AND user_id = $2")
                        .bind(tenant)
                        .bind(user_id.as_uuid())
                        .bind(role.as_str())
                }
                E::MemberRemoved { user_id } => sqlx::query("DELETE FROM members WHERE tenant_id = $1 AND user_id = $2")
                    .bind(tenant)
                    .bind(user_id.as_uuid()),
                E::TokenIssued { token_id, name, role, expires_at } => sqlx::query(
                    "INSERT INTO tokens VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT DO NOTHING",
                )
                .bind(token_id.as_uuid())
                .bind(tenant)
                .bind(String::from(name))
                .bind(role.as_str())
                .bind(expires_at)
                .bind(at),
                E::TokenRevoked { token_id } => {
                    sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE token_id = $1").bind(token_id.as_uuid()).bind(at)
                }
                E::TwoFactorRequirementChanged { required } => {
                    sqlx::query("UPDATE tenants SET two_factor_required = $2 WHERE tenant_id = $1")
                        .bind(tenant)
                        .bind(required)
                }
            };
            query.execute(&mut *conn).await?;
            sqlx::query("UPDATE tenants SET version = $2 WHERE tenant_id = $1 AND version < $2")
                .bind(tenant)
                .bind(event.sequence)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }
}

/// Why a request's bearer token does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    /// No `Authorization` header.
    #[error("missing Authorization: Bearer token")]
    Missing,
    /// Not of the form `Bearer <token>`.
    #[error("the Authorization header must be `Bearer <token>`")]
    Malformed,
    /// Unknown, revoked or expired.
    #[error("the token is unknown, revoked or expired")]
    Unknown,
    /// The lookup failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Authenticates an `Authorization` header value (`Bearer <token>`), through `cache`.
pub async fn authenticate_bearer(
    pool: &PgPool,
    cache: &CredentialCache,
    header: Option<&[u8]>,
) -> Result<Principal, BearerError> {
    let header = header.ok_or(BearerError::Missing)?;
    let token = std::str::from_utf8(header)
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(BearerError::Malformed)?;
    let started = std::time::Instant::now();
    let principal = cache.authenticate(pool, &token_digest(token)).await;
    metrics::histogram!("berth_auth_seconds").record(started.elapsed().as_secs_f64());
    principal?.ok_or(BearerError::Unknown)
}

/// The e-mail addresses of a tenant's owners, longest-standing first: who is told about the
/// tenant's account and sites.
pub async fn owner_emails(pool: &PgPool, tenant_id: uuid::Uuid) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT email FROM proj_identity.members WHERE tenant_id = $1 AND role = 'owner' ORDER BY joined_at, email",
    )
    .bind(tenant_id)
    .fetch_all(pool)
    .await
}
