//! Second factors outside the log: the TOTP secret (sealed in the vault), the last time step a
//! code was accepted for, the recovery codes' digests, and which tenants require a second
//! factor. Enabling and disabling are written by [`CredentialWrite`](crate::credentials)
//! side writes in the same transaction as their events; the rest is written here.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use berth_domain::ids::{TenantId, UserId};

use crate::error::StoreError;
use crate::vault::SealedSecret;

/// A user's second factor as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoFactor {
    /// Where the secret is sealed.
    pub secret_id: Uuid,
    /// Whether the enrolment was confirmed (logins need a code).
    pub enabled: bool,
    /// The last time step a code was accepted for.
    pub last_step: i64,
}

/// The user's second factor, if they started or finished an enrolment.
pub async fn state(pool: &PgPool, user: UserId) -> Result<Option<TwoFactor>, sqlx::Error> {
    let row: Option<(Uuid, bool, i64)> = sqlx::query_as(
        "SELECT secret_id, enabled_at IS NOT NULL, last_step FROM two_factor WHERE user_id = $1",
    )
    .bind(user.as_uuid())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(secret_id, enabled, last_step)| TwoFactor { secret_id, enabled, last_step }))
}

/// Starts (or restarts) an enrolment with a newly sealed secret. `false` when a confirmed
/// second factor is in place: it must be disabled first.
pub async fn begin(pool: &PgPool, user: UserId, secret: &SealedSecret) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let previous: Option<(Uuid, bool)> = sqlx::query_as(
        "SELECT secret_id, enabled_at IS NOT NULL FROM two_factor WHERE user_id = $1 FOR UPDATE",
    )
    .bind(user.as_uuid())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((old, enabled)) = previous {
        if enabled {
            return Ok(false);
        }
        sqlx::query("DELETE FROM sealed_secrets WHERE id = $1").bind(old).execute(&mut *tx).await?;
    }
    secret.store(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO two_factor (user_id, secret_id) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET secret_id = EXCLUDED.secret_id, last_step = 0",
    )
    .bind(user.as_uuid())
    .bind(secret.id())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Takes `step` as used: `false` when a code of that step or a later one was accepted already
/// (a replayed code).
pub async fn take_step(pool: &PgPool, user: UserId, step: i64) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query("UPDATE two_factor SET last_step = $2 WHERE user_id = $1 AND last_step < $2")
        .bind(user.as_uuid())
        .bind(step)
        .execute(pool)
        .await?;
    Ok(taken.rows_affected() == 1)
}

/// Uses a recovery code once: the codes left, or `None` when it is unknown or used.
pub async fn use_recovery_code(pool: &PgPool, user: UserId, digest: &str) -> Result<Option<u8>, sqlx::Error> {
    let left: Option<(i64,)> = sqlx::query_as(
        "WITH used AS (
             UPDATE recovery_codes SET used_at = now()
              WHERE user_id = $1 AND digest = $2 AND used_at IS NULL RETURNING 1)
         SELECT (SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL) - 1
          WHERE EXISTS (SELECT 1 FROM used)",
    )
    .bind(user.as_uuid())
    .bind(digest)
    .fetch_optional(pool)
    .await?;
    Ok(left.map(|(n,)| u8::try_from(n.max(0)).unwrap_or(u8::MAX)))
}

/// Whether `tenant` requires its members to log in with a second factor.
pub async fn required(pool: &PgPool, tenant: TenantId) -> Result<bool, sqlx::Error> {
    let row: Option<(bool,)> =
        sqlx::query_as("SELECT two_factor_required FROM tenant_security WHERE tenant_id = $1")
            .bind(tenant.as_uuid())
            .fetch_optional(pool)
            .await?;
    Ok(row.is_some_and(|(required,)| required))
}

/// Confirms the user's enrolment with its recovery codes' digests (inside the command's
/// transaction).
pub(crate) async fn enable(
    conn: &mut PgConnection,
    user: UserId,
    step: i64,
    recovery_digests: &[String],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH codes AS (
             INSERT INTO recovery_codes (user_id, digest) SELECT $1, unnest($3::text[]))
         UPDATE two_factor SET enabled_at = now(), last_step = $2 WHERE user_id = $1",
    )
    .bind(user.as_uuid())
    .bind(step)
    .bind(recovery_digests)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the user's second factor, its secret and its recovery codes.
pub(crate) async fn disable(conn: &mut PgConnection, user: UserId) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH gone AS (DELETE FROM two_factor WHERE user_id = $1 RETURNING secret_id),
              secret AS (DELETE FROM sealed_secrets WHERE id IN (SELECT secret_id FROM gone)),
              codes AS (DELETE FROM recovery_codes WHERE user_id = $1)
         SELECT 1",
    )
    .bind(user.as_uuid())
    .execute(conn)
    .await?;
    Ok(())
}

/// Sets the tenant's requirement; once required, the sessions of members without a confirmed
/// second factor end (inside the command's transaction).
pub(crate) async fn require(
    conn: &mut PgConnection,
    tenant: TenantId,
    required: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH setting AS (
             INSERT INTO tenant_security (tenant_id, two_factor_required) VALUES ($1, $2)
             ON CONFLICT (tenant_id) DO UPDATE SET two_factor_required = EXCLUDED.two_factor_required)
         UPDATE credentials c SET revoked_at = now()
          WHERE $2 AND c.kind = 'session' AND c.tenant_id = $1 AND c.revoked_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = c.user_id AND t.enabled_at IS NOT NULL)",
    )
    .bind(tenant.as_uuid())
    .bind(required)
    .execute(conn)
    .await?;
    Ok(())
}
