//! A transaction confined to one tenant by row-level security.

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use berth_http::ApiError;

/// Begins a read-only transaction as `berth_reader` with `berth.tenant_id` set: whatever a
/// query forgets, the policies still only show this tenant's rows.
pub async fn tenant_tx(pool: &PgPool, tenant: Uuid) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION READ ONLY").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL ROLE berth_reader").execute(&mut *tx).await?;
    sqlx::query("SELECT set_config('berth.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Begins a read-only transaction as `berth_reader` with no tenant set: platform views (nodes)
/// are readable, every tenant's rows stay hidden by the policies.
pub async fn operator_tx(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION READ ONLY").execute(&mut *tx).await?;
    sqlx::query("SET LOCAL ROLE berth_reader").execute(&mut *tx).await?;
    Ok(tx)
}

/// Runs `read` until it finds the row at `min_version` or later (read-your-writes). Without
/// `min_version` a missing row is a 404 at once; with it, the view gets up to 5 s to catch up.
pub async fn at_version<T, F, Fut>(
    min_version: Option<i64>,
    version_of: impl Fn(&T) -> i64,
    mut read: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ApiError>>,
{
    if min_version.is_some_and(|v| v < 0) {
        return Err(ApiError::field("min_version", "must be a version, 0 or more"));
    }
    let wanted = min_version.unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match read().await? {
            Some(row) if version_of(&row) >= wanted => return Ok(row),
            None if min_version.is_none() => return Err(ApiError::NotFound),
            _ if Instant::now() > deadline => return Err(ApiError::NotYet(wanted)),
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
}
