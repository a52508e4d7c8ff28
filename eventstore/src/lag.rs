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
