//! Backups of the SQLite database, pruning them, restoring one; and the lock that tells a
//! restore whether anything has the database open. (PostgreSQL: `pg_dump` / `pg_restore`.)

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{Db, Pool, Result, SQLITE_MIGRATIONS, SqlitePools, StoreError};
use crate::crypto::SecretKey;

/// Name pattern of the files `backup --dir` writes; the UTC time sorts them.
const NAME_PREFIX: &str = "datapump-";
const NAME_SUFFIX: &str = ".db";
const NAME_TIME: &str = "%Y%m%dT%H%M%S%.3fZ";

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Takes a shared lock on `<db>.lock` for as long as the returned file lives: every process
/// that opens the database holds one, a restore needs the exclusive lock.
pub(super) fn hold_shared(db: &Path) -> Result<Option<File>> {
    if db.as_os_str().is_empty() || db == Path::new(":memory:") {
        return Ok(None);
    }
    let file = open_lock_file(db)?;
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Err(StoreError::InUse(format!(
            "a restore is replacing {}; start again when it is done",
            db.display()
        ))),
        Err(TryLockError::Error(e)) => Err(io_error(&with_suffix(db, ".lock"), e)),
    }
}

/// The exclusive lock of a serving instance on `<db>.serve.lock`, held for as long as the
/// returned file lives: a second `serve` on the same SQLite file would run a second scheduler
/// beside the first, so it is refused (commands such as `sync --once` or `backup` do not take
/// it). Nothing for PostgreSQL, where instances share the work (`engine_instances`).
pub fn hold_serving(database_url: &str) -> Result<Option<File>> {
    if !database_url.starts_with("sqlite:") {
        return Ok(None);
    }
    let options =
        <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(database_url)?;
    let db = options.get_filename();
    if db.as_os_str().is_empty() || db == Path::new(":memory:") {
        return Ok(None);
    }
    if let Some(dir) = db.parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        return Ok(None);
    }
    let file = open_named_lock(db, ".serve.lock")?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Err(StoreError::InUse(format!(
            "another `datapump serve` is running on {}: SQLite serves one instance at a time \
             (several instances need PostgreSQL); stop the other one first",
            db.display()
        ))),
        Err(TryLockError::Error(e)) => Err(io_error(&with_suffix(db, ".serve.lock"), e)),
    }
}

fn open_lock_file(db: &Path) -> Result<File> {
    open_named_lock(db, ".lock")
}

fn open_named_lock(db: &Path, suffix: &str) -> Result<File> {
    let path = with_suffix(db, suffix);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(&path).map_err(|e| io_error(&path, e))
}

fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Backup(format!("{}: {e}", path.display()))
}

/// Creates an empty file readable and writable by its owner only; refuses an existing one.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop).map_err(|e| io_error(path, e))
}

async fn read_only(path: &Path) -> Result<sqlx::SqlitePool> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true);
    Ok(sqlx::SqlitePool::connect_with(options).await?)
}

/// Opens a copy read-only and runs SQLite's integrity check on it.
async fn verify_sqlite(path: &Path) -> Result<()> {
    let pool = read_only(path).await?;
    let result: Result<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .map_err(Into::into);
    pool.close().await;
    match result?.as_str() {
        "ok" => Ok(()),
        other => Err(StoreError::Backup(format!(
            "the copy failed its integrity check: {}",
            other.chars().take(200).collect::<String>()
        ))),
    }
}

impl Db {
    /// A consistent copy of a running SQLite database (`VACUUM INTO`: readers and the importer
    /// carry on meanwhile), integrity-checked before it counts. Returns false for PostgreSQL,
    /// whose tool for this is `pg_dump`.
    pub async fn backup_sqlite(&self, to: &Path) -> Result<bool> {
        let Pool::Sqlite(SqlitePools { read: pool, .. }) = &self.pool else {
            return Ok(false);
        };
        // The copy holds sealed secrets and the audit log: readable by its owner only, from
        // the moment it exists (VACUUM INTO fills an empty file that is already there).
        create_private_file(to)?;
        let copied = sqlx::query("VACUUM INTO $1")
            .bind(to.to_string_lossy().into_owned())
            .execute(pool)
            .await;
        let verified = match copied {
            Ok(_) => verify_sqlite(to).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = verified {
            let _ = std::fs::remove_file(to);
            return Err(e);
        }
        Ok(true)
    }
}

/// The file name of a backup made at `at` in a backup directory.
pub fn timestamped_name(at: DateTime<Utc>) -> String {
    format!("{NAME_PREFIX}{}{NAME_SUFFIX}", at.format(NAME_TIME))
}

fn backup_time(name: &str) -> Option<NaiveDateTime> {
    let stamp = name.strip_prefix(NAME_PREFIX)?.strip_suffix(NAME_SUFFIX)?;
    NaiveDateTime::parse_from_str(stamp, NAME_TIME).ok()
}

/// Deletes all but the newest `keep` backups in `dir` (only files named as `backup --dir`
/// names them; anything else there is left alone). Returns the deleted files.
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let mut backups: Vec<(NaiveDateTime, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|entry| {
            let name = entry.file_name();
            backup_time(name.to_str()?).map(|t| (t, entry.path()))
        })
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep);
    let mut deleted = Vec::new();
    for (_, path) in backups.into_iter().take(excess) {
        std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        deleted.push(path);
    }
    Ok(deleted)
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// Where the database that was replaced went (none if there was none).
    pub previous: Option<PathBuf>,
}

