//! How far each feed reader is behind the log, measured in the database so that any process
//! (not just the one running the reader) can report it.

use sqlx::PgPool;

/// One reader's distance from the head of the feed.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct SubscriptionLag {
    /// The checkpoint's name (`relay`, `projection:audit`, ...).
    pub name: String,
    /// Events after the checkpoint (counted up to 1,000,000).
    pub behind: i64,
    /// Seconds since the oldest event after the checkpoint was recorded (0 when caught up).
    pub seconds: f64,
}

/// The lag of every checkpoint.
pub async fn all(pool: &PgPool) -> Result<Vec<SubscriptionLag>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.name,
                (SELECT count(*) FROM (SELECT 1 FROM events e
                   WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position)
                   LIMIT 1000000) pending) AS behind,
                COALESCE((SELECT EXTRACT(EPOCH FROM now() - e.recorded_at)::float8 FROM events e
                   WHERE (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position)
                   ORDER BY e.transaction_id, e.global_position LIMIT 1), 0) AS seconds
           FROM checkpoints c
          ORDER BY c.name",
    )
    .fetch_all(pool)
    .await
}

/// The highest global position written so far.
pub async fn head(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(max(global_position), 0) FROM events").fetch_one(pool).await
}

/// The transaction that holds the feed's horizon back: the oldest one on the server with a
/// transaction id. The feed only returns events below `pg_snapshot_xmin`, which is that
/// transaction's id, so nothing written after it started reaches any reader until it ends.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct HorizonHolder {
    /// Its backend's process id (`None` for a prepared transaction).
    pub pid: Option<i32>,
    /// Who it is: the `application_name` (Berth's say `berth <role> <pid>`), or the prepared
    /// transaction's id.
    pub holder: String,
    /// Its session's state (`active`, `idle in transaction`, …).
    pub state: String,
    /// The database it is connected to (the horizon is the whole server's, not one database's).
    pub database: String,
    /// Seconds since its transaction began.
    pub age_seconds: f64,
}

/// The oldest transaction holding the feed's horizon, if any transaction is open.
///
/// Reads `pg_stat_activity` (and `pg_prepared_xacts`): to see other roles' sessions the
/// database role needs `pg_read_all_stats` (a superuser has it).
pub async fn horizon(pool: &PgPool) -> Result<Option<HorizonHolder>, sqlx::Error> {
    sqlx::query_as(
        "SELECT pid, holder, state, database, age_seconds FROM (
            SELECT pid, COALESCE(application_name, '') AS holder, COALESCE(state, '') AS state,
                   COALESCE(datname::text, '') AS database,
                   COALESCE(EXTRACT(EPOCH FROM now() - xact_start)::float8, 0) AS age_seconds,
                   age(backend_xid) AS xid_age
              FROM pg_stat_activity WHERE backend_xid IS NOT NULL
            UNION ALL
            SELECT NULL, 'prepared transaction ' || gid, 'prepared', database::text,
                   EXTRACT(EPOCH FROM now() - prepared)::float8, age(transaction)
              FROM pg_prepared_xacts
         ) holders
         ORDER BY xid_age DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await
}

/// How far a streaming replica is behind its primary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicaLag {
    /// Bytes of the primary's flushed WAL the replica has not replayed yet (0 when it has
    /// replayed all of it).
    pub bytes: i64,
    /// Seconds: 0 when it has replayed all the primary had flushed, else how long ago the
    /// last transaction it replayed committed on the primary. An upper bound (the primary may
    /// have been idle since), and it grows when the replica stops receiving, not just
    /// replaying: it is measured against the primary, not against what the replica received.
    pub seconds: f64,
}

/// How far `replica`, a streaming replica of `primary`, is behind it.
pub async fn replica_lag(replica: &PgPool, primary: &PgPool) -> Result<ReplicaLag, sqlx::Error> {
    // The primary first: what the replica must have replayed to be current as of now.
    let flushed: String =
        sqlx::query_scalar("SELECT pg_current_wal_flush_lsn()::text").fetch_one(primary).await?;
    let (bytes, seconds): (i64, f64) = sqlx::query_as(
        "SELECT GREATEST(pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()), 0)::int8,
                CASE WHEN pg_last_wal_replay_lsn() >= $1::pg_lsn THEN 0
                     ELSE GREATEST(COALESCE(
                         EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8, 0), 0) END",
    )
    .bind(&flushed)
    .fetch_one(replica)
    .await?;
    Ok(ReplicaLag { bytes, seconds })
}
