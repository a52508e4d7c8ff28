//! The projector runtime: keeps one projection's live tables in step with the feed.
//!
//! Every batch runs in one transaction that takes the projection's advisory lock, reads the
//! events after the checkpoint, applies them and moves the checkpoint (for a view built inside
//! the database, all of that is one statement). Either all of that commits or none
//! of it does, so each event is taken into account exactly once, however often a projector
//! crashes or how many run side by side (the lock lets one write at a time; a rebuild takes the
//! same lock to swap its tables in).
//!
//! A batch is bounded in rows (`batch_size`, rounded up to the end of a commit: a view never
//! shows part of a command's events) and in time: a view applied in Rust stops after
//! `batch_max` and commits what it has applied, going on in the next transaction; a view
//! built inside the database is one statement, bounded by `statement_timeout`. Every open
//! writing transaction holds back the feed's horizon for every reader on the server, so none
//! may stay open long; a projector that stops inside one (hung, SIGSTOPped) loses its session
//! to PostgreSQL's `idle_in_transaction_session_timeout`, which the binary sets on every
//! connection.

use std::time::{Duration, Instant};

use berth_eventstore::feed::{self, FeedNotifier};
use berth_eventstore::recorded::Recorded;
use berth_eventstore::{checkpoint, shutdown::pause};
use sqlx::{Connection as _, PgConnection, PgPool};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::projection::{checkpoint_name, live_schema, lock_key, Projection};
use crate::{rebuild, scan};

/// Projector tuning.
#[derive(Debug, Clone, Copy)]
pub struct ProjectorSettings {
    /// Events read per batch.
    pub batch_size: i64,
    /// Time a transaction may spend applying before it commits what it has applied.
    pub batch_max: Duration,
    /// How long a caught-up projector lets new commits gather after it is woken, before it
    /// reads them: under a burst of small commits every view reads once per interval instead
    /// of once per commit (each wake-up is a scan of the feed by every view).
    pub settle: Duration,
}

