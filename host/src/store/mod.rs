//! The store: SQLite (embedded default) or PostgreSQL, chosen by URL, behind one sqlx `Any` pool.
//! The SQL is shared; [`Dialect`] covers the few places where the two differ.

pub mod attachments;
pub mod calls;
pub mod channels;
pub mod bulk;
pub mod ingest;
pub mod conversations;
pub mod direct;
pub mod events;
pub mod outbox;
pub mod schema;
pub mod secrets;
pub mod sql;
pub mod users;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::str::FromStr;
use std::time::Duration;

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite in WAL mode, one file.
    Sqlite,
    /// PostgreSQL, possibly shared by several hosts.
    Postgres,
}

impl Dialect {
    /// What a lease claim's inner `SELECT` ends with: on PostgreSQL, rows another host is
    /// claiming are skipped rather than waited for; SQLite has one writer and needs nothing.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        }
    }
}

/// A connected, migrated database.
#[derive(Clone)]
pub struct Db {
    /// The pool.
    pub pool: AnyPool,
    /// Which database it is.
    pub dialect: Dialect,
}

/// Set up a new connection. On SQLite, WAL lets readers work beside the writer, and FULL makes
/// every commit durable before it returns, which is what lets a webhook be acknowledged.
async fn configure(conn: &mut sqlx::AnyConnection, dialect: Dialect) -> sqlx::Result<()> {
    if dialect == Dialect::Sqlite {
        for pragma in SQLITE_PRAGMAS {
            conn.execute(*pragma).await?;
        }
    }
    Ok(())
}

/// How every SQLite connection is set up, the pool's and the ingest writer's own.
const SQLITE_PRAGMAS: &[&str] =
    &["PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA busy_timeout = 10000", "PRAGMA foreign_keys = ON"];

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Db {
    /// Begin a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes later cannot wait
    /// for another writer and fails with "database is locked".
    pub async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
        }
    }

    /// A connection of its own for a long-lived task, set up as the pool's are but outside it,
    /// opened in the caller's runtime (a PostgreSQL socket is served by the runtime that opened
    /// it, and the ingest writers run on runtimes of their own).
    pub async fn open_connection(&self) -> sqlx::Result<sqlx::AnyConnection> {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect_with(&self.pool.connect_options()).await?;
        configure(&mut conn, self.dialect).await?;
        Ok(conn)
    }

    /// On SQLite, a connection of its own driven on the caller's thread (see [`direct`]); none
    /// for an in-memory database, which only the pool's connections share.
    pub fn open_direct(&self) -> sqlx::Result<Option<direct::DirectSqlite>> {
        if self.dialect != Dialect::Sqlite {
            return Ok(None);
        }
        let options = sqlx::sqlite::SqliteConnectOptions::try_from(&*self.pool.connect_options())?;
        let path = options.get_filename();
        if path.as_os_str().is_empty() || path.to_string_lossy().starts_with("file:") || path.to_string_lossy().contains(":memory:") {
            return Ok(None);
        }
        direct::DirectSqlite::open(path, SQLITE_PRAGMAS).map(Some)
    }

    /// Connect to `url` (creating a SQLite file if needed) and apply pending migrations.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") { Dialect::Sqlite } else { Dialect::Postgres };
        let url = match dialect {
            Dialect::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| anyhow::anyhow!("storage.url is not a valid database URL: {e}"))?;
        let pool = AnyPoolOptions::new()
            // A connection is checked when a query on it fails, not with an extra round trip
            // (to SQLite's worker thread, or to PostgreSQL) before every query.
            .test_before_acquire(false)
            .max_connections(match dialect {
                Dialect::Sqlite => 8,
                Dialect::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| Box::pin(configure(conn, dialect)))
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the database at storage.url: {e}"))?;
        let db = Db { pool, dialect };
        if dialect == Dialect::Postgres {
            db.require_postgres_13().await?;
        }
        db.migrate().await?;
        Ok(db)
    }

    /// The event stream orders events by transaction id (`xid8`, `pg_current_xact_id`), which
    /// PostgreSQL has had since version 13.
    async fn require_postgres_13(&self) -> anyhow::Result<()> {
        let version: String = sqlx::query_scalar("SHOW server_version_num").fetch_one(&self.pool).await?;
        match version.trim().parse::<u32>() {
            Ok(number) if number >= 130_000 => Ok(()),
            _ => anyhow::bail!("storage.url points at PostgreSQL {version}; Switchboard needs PostgreSQL 13 or newer: upgrade the server"),
        }
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        let mut tx = self.begin_write().await?;
        if self.dialect == Dialect::Postgres {
            // Hosts starting together on one database migrate one at a time.
            sqlx::query("SELECT pg_advisory_xact_lock(7301001)").execute(&mut *tx).await?;
        }
        tx.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            .await?;
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations").fetch_all(&mut *tx).await?;
        let serial = match self.dialect {
            Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
            Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
        };
        for (version, sql) in schema::MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                let statement = match (statement.strip_prefix("{postgres}"), self.dialect) {
                    (None, _) => statement,
                    (Some(statement), Dialect::Postgres) => statement,
                    (Some(_), Dialect::Sqlite) => continue,
                };
                let (blob, event_tx) = match self.dialect {
                    Dialect::Sqlite => ("BLOB", "BIGINT NOT NULL DEFAULT 0"),
                    Dialect::Postgres => ("BYTEA", "xid8 NOT NULL DEFAULT pg_current_xact_id()"),
                };
                let statement = statement.replace("{serial}", serial).replace("{blob}", blob).replace("{event_tx}", event_tx);
                tx.execute(statement.as_str())
                    .await
                    .map_err(|e| anyhow::anyhow!("migration {version} failed: {e}"))?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            tracing::info!(version, "database migrated");
        }
        tx.commit().await?;
        Ok(())
    }
}
