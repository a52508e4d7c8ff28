//! Rebuilding a projection from the start of the log, without interrupting readers.
//!
//! The rebuild fills a fresh schema (`proj_<name>_next`) from position zero while the live
//! schema keeps serving and keeps being updated. Once it has caught up, one transaction takes
//! the projection's lock (pausing the live projector), applies the last few events, renames
//! the fresh schema into place, drops the old one and moves the checkpoint. Readers see the old
//! tables or the new ones, never a half-built state.

use std::time::{Duration, Instant};

use berth_eventstore::checkpoint;
use sqlx::PgPool;

use crate::projection::{checkpoint_name, live_schema, lock_key, Projection};
use crate::runtime::{apply_batch, create_tables, set_search_path, ProjectorSettings};

/// Events per transaction while rebuilding.
pub const DEFAULT_BATCH: i64 = 5000;

/// What a rebuild did.
#[derive(Debug, Clone, Copy)]
pub struct RebuildReport {
    /// Events applied.
    pub events: usize,
    /// Time taken, swap included.
    pub elapsed: Duration,
}

/// Why a rebuild did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Another rebuild of the same projection is running.
    #[error("a rebuild of `{0}` is already running")]
    AlreadyRunning(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<RebuildError> for sqlx::Error {
    fn from(error: RebuildError) -> Self {
        match error {
            RebuildError::Database(e) => e,
            other => sqlx::Error::Protocol(other.to_string()),
        }
    }
}

/// Rebuilds `projection` into fresh tables and swaps them in.
pub async fn rebuild(
    pool: &PgPool,
    projection: &dyn Projection,
    batch_size: i64,
) -> Result<RebuildReport, RebuildError> {
    let name = projection.name();
    let started = Instant::now();
    let live = live_schema(name);
    let next = format!("{live}_next");
    let old = format!("{live}_old");
    let rebuild_checkpoint = format!("{}#rebuild", checkpoint_name(name));

    // One rebuild at a time per projection: a session lock on a connection kept for the run.
    let mut guard = pool.acquire().await?;
    let exclusive: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(lock_key(name).wrapping_add(1))
        .fetch_one(&mut *guard)
        .await?;
    if !exclusive {
        return Err(RebuildError::AlreadyRunning(name.to_owned()));
    }

    let result = async {
        let mut tx = pool.begin().await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{next}\" CASCADE")).execute(&mut *tx).await?;
        create_tables(&mut tx, projection, &next).await?;
        checkpoint::remove(&mut *tx, &rebuild_checkpoint).await?;
        tx.commit().await?;

        // Each transaction bounded in time too, like the live projector's: a rebuild must not
        // hold the feed's horizon back for every other reader while it runs.
        let limits =
            ProjectorSettings { batch_size, batch_max: Duration::from_secs(2), settle: Duration::ZERO };
        let mut events = 0;
        loop {
            let mut tx = pool.begin().await?;
            set_search_path(&mut tx, &next).await?;
            let batch = apply_batch(&mut tx, projection, &rebuild_checkpoint, limits).await?;
            tx.commit().await?;
            events += batch.count;
            if batch.count == 0 {
                break;
            }
        }

        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(name)).execute(&mut *tx).await?;
        set_search_path(&mut tx, &next).await?;
        loop {
            let batch = apply_batch(&mut tx, projection, &rebuild_checkpoint, limits).await?;
            events += batch.count;
            if batch.count == 0 {
                break;
            }
        }
        let position = checkpoint::load(&mut *tx, &rebuild_checkpoint).await?;
        set_search_path(&mut tx, "public").await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{old}\" CASCADE")).execute(&mut *tx).await?;
        let live_exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(&live)
                .fetch_one(&mut *tx)
                .await?;
        if live_exists {
            sqlx::query(&format!("ALTER SCHEMA \"{live}\" RENAME TO \"{old}\"")).execute(&mut *tx).await?;
        }
        sqlx::query(&format!("ALTER SCHEMA \"{next}\" RENAME TO \"{live}\"")).execute(&mut *tx).await?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{old}\" CASCADE")).execute(&mut *tx).await?;
        checkpoint::store(&mut *tx, &checkpoint_name(name), position).await?;
        checkpoint::remove(&mut *tx, &rebuild_checkpoint).await?;
        sqlx::query(
            "INSERT INTO projection_schemas (name, schema_version, rebuilt_at) VALUES ($1, $2, now())
             ON CONFLICT (name) DO UPDATE SET schema_version = EXCLUDED.schema_version, rebuilt_at = now()",
        )
        .bind(name)
        .bind(projection.schema_version())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok::<usize, sqlx::Error>(events)
    }
    .await;

    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(lock_key(name).wrapping_add(1))
        .execute(&mut *guard)
        .await;
    let events = result?;
    let report = RebuildReport { events, elapsed: started.elapsed() };
    tracing::info!(projection = name, events, elapsed = ?report.elapsed, "projection rebuilt");
    Ok(report)
}
