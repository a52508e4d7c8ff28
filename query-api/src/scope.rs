//! A transaction confined to one tenant by row-level security.

use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

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