/// Checks that `backup` is a sound Datapump database this build can run, whose secrets `key`
/// opens.
async fn check_backup(backup: &Path, key: &SecretKey) -> Result<()> {
    verify_sqlite(backup).await?;
    let pool = read_only(backup).await?;
    let versions: std::result::Result<Vec<i64>, sqlx::Error> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&pool)
            .await;
    let canary: std::result::Result<Option<String>, sqlx::Error> =
        sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(crate::crypto::context::CANARY_SETTING)
            .fetch_optional(&pool)
            .await;
    pool.close().await;
    let not_ours = |_| StoreError::Backup("the file is not a Datapump database".into());
    let versions = versions.map_err(not_ours)?;
    if versions.is_empty() {
        return Err(StoreError::Backup(
            "the file is not a Datapump database".into(),
        ));
    }
    if let Some(unknown) = versions
        .iter()
        .find(|v| !SQLITE_MIGRATIONS.iter().any(|m| m.version == **v))
    {
        return Err(StoreError::Backup(format!(
            "the backup was made by a newer Datapump (migration {unknown}); restore it with that version"
        )));
    }
    use crate::crypto::context::{CANARY_TEXT, KEY_CANARY};
    // Every Datapump database that ever started holds the canary: one without it cannot be
    // checked against the key (and restored, it would get a new canary, its secrets lost).
    let Some(sealed) = canary.map_err(not_ours)? else {
        return Err(StoreError::Backup(
            "the backup has no key canary, so it cannot be checked against the secret key: \
             it was not made by a Datapump that ran, or was altered"
                .into(),
        ));
    };
    if !key
        .open(KEY_CANARY, &sealed)
        .is_ok_and(|plain| plain.as_slice() == CANARY_TEXT)
    {
        return Err(StoreError::Backup(
            "the secret key does not open this backup's secrets: put the key file that belongs \
             to the backup in place first"
                .into(),
        ));
    }
    check_schema(backup, &versions).await
}

/// The schema objects (tables, indexes, triggers, views) of a database, by type and name, with
/// their SQL with runs of white space as one space.
async fn schema_of(
    pool: &sqlx::SqlitePool,
) -> Result<std::collections::BTreeMap<(String, String), String>> {
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(kind, name, sql)| {
            let sql = sql
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            ((kind, name), sql)
        })
        .collect())
}

/// Refuses a backup whose schema is not exactly what this build's migrations (those the backup
/// has applied) create: a trigger or view planted in a backup would run in the restored
/// instance — one emptied the audit log after every sign-in.
async fn check_schema(backup: &Path, versions: &[i64]) -> Result<()> {
    let reference = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str("sqlite::memory:")?
                .foreign_keys(true),
        )
        .await?;
    for m in SQLITE_MIGRATIONS
        .iter()
        .filter(|m| versions.contains(&m.version))
    {
        sqlx::raw_sql(m.sql.clone()).execute(&reference).await?;
    }
    let expected = schema_of(&reference).await?;
    reference.close().await;
    let pool = read_only(backup).await?;
    let found = schema_of(&pool).await;
    pool.close().await;
    let found = found?;
    let unknown: Vec<String> = found
        .iter()
        .filter(|(k, sql)| expected.get(*k) != Some(*sql))
        .map(|((kind, name), _)| format!("{kind} {name}"))
        .collect();
    let missing: Vec<String> = expected
        .keys()
        .filter(|k| !found.contains_key(*k))
        .map(|(kind, name)| format!("{kind} {name}"))
        .collect();
    if unknown.is_empty() && missing.is_empty() {
        return Ok(());
    }
    Err(StoreError::Backup(format!(
        "the backup's schema is not what Datapump creates (not created by Datapump or changed: {}; missing: {}): refused",
        if unknown.is_empty() {
            "none".into()
        } else {
            unknown.join(", ")
        },
        if missing.is_empty() {
            "none".into()
        } else {
            missing.join(", ")
        },
    )))
}

