//! The projector runtime: keeps one projection's live tables in step with the feed.
//!
//! Every batch runs in one transaction that takes the projection's advisory lock, reads the
//! checkpoint, applies the events and moves the checkpoint. Either all of that commits or none
//! of it does, so each event is taken into account exactly once, however often a projector
//! crashes or how many run side by side (the lock lets one write at a time; a rebuild takes the
//! same lock to swap its tables in).
//!
//! A batch is bounded in rows (`batch_size`) and in time (`batch_max`): a slow view commits
//! what it has applied and goes on in the next transaction. Every open writing transaction
//! holds back the feed's horizon for every reader on the server, so none may stay open long;
//! a projector that stops inside one (hung, SIGSTOPped) loses its session to PostgreSQL's
//! `idle_in_transaction_session_timeout`, which the binary sets on every connection.

use std::time::{Duration, Instant};

use berth_eventstore::feed::{self, FeedNotifier};
use berth_eventstore::recorded::Recorded;
use berth_eventstore::{checkpoint, shutdown::pause};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::projection::{checkpoint_name, live_schema, lock_key, Projection};
use crate::rebuild;

/// Projector tuning.
#[derive(Debug, Clone, Copy)]
pub struct ProjectorSettings {
    /// Events read per transaction.
    pub batch_size: i64,
    /// Time a transaction may spend applying before it commits what it has applied.
    pub batch_max: Duration,
}

impl Default for ProjectorSettings {
    fn default() -> Self {
        Self { batch_size: 500, batch_max: Duration::from_secs(1) }
    }
}

/// Runs `projection` until `shutdown`, installing or rebuilding its tables first if needed.
pub async fn run(
    pool: PgPool,
    projection: Box<dyn Projection>,
    mut notifier: FeedNotifier,
    settings: ProjectorSettings,
    shutdown: CancellationToken,
) {
    let name = projection.name();
    while !shutdown.is_cancelled() {
        match install(&pool, projection.as_ref()).await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(%error, projection = name, "cannot install projection; retrying");
                pause(&shutdown, Duration::from_secs(1)).await;
            }
        }
    }
    while !shutdown.is_cancelled() {
        match bounded_step(&pool, projection.as_ref(), settings).await {
            // A full batch, or one cut short by its time bound: more is waiting.
            Ok((Step::Applied(n), cut)) if cut || n as i64 >= settings.batch_size => {}
            Ok((Step::Applied(_), _)) => notifier.wait(&shutdown).await,
            Ok((Step::Busy, _)) => pause(&shutdown, Duration::from_millis(200)).await,
            Err(error) => {
                tracing::warn!(%error, projection = name, "projection batch failed; retrying");
                pause(&shutdown, Duration::from_secs(1)).await;
            }
        }
    }
}

/// The result of one projector step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// This many events were applied (0 when caught up).
    Applied(usize),
    /// Another process holds the projection's lock.
    Busy,
}

/// Applies the next batch (up to `batch_size` events) to the live tables.
pub async fn step(pool: &PgPool, projection: &dyn Projection, batch_size: i64) -> Result<Step, sqlx::Error> {
    let settings = ProjectorSettings { batch_size, ..ProjectorSettings::default() };
    Ok(bounded_step(pool, projection, settings).await?.0)
}

/// Like [`step`], bounded in rows and time by `settings`; also says whether the time bound cut
/// the batch short.
async fn bounded_step(
    pool: &PgPool,
    projection: &dyn Projection,
    settings: ProjectorSettings,
) -> Result<(Step, bool), sqlx::Error> {
    let name = projection.name();
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(lock_key(name))
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        tx.rollback().await?;
        return Ok((Step::Busy, false));
    }
    let applied =
        apply_batch(&mut tx, projection, &live_schema(name), &checkpoint_name(name), settings).await?;
    tx.commit().await?;
    metrics::counter!("berth_projection_events_total", "projection" => name).increment(applied.count as u64);
    Ok((Step::Applied(applied.count), applied.cut))
}

/// What one batch did.
pub(crate) struct Batch {
    /// Events applied.
    pub count: usize,
    /// Whether the time bound stopped it before every event read was applied.
    pub cut: bool,
}

