//! Checking the views against the log: each projection rebuilt from position zero into a
//! scratch schema, up to exactly where its live tables stand, and compared with them table by
//! table.
//!
//! The live tables are read in a repeatable-read transaction opened first, so they stay at
//! the checkpoint it reads (tables and checkpoint commit together) while the live projector
//! carries on. The scratch replay takes exactly the events up to that checkpoint, counted
//! before it starts. A table is compared by its row count and a digest of its rows (the MD5 of
//! the sorted MD5s of each row's text); when they differ, both sides are walked in that order
//! to name the first row found on one side only.

use std::cmp::Ordering;

use berth_eventstore::feed::{FeedEvent, FeedPosition};
use berth_eventstore::recorded::Recorded;
use futures::TryStreamExt;
use sqlx::{Connection as _, PgConnection, PgPool};
use uuid::Uuid;

use crate::projection::{checkpoint_name, live_schema, Projection};
use crate::runtime::{create_tables, set_search_path};

/// Events per scratch transaction.
const BATCH: i64 = 5000;

/// How one table compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// `schema`-less table name.
    pub table: String,
    /// Rows in the live table and in the replay.
    pub rows: (i64, i64),
    /// Whether the contents agree.
    pub same: bool,
    /// When they do not: a row found on one side only, as `live: …` or `replay: …`.
    pub first_difference: Option<String>,
}

/// How one projection compared.
#[derive(Debug, Clone)]
pub struct ViewReport {
    /// The projection.
    pub projection: &'static str,
    /// Events replayed.
    pub events: u64,
    /// Each table.
    pub tables: Vec<TableReport>,
}

impl ViewReport {
    /// Whether every table agrees.
    pub fn agrees(&self) -> bool {
        self.tables.iter().all(|t| t.same)
    }
}

/// Rebuilds `projection` into a scratch schema and compares it with its live tables. With
/// `tenant`, replays only that tenant's events and the platform's (no tenant), and compares
/// only that tenant's rows of the tables that have a `tenant_id` (the others are skipped).
pub async fn compare(
    pool: &PgPool,
    projection: &dyn Projection,
    tenant: Option<Uuid>,
) -> Result<ViewReport, sqlx::Error> {
    let name = projection.name();
    let live = live_schema(name);
    let scratch = format!("{live}_verify");
    let mut frozen = PgConnection::connect_with(&pool.connect_options()).await?;
    // This snapshot stays open, idle, while the replay runs on other connections. A read-only
    // transaction takes no transaction id, so it holds back no feed reader: the bound on idle
    // transactions that a pool's connections carry is lifted for this one alone.
    sqlx::raw_sql(
        "SET idle_in_transaction_session_timeout = 0; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    )
    .execute(&mut frozen)
    .await?;
    let upto: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM checkpoints WHERE name = $1",
    )
    .bind(checkpoint_name(name))
    .fetch_optional(&mut frozen)
    .await?;
    let upto =
        upto.map_or(FeedPosition::START, |(t, g)| FeedPosition { transaction_id: t, global_position: g });
    let tables: Vec<(String, bool)> = sqlx::query_as(
        "SELECT t.table_name::text, EXISTS (SELECT 1 FROM information_schema.columns c
                 WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name AND c.column_name = 'tenant_id')
           FROM information_schema.tables t WHERE t.table_schema = $1 AND t.table_type = 'BASE TABLE' ORDER BY 1",
    )
    .bind(&live)
    .fetch_all(&mut frozen)
    .await?;

    let events = replay(pool, projection, &scratch, upto, tenant).await?;
    let mut reports = Vec::new();
    for (table, tenanted) in tables {
        if tenant.is_some() && !tenanted {
            continue;
        }
        let filter =
            if tenanted { "WHERE $1::uuid IS NULL OR tenant_id = $1" } else { "WHERE $1::uuid IS NULL" };
        let digest = |schema: &str| {
            format!(
                "SELECT count(*), COALESCE(md5(string_agg(h, '' ORDER BY h)), '')
                   FROM (SELECT md5(t::text) AS h FROM \"{schema}\".\"{table}\" t {filter}) d"
            )
        };
        let (live_rows, live_digest): (i64, String) =
            sqlx::query_as(&digest(&live)).bind(tenant).fetch_one(&mut frozen).await?;
        let (replay_rows, replay_digest): (i64, String) =
            sqlx::query_as(&digest(&scratch)).bind(tenant).fetch_one(pool).await?;
        let same = live_rows == replay_rows && live_digest == replay_digest;
        let first_difference = if same {
            None
        } else {
            let rows = |schema: &str| {
                format!(
                    "SELECT md5(t::text) AS h, t::text FROM \"{schema}\".\"{table}\" t {filter} ORDER BY 1"
                )
            };
            first_difference(&mut frozen, pool, &rows(&live), &rows(&scratch), tenant).await?
        };
        reports.push(TableReport { table, rows: (live_rows, replay_rows), same, first_difference });
    }
    sqlx::raw_sql("COMMIT").execute(&mut frozen).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{scratch}\" CASCADE")).execute(pool).await?;
    Ok(ViewReport { projection: name, events, tables: reports })
}

