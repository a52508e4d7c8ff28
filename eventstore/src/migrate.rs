//! The SQL migrations in `migrations/`, embedded in the binary.

use sqlx::migrate::Migrator;
use sqlx::PgPool;

/// Every migration Berth knows, in order.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// Applies the pending migrations, then chains any event written before hashes existed.
pub async fn run(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await?;
    let healed =
        crate::chain::backfill(pool).await.map_err(|e| sqlx::migrate::MigrateError::Source(Box::new(e)))?;
    if healed > 0 {
        tracing::info!(events = healed, "events written before the chain are chained");
    }
    Ok(())
}

/// Whether every embedded migration has been applied (for `/readyz`).
pub async fn all_applied(pool: &PgPool) -> Result<bool, sqlx::Error> {
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(pool)
        .await
        .or_else(|error| match &error {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => Ok(Vec::new()),
            _ => Err(error),
        })?;
    Ok(MIGRATOR.iter().all(|m| applied.iter().any(|(v,)| *v == m.version)))
}
