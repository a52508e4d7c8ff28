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
#[derive(Clone)]
pub struct Reads {
    pool: PgPool,
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
        Self { pool }
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

    /// Whether the view `view` has taken in every committed event.
    pub async fn caught_up(&self, view: &str) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT berth_view_caught_up($1)").bind(view).fetch_one(&self.pool).await
    }

    /// A connection in `tenant`'s scope, for the caller whose credential is `credential`; a
    /// credential that stopped working since it was cached is refused here (401).
    pub async fn enter(&self, tenant: Option<Uuid>, credential: Uuid) -> Result<Scoped, ApiError> {
        let mut conn = self.pool.acquire().await?;
        let live: bool = sqlx::query_scalar("SELECT berth_enter_scope($1, $2)")
            .bind(tenant)
            .bind(credential)
            .fetch_one(&mut *conn)
            .await?;
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
        caught_up = reads.caught_up(view).await.unwrap_or(false);
        if !caught_up {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
