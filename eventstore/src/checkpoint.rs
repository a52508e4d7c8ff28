//! Where each feed reader has got to.

use sqlx::PgExecutor;

use crate::feed::FeedPosition;

/// Reads the checkpoint `name`, creating it at the start of the feed if it is new.
pub async fn load<'e>(executor: impl PgExecutor<'e>, name: &str) -> Result<FeedPosition, sqlx::Error> {
    let (transaction_id, global_position): (i64, i64) = sqlx::query_as(
        "WITH created AS (
            INSERT INTO checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING
            RETURNING transaction_id, global_position)
         SELECT transaction_id::text::bigint, global_position FROM created
         UNION ALL
         SELECT transaction_id::text::bigint, global_position FROM checkpoints WHERE name = $1
         LIMIT 1",
    )
    .bind(name)
    .fetch_one(executor)
    .await?;
    Ok(FeedPosition { transaction_id, global_position })
}

/// Stores `position` as the checkpoint `name`.
pub async fn store<'e>(
    executor: impl PgExecutor<'e>,
    name: &str,
    position: FeedPosition,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO checkpoints (name, transaction_id, global_position, updated_at)
         VALUES ($1, $2::bigint::text::xid8, $3, now())
         ON CONFLICT (name) DO UPDATE
           SET transaction_id = EXCLUDED.transaction_id, global_position = EXCLUDED.global_position, updated_at = now()",
    )
    .bind(name)
    .bind(position.transaction_id)
    .bind(position.global_position)
    .execute(executor)
    .await?;
    Ok(())
}

/// Removes the checkpoint `name`.
pub async fn remove<'e>(executor: impl PgExecutor<'e>, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM checkpoints WHERE name = $1").bind(name).execute(executor).await?;
    Ok(())
}