impl Default for ProjectorSettings {
    fn default() -> Self {
        Self { batch_size: 500, batch_max: Duration::from_secs(1), settle: Duration::ZERO }
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
    // A connection of its own, which always names the same tables: its statements stay
    // prepared and planned instead of being analysed again for another projection's schema.
    let mut connection: Option<PgConnection> = None;
    while !shutdown.is_cancelled() {
        let conn = match connection.as_mut() {
            Some(conn) => conn,
            None => match connect(&pool, projection.as_ref()).await {
                Ok(conn) => connection.insert(conn),
                Err(error) => {
                    tracing::warn!(%error, projection = name, "cannot connect for the projection; retrying");
                    pause(&shutdown, Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        match bounded_step(conn, projection.as_ref(), settings).await {
            // A full batch, or one cut short by its time bound: more is waiting.
            Ok((Step::Applied(n), cut)) if cut || n as i64 >= settings.batch_size => {}
            Ok((Step::Applied(_), _)) => {
                notifier.wait_for(projection.aggregate_types(), &shutdown).await;
                if !settings.settle.is_zero() {
                    pause(&shutdown, settings.settle).await;
                }
            }
            Ok((Step::Busy, _)) => pause(&shutdown, Duration::from_millis(200)).await,
            Err(error) => {
                tracing::warn!(%error, projection = name, "projection batch failed; retrying");
                // Whatever state the connection is in, a new one starts clean.
                connection = None;
                pause(&shutdown, Duration::from_secs(1)).await;
            }
        }
    }
}

/// A connection for `projection`'s live tables: outside the pool, its unqualified table names
/// resolve to the projection's schema for as long as it lives.
pub async fn connect(pool: &PgPool, projection: &dyn Projection) -> Result<PgConnection, sqlx::Error> {
    let mut conn = PgConnection::connect_with(&pool.connect_options()).await?;
    sqlx::query("SELECT set_config('search_path', $1, false)")
        .bind(format!("\"{}\", public", live_schema(projection.name())))
        .execute(&mut conn)
        .await?;
    Ok(conn)
}

/// The result of one projector step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// This many events were applied (0 when caught up).
    Applied(usize),
    /// Another process holds the projection's lock.
    Busy,
}

/// Applies the next batch (up to `batch_size` events) to the live tables on `conn` (made by
/// [`connect`]).
pub async fn step(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    batch_size: i64,
) -> Result<Step, sqlx::Error> {
    let settings = ProjectorSettings { batch_size, ..ProjectorSettings::default() };
    Ok(bounded_step(conn, projection, settings).await?.0)
}

/// Like [`step`], bounded in rows and time by `settings`; also says whether the time bound cut
/// the batch short.
async fn bounded_step(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    settings: ProjectorSettings,
) -> Result<(Step, bool), sqlx::Error> {
    let name = projection.name();
    let lock = lock_key(name);
    let applied = if let Some(insert) = projection.in_database() {
        // One statement in a transaction of its own: the lock, the batch and the checkpoint.
        match apply_in_database(conn, insert, &checkpoint_name(name), settings.batch_size, Some(lock)).await?
        {
            Some(batch) => batch,
            None => return Ok((Step::Busy, false)),
        }
    } else {
        match apply_scanned(conn, projection, settings, lock).await? {
            Some(batch) => batch,
            None => return Ok((Step::Busy, false)),
        }
    };
    metrics::counter!("berth_projection_events_total", "projection" => name).increment(applied.count as u64);
    Ok((Step::Applied(applied.count), applied.cut))
}

/// Scans the feed after the checkpoint (one statement, which also moves the checkpoint past a
/// batch that holds nothing for the view); only for events that concern the view, applies them
/// in a transaction that holds the lock and finds the checkpoint where the scan did. `None`
/// when another projector holds the lock or moved the checkpoint first.
async fn apply_scanned(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    limits: ProjectorSettings,
    lock: i64,
) -> Result<Option<Batch>, sqlx::Error> {
    let checkpoint = checkpoint_name(projection.name());
    let Some(found) =
        scan::scan(conn, &checkpoint, limits.batch_size, lock, projection.aggregate_types()).await?
    else {
        return Ok(None);
    };
    let Some((last, _)) = found.last else {
        return Ok(Some(Batch { count: 0, cut: false }));
    };
    if found.relevant.is_empty() {
        return Ok(Some(Batch { count: found.scanned, cut: false }));
    }
    let mut tx = conn.begin().await?;
    let ours: bool = sqlx::query_scalar(
        "SELECT pg_try_advisory_xact_lock($1)
            AND (COALESCE((SELECT transaction_id::text::bigint FROM checkpoints WHERE name = $2), 0),
                 COALESCE((SELECT global_position FROM checkpoints WHERE name = $2), 0)) = ($3, $4)",
    )
    .bind(lock)
    .bind(&checkpoint)
    .bind(found.from.transaction_id)
    .bind(found.from.global_position)
    .fetch_one(&mut *tx)
    .await?;
    if !ours {
        tx.rollback().await?;
        return Ok(None);
    }
    let started = Instant::now();
    let applied = apply_within(&mut tx, projection, &found.relevant, limits.batch_max).await?;
    // All applied: past every event scanned. Cut short: past the last one applied (the
    // events after it are scanned again).
    let (moved_to, cut) = match applied < found.relevant.len() {
        false => (last, false),
        true => (found.relevant[applied - 1].position(), true),
    };
    checkpoint::store(&mut *tx, &checkpoint, moved_to).await?;
    tx.commit().await?;
    tracing::debug!(projection = projection.name(), events = applied, scanned = found.scanned, elapsed = ?started.elapsed(), "batch applied");
    Ok(Some(Batch { count: if cut { applied } else { found.scanned }, cut }))
}

/// Applies `raw` in slices until they are done or `within` has passed; how many were applied
/// (at least one slice).
async fn apply_within(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    raw: &[feed::FeedEvent],
    within: Duration,
) -> Result<usize, sqlx::Error> {
    let started = Instant::now();
    // Slices large enough that views which write a batch in one statement still do, small
    // enough that the time bound is checked a few times per batch.
    // A slice ends with a transaction's last event, so that a batch cut by time still shows a
    // command's events all or none.
    let slice = (raw.len() / 4).max(50);
    let mut applied = 0;
    while applied < raw.len() {
        let mut end = (applied + slice).min(raw.len());
        while end < raw.len() && raw[end].transaction_id == raw[end - 1].transaction_id {
            end += 1;
        }
        let mut slice = raw[applied..end].to_vec();
        berth_eventstore::personal::open_feed_current(&mut slice)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let events = Recorded::decode_all(&slice, projection.name());
        projection.apply_all(&mut *conn, &events).await?;
        applied = end;
        if started.elapsed() >= within {
            break;
        }
    }
    Ok(applied)
}

/// What one batch did.
pub(crate) struct Batch {
    /// Events taken in (applied, or scanned and skipped).
    pub count: usize,
    /// Whether the time bound stopped it before every event read was applied.
    pub cut: bool,
}

/// Reads up to `limits.batch_size` events after checkpoint `checkpoint` and applies them to the
/// tables the connection's search path names, until they are done or `limits.batch_max` has
/// passed, moving the checkpoint past the last one applied, all on `conn` (the caller owns the
/// transaction).
pub(crate) async fn apply_batch(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    checkpoint: &str,
    limits: ProjectorSettings,
) -> Result<Batch, sqlx::Error> {
    if let Some(insert) = projection.in_database() {
        let batch = apply_in_database(conn, insert, checkpoint, limits.batch_size, None).await?;
        return Ok(batch.unwrap_or(Batch { count: 0, cut: false }));
    }
    let raw = feed::read_after_checkpoint(&mut *conn, checkpoint, limits.batch_size).await?;
    if raw.is_empty() {
        return Ok(Batch { count: 0, cut: false });
    }
    let started = Instant::now();
    let applied = apply_within(conn, projection, &raw, limits.batch_max).await?;
    checkpoint::store(&mut *conn, checkpoint, raw[applied - 1].position()).await?;
    tracing::debug!(projection = projection.name(), events = applied, elapsed = ?started.elapsed(), "batch applied");
    Ok(Batch { count: applied, cut: applied < raw.len() })
}

/// A batch applied by one statement: the batch read from the log after the checkpoint,
/// `insert` run over it and the checkpoint moved past it, all inside PostgreSQL. With `lock`,
/// the statement first tries that advisory lock and does nothing (`None`) without it.
async fn apply_in_database(
    conn: &mut PgConnection,
    insert: &str,
    checkpoint: &str,
    batch_size: i64,
    lock: Option<i64>,
) -> Result<Option<Batch>, sqlx::Error> {
    let statement = format!(
        "WITH locked AS (SELECT $3::bigint IS NULL OR pg_try_advisory_xact_lock($3) AS got),
         batch AS MATERIALIZED ({feed}),
         last AS (SELECT transaction_id, global_position, recorded_at FROM batch
                   ORDER BY transaction_id DESC, global_position DESC LIMIT 1),
         applied AS ({insert}),
         moved AS (INSERT INTO checkpoints (name, transaction_id, global_position, updated_at)
                   SELECT $1, l.transaction_id, l.global_position, now() FROM last l
                   ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,
                       global_position = EXCLUDED.global_position, updated_at = now())
         SELECT (SELECT got FROM locked), (SELECT count(*) FROM batch), (SELECT recorded_at FROM last)",
        feed = feed::AFTER_CHECKPOINT.replacen("WHERE ", "WHERE (SELECT got FROM locked) AND ", 1),
    );
    let started = Instant::now();
    let (got, count, _last_recorded): (bool, i64, Option<OffsetDateTime>) =
        sqlx::query_as(&statement).bind(checkpoint).bind(batch_size).bind(lock).fetch_one(conn).await?;
    tracing::debug!(checkpoint, events = count, elapsed = ?started.elapsed(), "batch applied in the database");
    // One statement: its time is bounded by `statement_timeout`.
    Ok(got.then(|| Batch { count: usize::try_from(count).unwrap_or_default(), cut: false }))
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
