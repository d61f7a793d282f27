//! Files only this service may read: the SQLite database (and the WAL and shared-memory files
//! SQLite creates beside it with the database's own mode), the data directory we create, the
//! uploaded documents. Created 0600 / 0700 whatever the process umask; an existing database
//! left world-readable by an older version is tightened.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Creates `dir` (and missing parents) as 0700. An existing directory keeps its mode: the
/// default data directory is the working directory, which is not ours to change.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).with_context(|| format!("creating {}", dir.display()))
}

/// The file of a `sqlite:` URL; `None` for PostgreSQL and in-memory databases.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Creates the SQLite database file as 0600 before SQLite opens it (SQLite gives its WAL and
/// shared-memory files the database's mode), or tightens existing ones to 0600.
pub fn prepare_sqlite_file(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| format!("creating {}", path.display()))?;
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).with_context(|| format!("restricting {}", file.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(sqlite_file("sqlite://data/cb.db"), Some(PathBuf::from("data/cb.db")));
        assert_eq!(sqlite_file("sqlite:///var/lib/cb.db?mode=rwc"), Some(PathBuf::from("/var/lib/cb.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }
}