/// Replays the events up to `upto` (of `tenant` and the platform, when given) into `scratch`.
async fn replay(
    pool: &PgPool,
    projection: &dyn Projection,
    scratch: &str,
    upto: FeedPosition,
    tenant: Option<Uuid>,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{scratch}\" CASCADE")).execute(&mut *tx).await?;
    create_tables(&mut tx, projection, scratch).await?;
    tx.commit().await?;
    // Every event up to the live checkpoint had committed when the live projector passed it,
    // and none can appear there later: counting them once bounds each batch exactly.
    let mut remaining: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM ({}) e", bounded("1")))
        .bind(FeedPosition::START.transaction_id)
        .bind(FeedPosition::START.global_position)
        .bind(upto.transaction_id)
        .bind(upto.global_position)
        .bind(tenant)
        .bind(i64::MAX)
        .fetch_one(pool)
        .await?;
    let mut after = FeedPosition::START;
    let mut events = 0u64;
    while remaining > 0 {
        let limit = remaining.min(BATCH);
        let mut tx = pool.begin().await?;
        set_search_path(&mut tx, scratch).await?;
        let last = if let Some(insert) = projection.in_database() {
            let statement = format!(
                "WITH batch AS MATERIALIZED ({}),
                 applied AS ({insert})
                 SELECT transaction_id::text::bigint, global_position FROM batch
                  ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
                bounded("*")
            );
            bind(sqlx::query_as::<_, (i64, i64)>(&statement), after, upto, tenant, limit)
                .fetch_optional(&mut *tx)
                .await?
        } else {
            let statement = format!(
                "SELECT transaction_id::text::bigint AS transaction_id, global_position, event_id, tenant_id, aggregate_type,
                        aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at
                   FROM ({}) e ORDER BY e.transaction_id, e.global_position",
                bounded("*")
            );
            let mut raw: Vec<FeedEvent> =
                bind(sqlx::query_as(&statement), after, upto, tenant, limit).fetch_all(&mut *tx).await?;
            berth_eventstore::personal::open_feed_current(&mut raw)
                .await
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            let decoded = Recorded::decode_all(&raw, projection.name());
            projection.apply_all(&mut tx, &decoded).await?;
            raw.last().map(|e| (e.transaction_id, e.global_position))
        };
        tx.commit().await?;
        let Some((transaction_id, global_position)) = last else { break };
        after = FeedPosition { transaction_id, global_position };
        remaining -= limit;
        events += u64::try_from(limit).unwrap_or_default();
    }
    Ok(events)
}

/// The events after `$1, $2` up to `$3, $4` (of tenant `$5` and the platform, when `$5` is
/// set), in feed order, at most `$6`.
fn bounded(columns: &str) -> String {
    format!(
        "SELECT {columns} FROM events
          WHERE (transaction_id, global_position) > ($1::bigint::text::xid8, $2)
            AND (transaction_id, global_position) <= ($3::bigint::text::xid8, $4)
            AND ($5::uuid IS NULL OR tenant_id = $5 OR tenant_id IS NULL)
          {order} LIMIT $6",
        order = if columns == "1" { "" } else { "ORDER BY transaction_id, global_position" }
    )
}

fn bind<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    after: FeedPosition,
    upto: FeedPosition,
    tenant: Option<Uuid>,
    limit: i64,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(after.transaction_id)
        .bind(after.global_position)
        .bind(upto.transaction_id)
        .bind(upto.global_position)
        .bind(tenant)
        .bind(limit)
}

/// Walks both sides in digest order: the first row found in the live table only and the
/// first found in the replay only (a changed row is one of each).
async fn first_difference(
    frozen: &mut PgConnection,
    pool: &PgPool,
    live_rows: &str,
    replay_rows: &str,
    tenant: Option<Uuid>,
) -> Result<Option<String>, sqlx::Error> {
    let live: Vec<(String, String)> = sqlx::query_as(live_rows).bind(tenant).fetch_all(&mut *frozen).await?;
    let mut replayed = sqlx::query_as::<_, (String, String)>(replay_rows).bind(tenant).fetch(pool);
    let mut live = live.into_iter().peekable();
    let mut next_replayed = replayed.try_next().await?;
    let (mut live_only, mut replay_only): (Option<String>, Option<String>) = (None, None);
    while live_only.is_none() || replay_only.is_none() {
        match (live.peek(), &next_replayed) {
            (None, None) => break,
            (Some(_), None) => {
                live_only = live_only.or_else(|| live.next().map(|(_, row)| row));
                break;
            }
            (None, Some((_, row))) => {
                replay_only = replay_only.or_else(|| Some(row.clone()));
                break;
            }
            (Some((a, _)), Some((b, other))) => match a.cmp(b) {
                Ordering::Equal => {
                    live.next();
                    next_replayed = replayed.try_next().await?;
                }
                Ordering::Less => {
                    let row = live.next().map(|(_, row)| row);
                    live_only = live_only.or(row);
                }
                Ordering::Greater => {
                    replay_only = replay_only.or_else(|| Some(other.clone()));
                    next_replayed = replayed.try_next().await?;
                }
            },
        }
    }
    let sides = [live_only.map(|r| format!("live: {r}")), replay_only.map(|r| format!("replay: {r}"))];
    let named: Vec<String> = sides.into_iter().flatten().collect();
    Ok((!named.is_empty()).then(|| named.join("; ")))
}
