use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::Result;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Connections to SQLite (see [`Db::connect`] for why so few).
const SQLITE_POOL: u32 = 4;
/// Connections to PostgreSQL per instance.
const POSTGRES_POOL: u32 = 16;
/// How long a caller waits for a pooled connection before the database counts as unavailable.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the readiness probe waits: a load balancer must hear "not ready" within a second.
const PING_TIMEOUT: Duration = Duration::from_millis(800);

/// A connection pool to either backend.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Connects to `url` (`sqlite://file.db` or `postgres://…`), creating a SQLite file if it
    /// does not exist.
    ///
    /// Pool sizes are chosen for how the services use connections: a request or pile message
    /// holds at most one at a time (a write transaction never waits for a second one), so the
    /// pool bounds concurrent database work, not concurrent requests, and callers queue fairly
    /// for it. SQLite has one writer: 4 connections let WAL readers run beside it, and keep
    /// most waiting writers in the pool's fair queue rather than in SQLite's busy loop (at most
    /// three wait there, within the busy timeout). PostgreSQL gets 16: enough to keep
    /// the server busy, and several instances stay well under its default 100 connections.
    ///
    /// The acquire timeout is short on purpose: when the database is unreachable a request
    /// fails within [`ACQUIRE_TIMEOUT`] as "unavailable, retry" instead of hanging; when it
    /// is merely busy, no connection is held for long enough to reach it.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
        let (options, max) = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") };
                // WAL lets readers run beside the writer, and busy_timeout waits instead of failing.
                (AnyConnectOptions::from_str(&url)?, SQLITE_POOL)
            }
            Backend::Postgres => (AnyConnectOptions::from_str(url)?, POSTGRES_POOL),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // The busy timeout first: switching to WAL needs the lock too.
                        conn.execute(
                            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, backend })
    }

    /// Applies the backend's migrations; safe to run on every start.
    pub async fn migrate(&self) -> Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// On SQLite the transaction takes the write lock at once (`BEGIN IMMEDIATE`): a deferred
    /// transaction that reads and then writes can fail with "database is locked" when another
    /// writer got in between, and no busy timeout can save it.
    pub async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub async fn acquire(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.pool.acquire().await?)
    }

    /// Readiness probe: the database answers a trivial query within [`PING_TIMEOUT`].
    pub async fn ping(&self) -> Result<()> {
        match tokio::time::timeout(PING_TIMEOUT, sqlx::query("SELECT 1").execute(&self.pool)).await {
            Ok(done) => done.map(drop).map_err(Into::into),
            Err(_) => Err(sqlx::Error::PoolTimedOut.into()),
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}