/// Replaces the SQLite database at `db` with `backup`, after checking it. Refuses while any
/// process has the database open. The database it replaces is kept beside it (with its
/// write-ahead log, if one was left), and stale `-wal`/`-shm` files are cleared away, so that
/// SQLite cannot apply an old log to the restored file.
pub async fn restore_sqlite(backup: &Path, db: &Path, key: &SecretKey) -> Result<Restored> {
    let lock = open_lock_file(db)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(StoreError::InUse(
                "Datapump is using the database (a running server or command): stop it first"
                    .into(),
            ));
        }
        Err(TryLockError::Error(e)) => return Err(io_error(&with_suffix(db, ".lock"), e)),
    }
    check_backup(backup, key).await?;

    let staged = with_suffix(db, ".restoring");
    let _ = std::fs::remove_file(&staged);
    create_private_file(&staged)?;
    let copied = (|| -> std::io::Result<()> {
        let mut from = File::open(backup)?;
        let mut to = OpenOptions::new().write(true).open(&staged)?;
        std::io::copy(&mut from, &mut to)?;
        to.sync_all()
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&staged);
        return Err(io_error(&staged, e));
    }

    let previous = if db.exists() {
        let previous = with_suffix(
            db,
            &format!(".before-restore-{}", Utc::now().format("%Y%m%dT%H%M%SZ")),
        );
        std::fs::rename(db, &previous).map_err(|e| io_error(db, e))?;
        let wal = with_suffix(db, "-wal");
        if wal.exists() {
            std::fs::rename(&wal, with_suffix(&previous, "-wal")).map_err(|e| io_error(&wal, e))?;
        }
        Some(previous)
    } else {
        None
    };
    for sidecar in ["-wal", "-shm", "-journal"] {
        let path = with_suffix(db, sidecar);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        }
    }
    std::fs::rename(&staged, db).map_err(|e| io_error(db, e))?;
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the renames durable.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    drop(lock);
    Ok(Restored { previous })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Edits a copy of `from` at `to` with `sql`, as someone holding the file could.
    async fn altered(from: &Path, to: &Path, sql: &str) {
        std::fs::copy(from, to).expect("copy");
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", to.display()))
            .await
            .expect("open");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&pool)
            .await
            .expect("alter");
        pool.close().await;
    }

    /// A restore requires the key canary and refuses schema objects Datapump's migrations do
    /// not create (issue 30, item 6): a planted trigger or a deleted canary is refused before
    /// anything is replaced; the untouched backup restores.
    #[tokio::test]
    async fn restore_refuses_planted_objects_and_a_missing_canary() {
        use crate::crypto::context::{CANARY_SETTING, CANARY_TEXT, KEY_CANARY};
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::connect_sqlite_file(&dir.path().join("live.db"))
            .await
            .expect("sqlite");
        db.migrate().await.expect("migrate");
        let key = SecretKey::generate();
        db.set_setting(CANARY_SETTING, &key.seal(KEY_CANARY, CANARY_TEXT))
            .await
            .expect("canary");
        let clean = dir.path().join("clean.db");
        db.backup_sqlite(&clean).await.expect("backup");
        db.close().await;

        let planted = dir.path().join("planted.db");
        altered(
            &clean,
            &planted,
            "CREATE TRIGGER wipe AFTER INSERT ON sessions BEGIN DELETE FROM audit_log; END;",
        )
        .await;
        let target = dir.path().join("target.db");
        let refused = restore_sqlite(&planted, &target, &key).await;
        assert!(
            matches!(&refused, Err(StoreError::Backup(m)) if m.contains("trigger wipe")),
            "{refused:?}"
        );
        assert!(!target.exists(), "nothing replaced");

        let bare = dir.path().join("bare.db");
        altered(
            &clean,
            &bare,
            &format!("DELETE FROM settings WHERE name = '{CANARY_SETTING}'"),
        )
        .await;
        let refused = restore_sqlite(&bare, &target, &key).await;
        assert!(
            matches!(&refused, Err(StoreError::Backup(m)) if m.contains("no key canary")),
            "{refused:?}"
        );

        restore_sqlite(&clean, &target, &key)
            .await
            .expect("the untouched backup restores");
    }

    #[test]
    fn prune_keeps_the_newest_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().expect("dir");
        let base = Utc::now();
        let mut names = Vec::new();
        for i in 0..5 {
            let name = timestamped_name(base + chrono::Duration::milliseconds(i * 1500));
            std::fs::write(dir.path().join(&name), b"x").expect("write");
            names.push(name);
        }
        std::fs::write(dir.path().join("notes.txt"), b"mine").expect("write");
        std::fs::write(dir.path().join("datapump-latest.db"), b"mine").expect("write");
        let deleted = prune(dir.path(), 2).expect("prune");
        assert_eq!(deleted.len(), 3);
        for (i, name) in names.iter().enumerate() {
            assert_eq!(dir.path().join(name).exists(), i >= 3, "{name}");
        }
        assert!(dir.path().join("notes.txt").exists());
        assert!(dir.path().join("datapump-latest.db").exists());
    }
}
