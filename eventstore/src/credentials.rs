//! Credentials and memberships: the secrets and the authorization index that stay out of the
//! log, written in the same transaction as the events that create, re-role or revoke them, so
//! authentication never lags behind the log.
//!
//! Callers build a typed [`CredentialWrite`] and hand it to a command as a side write; the SQL
//! for each is here and nowhere else. Lookups (a bearer token, an account, a membership, an
//! invitation) are here too, so logins read what they need without waiting for a view.

use berth_domain::ids::{InvitationId, OperatorId, TenantId, TokenId, UserId};
use berth_domain::role::Role;
use sqlx::{PgConnection, PgExecutor, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::StoreError;

/// The SHA-256 digest (hex) a bearer token is stored and looked up as.
pub fn token_digest(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A change to credentials or memberships that commits with a command's events.
#[derive(Debug, Clone)]
pub enum CredentialWrite {
    /// A user's second factor confirmed at time step `step`, with its recovery codes' digests.
    TwoFactorOn {
        /// The user.
        user: UserId,
        /// The step of the code that confirmed it.
        step: i64,
        /// SHA-256 digests of the recovery codes.
        recovery_digests: Vec<String>,
    },
    /// A user's second factor, secret and recovery codes removed.
    TwoFactorOff {
        /// The user.
        user: UserId,
    },
    /// Whether a tenant requires a second factor; requiring it ends the sessions of members
    /// without one.
    TwoFactorRequired {
        /// The tenant.
        tenant: TenantId,
        /// Required or not.
        required: bool,
    },
    /// A new user's password (an argon2id PHC string).
    Password {
        /// The user.
        user: UserId,
        /// The PHC string.
        phc: String,
    },
    /// A new API token of a tenant.
    ApiToken {
        /// The token.
        token: TokenId,
        /// The digest of its secret.
        digest: String,
        /// The tenant.
        tenant: TenantId,
        /// Its role.
        role: Role,
        /// When it stops working.
        expires_at: Option<OffsetDateTime>,
    },
    /// An API token revoked.
    RevokeApiToken {
        /// The token.
        token: TokenId,
        /// Its tenant.
        tenant: TenantId,
    },
    /// A new invitation's one-time token.
    Invitation {
        /// The invitation.
        invitation: InvitationId,
        /// The digest of its secret.
        digest: String,
        /// The tenant.
        tenant: TenantId,
        /// The role it grants.
        role: Role,
        /// When it stops working.
        expires_at: OffsetDateTime,
    },
    /// An invitation's token spent or withdrawn.
    RevokeInvitation {
        /// The invitation.
        invitation: InvitationId,
    },
    /// A login session.
    Session {
        /// The session's id.
        id: Uuid,
        /// The digest of its secret.
        digest: String,
        /// The tenant it acts in.
        tenant: TenantId,
        /// The user.
        user: UserId,
        /// The user's role there.
        role: Role,
        /// When it ends.
        expires_at: OffsetDateTime,
    },
    /// A login session ended by its user.
    EndSession {
        /// The session's id.
        id: Uuid,
    },
    /// A platform operator's token.
    Operator {
        /// The operator.
        operator: OperatorId,
        /// The digest of the token.
        digest: String,
    },
    /// `user` is a member of `tenant` with `role` (joined or re-roled); their live sessions
    /// take the role at once.
    Membership {
        /// The tenant.
        tenant: TenantId,
        /// The member.
        user: UserId,
        /// The role.
        role: Role,
    },
    /// `user` is no longer a member of `tenant`; their sessions there end.
    EndMembership {
        /// The tenant.
        tenant: TenantId,
        /// The former member.
        user: UserId,
    },
}

impl CredentialWrite {
    /// Whether the write takes a credential's power away, so that processes caching
    /// credentials must forget them (`credential_cache`).
    fn takes_power_away(&self) -> bool {
        matches!(
            self,
            Self::RevokeApiToken { .. }
                | Self::RevokeInvitation { .. }
                | Self::EndSession { .. }
                | Self::Membership { .. }
                | Self::EndMembership { .. }
                | Self::TwoFactorRequired { required: true, .. }
        )
    }

    /// Applies the write on `conn` (inside the command's transaction).
    pub async fn apply(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        if self.takes_power_away() {
            // Delivered at commit, to every process's cache; not at all if the command fails.
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(crate::credential_cache::CHANNEL)
                .execute(&mut *conn)
                .await?;
        }
        match self {
            Self::TwoFactorOn { user, step, recovery_digests } => {
                crate::two_factor::enable(conn, *user, *step, recovery_digests).await?;
            }
            Self::TwoFactorOff { user } => crate::two_factor::disable(conn, *user).await?,
            Self::TwoFactorRequired { tenant, required } => {
                crate::two_factor::require(conn, *tenant, *required).await?;
            }
            Self::Password { user, phc } => {
                sqlx::query("INSERT INTO credentials (id, kind, secret_hash, user_id) VALUES ($1, 'password', $2, $1)")
                    .bind(user.as_uuid())
                    .bind(phc)
                    .execute(conn)
                    .await?;
            }
            Self::ApiToken { token, digest, tenant, role, expires_at } => {
                insert_token(conn, token.as_uuid(), "api_token", digest, *tenant, None, *role, *expires_at)
                    .await?;
            }
            Self::RevokeApiToken { token, tenant } => {
                sqlx::query(
                    "UPDATE credentials SET revoked_at = now() WHERE id = $1 AND kind = 'api_token' AND tenant_id = $2",
                )
                .bind(token.as_uuid())
                .bind(tenant.as_uuid())
                .execute(conn)
                .await?;
            }
            Self::Invitation { invitation, digest, tenant, role, expires_at } => {
                let id = invitation.as_uuid();
                insert_token(conn, id, "invitation", digest, *tenant, None, *role, Some(*expires_at)).await?;
            }
            Self::RevokeInvitation { invitation } => {
                sqlx::query(
                    "UPDATE credentials SET revoked_at = now() WHERE id = $1 AND kind = 'invitation'",
                )
                .bind(invitation.as_uuid())
                .execute(conn)
                .await?;
            }
            Self::Session { id, digest, tenant, user, role, expires_at } => {
                insert_token(conn, *id, "session", digest, *tenant, Some(*user), *role, Some(*expires_at))
                    .await?;
            }
            Self::EndSession { id } => {
                sqlx::query(
                    "UPDATE credentials SET revoked_at = now() WHERE id = $1 AND kind = 'session' AND revoked_at IS NULL",
                )
                .bind(id)
                .execute(conn)
                .await?;
            }
            Self::Operator { operator, digest } => {
                sqlx::query("INSERT INTO credentials (id, kind, secret_hash, user_id) VALUES ($1, 'operator', $2, $1)")
                    .bind(operator.as_uuid())
                    .bind(digest)
                    .execute(conn)
                    .await?;
            }
            Self::Membership { tenant, user, role } => {
                sqlx::query(
                    "WITH member AS (
                         INSERT INTO memberships (tenant_id, user_id, role) VALUES ($1, $2, $3)
                         ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role)
                     UPDATE credentials SET role = $3 WHERE kind = 'session' AND tenant_id = $1 AND user_id = $2",
                )
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .bind(role.as_str())
                .execute(conn)
                .await?;
            }
            Self::EndMembership { tenant, user } => {
                sqlx::query(
                    "WITH gone AS (DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2)
                     UPDATE credentials SET revoked_at = now()
                      WHERE kind = 'session' AND tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
                )
                .bind(tenant.as_uuid())
                .bind(user.as_uuid())
                .execute(conn)
                .await?;
            }
        }
        Ok(())
    }

    /// Applies a write that needs no event (a login session) on its own.
    pub async fn apply_alone(&self, pool: &PgPool) -> Result<(), StoreError> {
        let mut conn = pool.acquire().await?;
        self.apply(&mut conn).await
    }
}

#[expect(clippy::too_many_arguments, reason = "one row of the credentials table, column by column")]
async fn insert_token(
    conn: &mut PgConnection,
    id: Uuid,
    kind: &str,
    digest: &str,
    tenant: TenantId,
    user: Option<UserId>,
    role: Role,
    expires_at: Option<OffsetDateTime>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO credentials (id, kind, secret_hash, tenant_id, user_id, role, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(kind)
    .bind(digest)
    .bind(tenant.as_uuid())
    .bind(user.map(|u| u.as_uuid()))
    .bind(role.as_str())
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// What kind of bearer credential a principal holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    /// A tenant's API token.
    ApiToken,
    /// A user's login session.
    Session,
    /// A platform operator's token.
    Operator,
}

/// Who a bearer token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The credential's id (the token id for API tokens, a session id for logins).
    pub credential_id: Uuid,
    /// What kind of credential it is.
    pub kind: CredentialKind,
    /// The tenant it acts in (`None` for platform operators).
    pub tenant_id: Option<Uuid>,
    /// The user behind a session or an operator, if any.
    pub user_id: Option<Uuid>,
    /// The role within the tenant.
    pub role: Option<Role>,
}

/// A `credentials` row as authentication reads it: id, kind, tenant, user, role, expiry.
type CredentialRow = (Uuid, String, Option<Uuid>, Option<Uuid>, Option<String>, Option<OffsetDateTime>);

/// Resolves a bearer token's digest to a live principal and when it expires.
pub async fn authenticate<'e>(
    executor: impl PgExecutor<'e>,
    digest: &str,
) -> Result<Option<(Principal, Option<OffsetDateTime>)>, sqlx::Error> {
    let row: Option<CredentialRow> = sqlx::query_as(
        "SELECT id, kind, tenant_id, user_id, role, expires_at FROM credentials
          WHERE secret_hash = $1 AND kind IN ('api_token', 'session', 'operator')
            AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
    )
    .bind(digest)
    .fetch_optional(executor)
    .await?;
    Ok(row.and_then(|(credential_id, kind, tenant_id, user_id, role, expires_at)| {
        let kind = match kind.as_str() {
            "api_token" => CredentialKind::ApiToken,
            "session" => CredentialKind::Session,
            "operator" => CredentialKind::Operator,
            _ => return None,
        };
        let principal = Principal {
            credential_id,
            kind,
            tenant_id,
            user_id,
            role: role.as_deref().and_then(Role::parse),
        };
        Some((principal, expires_at))
    }))
}

