//! A live projector's look at the feed: the events after its checkpoint that concern it, read
//! in one autocommit statement that also moves the checkpoint past events that do not. A view
//! that reads only sites and nodes costs one statement for an invoice's event, not a
//! transaction.

use berth_eventstore::feed::{self, FeedEvent, FeedPosition};
use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// What a scan found.
pub(crate) struct Scan {
    /// The checkpoint it read from.
    pub from: FeedPosition,
    /// The last event scanned (concerning the view or not), when any was.
    pub last: Option<(FeedPosition, OffsetDateTime)>,
    /// How many events were scanned.
    pub scanned: usize,
    /// The events that concern the view, in feed order; when there are none, the checkpoint
    /// has already moved to `last`.
    pub relevant: Vec<FeedEvent>,
}

/// One row of the scan: the batch's bounds, and one relevant event or none.
#[derive(sqlx::FromRow)]
struct Row {
    got: bool,
    from_tx: i64,
    from_gp: i64,
    last_tx: Option<i64>,
    last_gp: Option<i64>,
    last_recorded: Option<OffsetDateTime>,
    scanned: i64,
    transaction_id: Option<i64>,
    global_position: Option<i64>,
    event_id: Option<Uuid>,
    tenant_id: Option<Uuid>,
    aggregate_type: Option<String>,
    aggregate_id: Option<String>,
    sequence: Option<i64>,
    event_type: Option<String>,
    event_version: Option<String>,
    payload: Option<serde_json::Value>,
    metadata: Option<serde_json::Value>,
    recorded_at: Option<OffsetDateTime>,
}

impl Row {
    fn event(self) -> Option<FeedEvent> {
        Some(FeedEvent {
            transaction_id: self.transaction_id?,
            global_position: self.global_position?,
            event_id: self.event_id?,
            tenant_id: self.tenant_id,
            aggregate_type: self.aggregate_type?,
            aggregate_id: self.aggregate_id?,
            sequence: self.sequence?,
            event_type: self.event_type?,
            event_version: self.event_version?,
            payload: self.payload?,
            metadata: self.metadata?,
            recorded_at: self.recorded_at?,
        })
    }
}

/// Scans up to `limit` events after `checkpoint` if the advisory lock `lock` is free (`None`
/// when it is not), keeping those of `aggregate_types` (every one when `None`).
pub(crate) async fn scan(
    conn: &mut PgConnection,
    checkpoint: &str,
    limit: i64,
    lock: i64,
    aggregate_types: Option<&[&str]>,
) -> Result<Option<Scan>, sqlx::Error> {
    static STATEMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let statement = STATEMENT.get_or_init(|| {
        format!(
            "WITH locked AS (SELECT pg_try_advisory_xact_lock($3) AS got),
             scanned AS MATERIALIZED ({feed}),
             last AS (SELECT transaction_id, global_position, recorded_at FROM scanned
                       ORDER BY transaction_id DESC, global_position DESC LIMIT 1),
             relevant AS (SELECT * FROM scanned WHERE $4::text[] IS NULL OR aggregate_type = ANY($4)),
             skipped AS (INSERT INTO checkpoints (name, transaction_id, global_position, updated_at)
                         SELECT $1, l.transaction_id, l.global_position, now() FROM last l
                          WHERE NOT EXISTS (SELECT 1 FROM relevant)
                         ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,
                             global_position = EXCLUDED.global_position, updated_at = now())
             SELECT (SELECT got FROM locked) AS got,
                    COALESCE((SELECT transaction_id FROM checkpoints WHERE name = $1), '0'::xid8)::text::bigint AS from_tx,
                    COALESCE((SELECT global_position FROM checkpoints WHERE name = $1), 0) AS from_gp,
                    l.transaction_id::text::bigint AS last_tx, l.global_position AS last_gp,
                    l.recorded_at AS last_recorded, (SELECT count(*) FROM scanned) AS scanned,
                    r.transaction_id::text::bigint AS transaction_id, r.global_position, r.event_id, r.tenant_id,
                    r.aggregate_type, r.aggregate_id, r.sequence, r.event_type, r.event_version, r.payload,
                    r.metadata, r.recorded_at
               FROM (SELECT 1) one
               LEFT JOIN last l ON true
               LEFT JOIN relevant r ON true
              ORDER BY r.transaction_id, r.global_position",
            feed = feed::AFTER_CHECKPOINT.replacen("WHERE ", "WHERE (SELECT got FROM locked) AND ", 1),
        )
    });
    let types: Option<Vec<String>> = aggregate_types.map(|t| t.iter().map(|s| (*s).to_owned()).collect());
    let rows: Vec<Row> =
        sqlx::query_as(statement).bind(checkpoint).bind(limit).bind(lock).bind(types).fetch_all(conn).await?;
    let Some(first) = rows.first() else { return Ok(None) };
    if !first.got {
        return Ok(None);
    }
    let from = FeedPosition { transaction_id: first.from_tx, global_position: first.from_gp };
    let last = match (first.last_tx, first.last_gp, first.last_recorded) {
        (Some(transaction_id), Some(global_position), Some(at)) => {
            Some((FeedPosition { transaction_id, global_position }, at))
        }
        _ => None,
    };
    let scanned = usize::try_from(first.scanned).unwrap_or_default();
    let relevant = rows.into_iter().filter_map(Row::event).collect();
    Ok(Some(Scan { from, last, scanned, relevant }))
}
