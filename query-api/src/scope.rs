//! Reads confined to one tenant by row-level security, in two round trips.

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use uuid::Uuid;

use berth_http::ApiError;

/// The query API's connections: each one reads as `berth_reader`, read-only, from its first
/// moment (set when it connects), so a request needs one statement to enter its tenant's scope
/// and one to read: two round trips.
///
/// They may be connections to a streaming replica ([`Reads::on_replica`]). A replica shows the
/// primary as of a moment ago, so two of its answers are checked with the primary: a
/// credential it does not know may be one issued since, and a view it shows as caught up is
/// only caught up with what it has replayed.
#[derive(Clone)]
pub struct Reads {
    pool: PgPool,
    /// The primary, when `pool` is a replica of it.
    primary: Option<PgPool>,
}

/// The aggregate types the view `view` reads (`None`: every type, or a view unknown here). A
/// view of some types is woken only by their commits, so only their events tell whether it has
/// caught up.
fn view_types(view: &str) -> Option<Vec<String>> {
    static TYPES: std::sync::OnceLock<std::collections::HashMap<&'static str, Vec<String>>> =
        std::sync::OnceLock::new();
    let types = TYPES.get_or_init(|| {
        berth_projections::projection::all()
            .iter()
            .filter_map(|p| Some((p.name(), p.aggregate_types()?.iter().map(|t| (*t).to_owned()).collect())))
            .collect()
    });
    types.get(view).cloned()
}

/// Where the primary's log stood when a read began waiting for a version (see
/// [`Reads::caught_up`]); one per wait.
#[derive(Debug, Default)]
pub struct Waiting {
    primary_at: Option<String>,
}

/// A connection in one caller's scope: row-level security shows that tenant's rows only (or,
/// for an operator, no tenant's rows and the platform views).
pub struct Scoped(PoolConnection<Postgres>);

impl std::ops::Deref for Scoped {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl std::ops::DerefMut for Scoped {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}

impl Reads {
    /// Reads over `pool`, whose connections were made by [`Reads::options`].
    pub fn new(pool: PgPool) -> Self {
        Self { pool, primary: None }
    }

    /// Reads over `replica` (a pool made with [`Reads::prepare`] on a streaming replica of
    /// `primary`); `primary` is Berth's own pool on the primary.
    pub fn on_replica(replica: PgPool, primary: PgPool) -> Self {
        Self { pool: replica, primary: Some(primary) }
    }

    /// The pool underneath (readiness checks).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Makes every connection of a read pool act as the reader role, read-only.
    pub fn prepare(options: sqlx::postgres::PgPoolOptions) -> sqlx::postgres::PgPoolOptions {
        options.after_connect(|conn, _| {
            Box::pin(async move {
                use sqlx::Executor as _;
                // A plain string is sent as a simple query: both settings in one round trip.
                conn.execute("SET ROLE berth_reader; SET default_transaction_read_only = on").await?;
                Ok(())
            })
        })
    }

    /// Whether the view `view` has taken in every committed event. On a replica, every event
    /// committed on the primary by the time `waiting` first asked: the replica must have
    /// replayed the primary's log that far, or it would call a view caught up that lacks what
    /// it has not replayed yet (and a version just written would read as never written).
    pub async fn caught_up(&self, view: &str, waiting: &mut Waiting) -> Result<bool, sqlx::Error> {
        let Some(primary) = &self.primary else {
            return sqlx::query_scalar("SELECT berth_view_caught_up($1, $2)")
                .bind(view)
                .bind(view_types(view))
                .fetch_one(&self.pool)
                .await;
        };
        if waiting.primary_at.is_none() {
            // The insert position: every commit answered before it is at or below it.
            let at: String =
                sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text").fetch_one(primary).await?;
            waiting.primary_at = Some(at);
        }
        // Two statements, in this order: a statement's snapshot is taken when it starts, and
        // replay may pass the position while one runs, so only a statement begun after the
        // replay was seen there shows everything up to it.
        let replayed: bool = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
            .bind(waiting.primary_at.as_deref())
            .fetch_one(&self.pool)
            .await?;
        if !replayed {
            return Ok(false);
        }
        sqlx::query_scalar("SELECT berth_view_caught_up($1, $2)")
            .bind(view)
            .bind(view_types(view))
            .fetch_one(&self.pool)
            .await
    }

