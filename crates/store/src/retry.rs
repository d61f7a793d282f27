//! Running a write transaction again when the database only said "not now".
//!
//! SQLite has one writer: a transaction that waited longer than the busy timeout for the write
//! lock fails with "database is locked" (SQLITE_BUSY), and so may the first writes after a crash
//! while another connection recovers the WAL. PostgreSQL ends one transaction of a deadlock
//! (40P01) or a serialization conflict (40001). In each case nothing was written, and the same
//! work run again from `BEGIN` succeeds. Every multi-row writer goes through [`Db::retry`], so a
//! pile's StopTransaction or a catalog sync never fails because the database was merely busy.
//!
//! An unreachable database is not retried here: the pool already waited its acquire timeout,
//! and the caller answers "unavailable, retry later" at once (see `Error::is_unavailable`).

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::{Db, Error};

/// Errors after which the whole transaction may simply be run again.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for Error {
    fn is_transient(&self) -> bool {
        Error::is_transient(self)
    }
}

/// Attempts after the first. With the backoff below they span about two seconds of waiting,
/// on top of each attempt's own wait for the lock (SQLite's busy timeout).
const RETRIES: usize = 6;

impl Db {
    /// Runs `attempt` — one whole transaction, from `begin` to `commit` — and runs it again
    /// (after a short, jittered, growing pause) while it fails with a transient error.
    /// `what` names the work in the log line of each retry.
    pub async fn retry<T, E, F, Fut>(&self, what: &'static str, attempt: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Transient + std::fmt::Display,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(20))
            .with_max_delay(Duration::from_millis(640))
            .with_max_times(RETRIES)
            .with_jitter();
        attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e: &E| e.is_transient())
            .notify(|e: &E, wait: Duration| tracing::info!(what, error = %e, ?wait, backend = ?self.backend(), "transaction refused as busy; running it again"))
            .await
    }
}
