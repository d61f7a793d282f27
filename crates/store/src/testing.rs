//! Fresh databases for tests (feature `test-util`): a SQLite file in a temp dir, or a new
//! PostgreSQL database on the local server. A test that needs PostgreSQL fails loudly without it.

use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// The server every CI run has; override with `CHARGEBRIDGE_TEST_POSTGRES_URL`.
pub fn postgres_admin_url() -> String {
    std::env::var("CHARGEBRIDGE_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestDatabase {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn new(backend: TestBackend) -> Self {
        match backend {
            TestBackend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self { url, pg_name: None, _dir: Some(dir) }
            }
            TestBackend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| panic!("PostgreSQL is required for this test ({admin}): {e}"));
                let name = format!("cb_test_{}", uuid::Uuid::now_v7().simple());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.expect("create test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).expect("URL with a database name");
                Self { url: format!("{base}/{name}"), pg_name: Some(name), _dir: None }
            }
        }
    }

    /// Drops the PostgreSQL database (close pools on it first).
    pub async fn drop_database(&self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await;
        }
    }
}