/// Whether the credential `id` still works (not revoked, not expired): what the query API's
/// scope checks on every read, asked of the primary when a replica does not know it yet.
pub async fn is_live<'e>(executor: impl PgExecutor<'e>, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM credentials
                         WHERE id = $1 AND kind IN ('api_token', 'session', 'operator')
                           AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()))",
    )
    .bind(id)
    .fetch_one(executor)
    .await
}

/// The user id and password hash behind a canonical email, if the account exists.
pub async fn account(pool: &PgPool, canonical_email: &str) -> Result<Option<(UserId, String)>, sqlx::Error> {
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT c.user_id, c.secret_hash FROM unique_claims u
           JOIN credentials c ON c.kind = 'password' AND u.owner = 'user:' || c.user_id::text
          WHERE u.scope = 'email' AND u.value = $1",
    )
    .bind(canonical_email)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(user, phc)| (UserId::from_uuid(user), phc)))
}

/// The tenant `user` acts in and their role there: `wanted`, or the first tenant they joined.
pub async fn membership(
    pool: &PgPool,
    user: UserId,
    wanted: Option<TenantId>,
) -> Result<Option<(TenantId, Role)>, sqlx::Error> {
    let row: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT tenant_id, role FROM memberships WHERE user_id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)
          ORDER BY joined_at, tenant_id LIMIT 1",
    )
    .bind(user.as_uuid())
    .bind(wanted.map(|t| t.as_uuid()))
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(tenant, role)| Some((TenantId::from_uuid(tenant), Role::parse(&role)?))))
}

/// A live invitation found by its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInvitation {
    /// The invitation.
    pub id: InvitationId,
    /// The tenant it is for.
    pub tenant_id: TenantId,
    /// The role it grants.
    pub role: Role,
}

/// Looks up a live invitation token by its digest.
pub async fn invitation(pool: &PgPool, digest: &str) -> Result<Option<PendingInvitation>, sqlx::Error> {
    let row: Option<(Uuid, Option<Uuid>, Option<String>)> = sqlx::query_as(
        "SELECT id, tenant_id, role FROM credentials WHERE secret_hash = $1 AND kind = 'invitation'
           AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(digest)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(id, tenant, role)| {
        Some(PendingInvitation {
            id: InvitationId::from_uuid(id),
            tenant_id: TenantId::from_uuid(tenant?),
            role: role.as_deref().and_then(Role::parse).unwrap_or(Role::Viewer),
        })
    }))
}