    /// Returns once this server shows everything committed before the call: at once on the
    /// primary; on a replica, once it has replayed the primary's log as far as it stood then
    /// (within 5 s, else 503). For reads that must not miss a recent event although they wait
    /// for no version: a past state (`as_of`) and an export's window.
    pub async fn replayed(&self) -> Result<(), ApiError> {
        let Some(primary) = &self.primary else { return Ok(()) };
        let at: String =
            sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text").fetch_one(primary).await?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let replayed: bool = sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn")
                .bind(&at)
                .fetch_one(&self.pool)
                .await?;
            if replayed {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(ApiError::Unavailable);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A connection in `tenant`'s scope, for the caller whose credential is `credential`; a
    /// credential that stopped working since it was cached is refused here (401).
    pub async fn enter(&self, tenant: Option<Uuid>, credential: Uuid) -> Result<Scoped, ApiError> {
        let started = Instant::now();
        let mut conn = self.pool.acquire().await?;
        metrics::histogram!("berth_query_stage_seconds", "stage" => "acquire")
            .record(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let mut live: bool = sqlx::query_scalar("SELECT berth_enter_scope($1, $2)")
            .bind(tenant)
            .bind(credential)
            .fetch_one(&mut *conn)
            .await?;
        if let (false, Some(primary)) = (live, &self.primary) {
            // Issued after the replica's last replay, or dead: the primary knows which. A live
            // one gets the scope `berth_enter_scope` would have set.
            live = berth_projections::identity::is_live(primary, credential).await?;
            if live {
                sqlx::query("SELECT set_config('berth.tenant_id', $1, false)")
                    .bind(tenant.map(|t| t.to_string()).unwrap_or_default())
                    .execute(&mut *conn)
                    .await?;
            }
        }
        metrics::histogram!("berth_query_stage_seconds", "stage" => "scope")
            .record(started.elapsed().as_secs_f64());
        if !live {
            return Err(ApiError::Unauthorized("the token is unknown, revoked or expired".to_owned()));
        }
        Ok(Scoped(conn))
    }
}

/// Runs `read` until it finds the row at `min_version` or later (read-your-writes). Without
/// `min_version` a missing row is a 404 at once. With it, the view `view` gets up to 5 s to
/// catch up; but once it has taken in every committed event, what it still lacks was never
/// written: a missing row is a 404 and a version beyond the row's a 400, answered at once.
pub async fn at_version<T, F, Fut>(
    reads: &Reads,
    view: &str,
    min_version: Option<i64>,
    version_of: impl Fn(&T) -> i64,
    mut read: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, ApiError>>,
{
    if min_version.is_some_and(|v| v < 0) {
        return Err(ApiError::field("min_version", "must be a version, 0 or more"));
    }
    let wanted = min_version.unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(5);
    // Asked before a read, so that the read sees everything the view had then.
    let mut caught_up = false;
    let mut waiting = Waiting::default();
    loop {
        // A view still being installed is unavailable; a caller waiting for a version waits
        // for that too, within the same deadline.
        let found = match read().await {
            Err(ApiError::Unavailable) if min_version.is_some() && Instant::now() < deadline => None,
            other => other?,
        };
        match found {
            Some(row) if version_of(&row) >= wanted => return Ok(row),
            None if min_version.is_none() || caught_up => return Err(ApiError::NotFound),
            Some(row) if caught_up => {
                return Err(ApiError::field(
                    "min_version",
                    format!(
                        "the resource is at version {}; version {wanted} was never written",
                        version_of(&row)
                    ),
                ))
            }
            _ if Instant::now() > deadline => return Err(ApiError::NotYet(wanted)),
            _ => {}
        }
        caught_up = reads.caught_up(view, &mut waiting).await.unwrap_or(false);
        if !caught_up {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
