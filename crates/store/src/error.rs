/// What can go wrong in storage, as the services need to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A unique constraint refused the row; `constraint` names the column(s) when known.
    #[error("duplicate value for {constraint}")]
    Duplicate { constraint: String },
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Worth running the transaction again: a PostgreSQL deadlock victim (40P01) or
    /// serialization failure (40001), or SQLite busy or locked beyond its timeout (primary
    /// codes 5 and 6, with their extended codes such as BUSY_RECOVERY after a crash).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) => match db.code().as_deref() {
                Some("40P01" | "40001") => true,
                Some(code) => code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6)),
                None => false,
            },
            _ => false,
        }
    }

    /// The database cannot be reached right now: the server is down or unreachable, refuses
    /// connections (shutting down, starting up, too many clients, database gone), or no pooled
    /// connection came free within the acquire timeout. Nothing was written; the request can
    /// be made again later, and the pool reconnects by itself once the server is back.
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(e) = self else { return false };
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
            // Class 08: connection exceptions; 57P0x: shutdown / cannot connect now; 53300: too
            // many connections; 3D000: the database does not exist (any more).
            sqlx::Error::Database(db) => {
                db.code().is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300" | "3D000"))
            }
            _ => false,
        }
    }
}

/// Turns a unique violation into `Error::Duplicate` so callers can answer "already registered"
/// instead of a 500 (both SQLite and PostgreSQL report it through `is_unique_violation`).
pub(crate) fn on_unique(e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let message = db.message().to_owned();
        let constraint = db.constraint().map(str::to_owned).or_else(|| message.rsplit_once(": ").map(|(_, c)| c.to_owned())).unwrap_or(message);
        return Error::Duplicate { constraint };
    }
    Error::Database(e)
}