/// Reads up to `limits.batch_size` events after checkpoint `checkpoint` and applies them to the
/// tables in `schema`, in slices, until they are done or `limits.batch_max` has passed; moves
/// the checkpoint to the last one applied. All on `conn` (the caller owns the transaction).
pub(crate) async fn apply_batch(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    schema: &str,
    checkpoint: &str,
    limits: ProjectorSettings,
) -> Result<Batch, sqlx::Error> {
    set_search_path(conn, schema).await?;
    let position = checkpoint::load(&mut *conn, checkpoint).await?;
    let raw = feed::read_after(&mut *conn, position, limits.batch_size).await?;
    if raw.is_empty() {
        return Ok(Batch { count: 0, cut: false });
    }
    let started = Instant::now();
    // Slices large enough that views which write a batch in one statement still do, small
    // enough that the time bound is checked a few times per batch.
    let slice = (raw.len() / 4).max(50);
    let mut count = 0;
    for chunk in raw.chunks(slice) {
        let events = Recorded::decode_all(chunk, projection.name());
        projection.apply_all(&mut *conn, &events).await?;
        count += chunk.len();
        if started.elapsed() >= limits.batch_max {
            break;
        }
    }
    checkpoint::store(&mut *conn, checkpoint, raw[count - 1].position()).await?;
    tracing::debug!(projection = projection.name(), events = count, elapsed = ?started.elapsed(), "batch applied");
    Ok(Batch { count, cut: count < raw.len() })
}

/// Points unqualified table names at `schema` for the rest of the transaction.
pub(crate) async fn set_search_path(conn: &mut PgConnection, schema: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('search_path', $1, true)")
        .bind(format!("\"{schema}\", public"))
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates the projection's schema and tables if it has none; rebuilds it if its layout
/// version changed.
pub async fn install(pool: &PgPool, projection: &dyn Projection) -> Result<(), sqlx::Error> {
    let name = projection.name();
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(lock_key(name)).execute(&mut *tx).await?;
    let installed: Option<i32> =
        sqlx::query_scalar("SELECT schema_version FROM projection_schemas WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
    match installed {
        Some(version) if version == projection.schema_version() => tx.commit().await,
        Some(version) => {
            tx.rollback().await?;
            tracing::info!(
                projection = name,
                from = version,
                to = projection.schema_version(),
                "layout changed; rebuilding"
            );
            rebuild::rebuild(pool, projection, rebuild::DEFAULT_BATCH)
                .await
                .map(|_| ())
                .map_err(sqlx::Error::from)
        }
        None => {
            let schema = live_schema(name);
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).execute(&mut *tx).await?;
            create_tables(&mut tx, projection, &schema).await?;
            checkpoint::remove(&mut *tx, &checkpoint_name(name)).await?;
            sqlx::query("INSERT INTO projection_schemas (name, schema_version) VALUES ($1, $2)")
                .bind(name)
                .bind(projection.schema_version())
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        }
    }
}

/// Creates `schema` and the projection's tables in it.
pub(crate) async fn create_tables(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    schema: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\"")).execute(&mut *conn).await?;
    set_search_path(conn, schema).await?;
    for statement in projection.ddl() {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    secure_tables(conn, schema).await
}

/// Lets the query API's role read the schema, and confines it to one tenant's rows: every
/// table with a `tenant_id` column only shows rows of the tenant in `berth.tenant_id`.
async fn secure_tables(conn: &mut PgConnection, schema: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("GRANT USAGE ON SCHEMA \"{schema}\" TO berth_reader")).execute(&mut *conn).await?;
    sqlx::query(&format!("GRANT SELECT ON ALL TABLES IN SCHEMA \"{schema}\" TO berth_reader"))
        .execute(&mut *conn)
        .await?;
    let tenant_tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns WHERE table_schema = $1 AND column_name = 'tenant_id'",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await?;
    for table in tenant_tables {
        let qualified = format!("\"{schema}\".\"{table}\"");
        sqlx::query(&format!("ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY"))
            .execute(&mut *conn)
            .await?;
        sqlx::query(&format!(
            "CREATE POLICY tenant_isolation ON {qualified} FOR SELECT TO berth_reader
             USING (tenant_id = NULLIF(current_setting('berth.tenant_id', true), '')::uuid)"
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
