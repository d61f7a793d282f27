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
    /// Worth running the transaction again: a PostgreSQL deadlock victim or serialization
    /// failure, or SQLite busy beyond its timeout.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40P01" | "40001" | "5" | "6"))
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
