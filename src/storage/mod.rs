//! Storage: the one place that holds SQL. SQLite (embedded default) and PostgreSQL share the same
//! statements; `dispatch!` compiles each body once per backend, so a query that does not type-check
//! on one of them does not build. Placeholders are `$1, $2, …`, which sqlx-sqlite binds by number.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

/// Runs `$body` with `$pool` bound to the concrete pool of the configured backend.
macro_rules! dispatch {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::storage::Pool::Sqlite(sqlite) => {
                let $pool = &sqlite.read;
                $body
            }
            $crate::storage::Pool::Postgres($pool) => $body,
        }
    };
}

/// Like `dispatch!`, for single statements that write: on SQLite they go to the write
/// connection, queued with the write transactions, because a write from any other connection
/// makes the write connection drop its whole page cache (see `sqlite.rs`). For the engine's
/// writes between pages (leases, runs, cursors); a rare write elsewhere may use `dispatch!`.
macro_rules! dispatch_write {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.pool {
            $crate::storage::Pool::Sqlite(sqlite) => {
                let _queued = sqlite.queue.lock().await;
                let $pool = &sqlite.write;
                let out = $body;
                sqlite.committed();
                out
            }
            $crate::storage::Pool::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` (an expression of type `Result<T, StoreError>`) in a write transaction bound to
/// `$tx`, committing when it is `Ok`. SQLite transactions start with `BEGIN IMMEDIATE`: a
/// deferred transaction that reads first and writes later can fail with SQLITE_BUSY at once in
/// WAL mode, whatever the busy timeout.
macro_rules! transaction {
    ($db:expr, $tx:ident => $body:expr) => {
        match &$db.pool {
            $crate::storage::Pool::Sqlite(sqlite) => {
                // One writer at a time in this process: queued here instead of sleeping in
                // SQLite's busy handler, which polls and can wake long after the lock is free.
                let _queued = sqlite.queue.lock().await;
                // BEGIN and COMMIT by hand on the write connection: a COMMIT SQLite refuses
                // (a full disk, a deferred constraint) leaves the transaction open, and sqlx's
                // own bookkeeping then refused every later transaction on the connection until a
                // restart. `sqlite::abandon` rolls back, or closes a connection it cannot clean.
                let mut $tx = sqlite
                    .write
                    .acquire()
                    .await
                    .map_err($crate::storage::StoreError::from)?;
                if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *$tx).await {
                    $crate::storage::sqlite::abandon(&mut $tx).await;
                    Err($crate::storage::StoreError::from(e))?;
                }
                let out = $body;
                if out.is_ok() {
                    if let Err(e) = sqlx::query("COMMIT").execute(&mut *$tx).await {
                        $crate::storage::sqlite::abandon(&mut $tx).await;
                        Err($crate::storage::StoreError::from(e))?;
                    }
                    sqlite.committed();
                } else {
                    $crate::storage::sqlite::abandon(&mut $tx).await;
                }
                out
            }
            $crate::storage::Pool::Postgres(pool) => {
                let mut $tx = pool
                    .begin()
                    .await
                    .map_err($crate::storage::StoreError::from)?;
                let out = $body;
                if out.is_ok() {
                    $tx.commit()
                        .await
                        .map_err($crate::storage::StoreError::from)?;
                }
                out
            }
        }
    };
}

/// Inside a `transaction!` body: writes `$record` (an `&AuditRecord`) to the audit log, so a
/// change and its audit entry commit or roll back together.
macro_rules! audit_in {
    ($tx:ident, $record:expr) => {{
        let r: &$crate::storage::audit::AuditRecord = $record;
        let esc = |v: &Option<String>| v.as_deref().map($crate::storage::audit::escape_control);
        sqlx::query($crate::storage::audit::INSERT)
            .bind(chrono::Utc::now())
            .bind(r.actor_id)
            .bind(esc(&r.actor))
            .bind(esc(&r.ip))
            .bind(r.action)
            .bind(esc(&r.target))
            .bind(esc(&r.details))
            .execute(&mut *$tx)
            .await?;
    }};
}

pub mod admins;
pub mod api_tokens;
pub mod audit;
pub mod backup;
pub mod changes;
pub mod event_row;
mod event_writes;
pub mod instances;
pub mod profiles;
pub mod reading;
pub mod reception;
pub mod room_lists;
pub mod rooms;
pub mod sessions;
pub mod settings;
pub mod setup;
mod sqlite;
pub(crate) use sqlite::SqlitePools;
pub mod subscription_list;
pub mod subscriptions;
pub mod sync;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
pub mod throttle;
pub mod webhooks;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Errors of the storage layer. Messages never contain stored values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record not found")]
    NotFound,
    #[error("a record with this key already exists")]
    Duplicate,
    #[error("the record was changed by someone else in the meantime")]
    Conflict,
    #[error("at least one active admin with the admin role must remain")]
    LastAdmin,
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("backup failed: {0}")]
    Backup(String),
    /// Another process has the SQLite file open (a restore needs it to itself), or a restore
    /// is replacing it.
    #[error("{0}")]
    InUse(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Duplicate,
            _ => Self::Database(err),
        }
    }
}

impl From<crate::model::UnknownValue> for StoreError {
    fn from(e: crate::model::UnknownValue) -> Self {
        Self::Corrupt(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// Creates a directory readable by the owner only: it holds password hashes and sealed secrets.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// A handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pub(crate) pool: Pool,
    /// A shared lock on the SQLite file's lock file while this handle lives, so that a restore
    /// can tell that the database is in use (none for PostgreSQL).
    _in_use: Option<std::sync::Arc<std::fs::File>>,
}

impl Db {
    /// Connects by URL scheme (`sqlite:` or `postgres:`); creates the SQLite file if needed.
    pub async fn connect(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?;
            if let Some(dir) = options.get_filename().parent()
                && !dir.as_os_str().is_empty()
                && !dir.exists()
            {
                create_private_dir(dir).map_err(|e| {
                    StoreError::Database(sqlx::Error::Configuration(
                        format!("cannot create {}: {e}", dir.display()).into(),
                    ))
                })?;
            }
            Self::connect_sqlite(options).await
        } else {
            Self::connect_postgres(PgConnectOptions::from_str(url)?).await
        }
    }

    pub async fn connect_sqlite_file(path: &Path) -> Result<Self> {
        Self::connect_sqlite(SqliteConnectOptions::new().filename(path)).await
    }

    async fn connect_sqlite(options: SqliteConnectOptions) -> Result<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // After a checkpoint the write-ahead log is cut back to this size (64 MiB) instead
            // of keeping its largest size for good.
            .pragma("journal_size_limit", "67108864");
        let in_use = backup::hold_shared(options.get_filename())?;
        Ok(Self {
            pool: Pool::Sqlite(SqlitePools::connect(options).await?),
            _in_use: in_use.map(std::sync::Arc::new),
        })
    }

    /// Connects to PostgreSQL with every connection's `search_path` set to `schema`
    /// (tests give each case a fresh schema).
    pub async fn connect_postgres_schema(url: &str, schema: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?.options([("search_path", schema)]);
        Self::connect_postgres(options).await
    }

    async fn connect_postgres(options: PgConnectOptions) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self {
            pool: Pool::Postgres(pool),
            _in_use: None,
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies pending migrations. They are forward-only; a database that is newer than this
    /// binary (it has migrations this build does not know) is refused.
    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(sqlite) => SQLITE_MIGRATIONS.run(&sqlite.read).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Whether every migration this build knows has been applied (readiness).
    pub async fn migrations_applied(&self) -> Result<bool> {
        let sql = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
        let (applied, known): (i64, usize) = match &self.pool {
            Pool::Sqlite(sqlite) => (
                sqlx::query_scalar(sql).fetch_one(&sqlite.read).await?,
                SQLITE_MIGRATIONS.iter().count(),
            ),
            Pool::Postgres(pool) => (
                sqlx::query_scalar(sql).fetch_one(pool).await?,
                POSTGRES_MIGRATIONS.iter().count(),
            ),
        };
        Ok(usize::try_from(applied).is_ok_and(|a| a >= known))
    }

    /// Whether `key` opens the database's key canary, i.e. can decrypt what is stored (no
    /// canary yet: nothing is sealed, so it fits).
    pub async fn key_fits(&self, key: &crate::crypto::SecretKey) -> Result<bool> {
        use crate::crypto::context::{CANARY_SETTING, CANARY_TEXT, KEY_CANARY};
        Ok(match self.setting(CANARY_SETTING).await? {
            None => true,
            Some(sealed) => key
                .open(KEY_CANARY, &sealed)
                .is_ok_and(|plain| plain.as_slice() == CANARY_TEXT),
        })
    }

    /// A committed write of one fixed row, for readiness checks.
    /// A write through the path every write transaction takes (on SQLite the one write
    /// connection), so that readiness fails while the application's writes would.
    pub async fn write_probe(&self) -> Result<()> {
        let sql = "INSERT INTO health_probe (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at";
        transaction!(self, tx => async {
            sqlx::query(sql).bind(chrono::Utc::now()).execute(&mut *tx).await?;
            Ok(())
        }
        .await)
    }

    /// A trivial round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(sqlite) => sqlite.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// `%text%` for `lower(column) LIKE $n ESCAPE '\'`, lower-cased, LIKE's wildcards taken
/// literally; `None` for blank text (no filter).
pub(crate) fn like_pattern(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut p = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    Some(p)
}
