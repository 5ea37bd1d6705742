//! SQLite's connections: readers, the one connection write transactions use, and the
//! checkpointer that copies the write-ahead log back into the database file.
//!
//! Why one write connection: in WAL mode a connection drops its whole page cache when another
//! one has written since its last transaction; with the writes spread over the pool every page
//! of an import started cold, re-reading the B-trees' upper levels from the file.
//!
//! Why a checkpointer of its own: by default the connection whose commit makes the log pass
//! 1,000 pages copies it back, syncing log and database file on the way (`synchronous=NORMAL`
//! syncs only at checkpoints). That is the writer, so every few pages of an import waited for
//! two fsyncs while all other writes queued behind it. A passive checkpoint needs no write lock
//! (sqlite.org/wal.html, "Checkpointing"): done here, beside the writer, it costs the writer
//! nothing. The writer still checkpoints once the log is past `BACKSTOP_PAGES`, so the log stays
//! bounded when the checkpointer cannot keep up (a passive checkpoint cannot complete while
//! writes go on, and only a complete one lets the next writer start the log over).

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tokio::sync::Notify;

use super::Result;

/// Log size (pages of 4 KiB) at which a committing connection checkpoints itself.
const BACKSTOP_PAGES: &str = "8192";
/// Commits within this time share one checkpoint.
const GATHER: Duration = Duration::from_millis(250);

#[derive(Clone, Debug)]
pub(crate) struct SqlitePools {
    pub(crate) read: SqlitePool,
    pub(super) write: SqlitePool,
    /// Orders this process's write transactions (the pool of one would too, but with a timeout).
    pub(super) queue: Arc<tokio::sync::Mutex<()>>,
    checkpointer: Arc<Checkpointer>,
}

impl SqlitePools {
    pub(super) async fn connect(options: SqliteConnectOptions) -> Result<Self> {
        let options = options.pragma("wal_autocheckpoint", BACKSTOP_PAGES);
        let read = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        // Kept open for good, so its cache stays warm; a larger cache than a reader's (16 MiB
        // instead of 2) holds the indexes' upper levels of a few hundred thousand events.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.pragma("cache_size", "-16384"))
            .await?;
        let due = Arc::new(Notify::new());
        let task = tokio::spawn(checkpoints(read.clone(), due.clone())).abort_handle();
        Ok(Self {
            read,
            write,
            queue: Default::default(),
            checkpointer: Arc::new(Checkpointer { due, task }),
        })
    }

    /// Tells the checkpointer that a write transaction committed.
    pub(super) fn committed(&self) {
        self.checkpointer.due.notify_one();
    }

    pub(super) async fn close(&self) {
        self.checkpointer.task.abort();
        self.write.close().await;
        self.read.close().await;
    }
}

/// Ends a write transaction that did not commit. ROLLBACK, where SQLite may already have
/// rolled back on its own ("no transaction is active" is then fine); a connection that cannot
/// roll back is closed, and the pool opens a fresh one for the next writer, so no failed write
/// leaves the writer inside a transaction.
pub(crate) async fn abandon(conn: &mut sqlx::pool::PoolConnection<sqlx::Sqlite>) {
    match sqlx::query("ROLLBACK").execute(&mut **conn).await {
        Ok(_) => {}
        Err(e) if e.to_string().contains("no transaction is active") => {}
        Err(e) => {
            tracing::warn!(error = %e, "the SQLite write connection could not roll back; replacing it");
            conn.close_on_drop();
        }
    }
}

/// The checkpoint task's handle; the task ends with the last clone of the pools.
#[derive(Debug)]
struct Checkpointer {
    due: Arc<Notify>,
    task: tokio::task::AbortHandle,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn checkpoints(pool: SqlitePool, due: Arc<Notify>) {
    loop {
        due.notified().await;
        tokio::time::sleep(GATHER).await;
        if pool.is_closed() {
            return;
        }
        // Busy (another checkpoint running) is not an error; anything else is worth a line, and
        // the writer's backstop checkpoint keeps the log bounded meanwhile.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "checkpoint of the SQLite write-ahead log failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::storage::{Db, Result};

    /// A committed write reaches the database file itself soon, without further writes: the
    /// checkpointer copied it back (below the writer's backstop, nobody else would).
    #[tokio::test]
    async fn commits_are_checkpointed_beside_the_writer() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("datapump.db");
        let db = Db::connect_sqlite_file(&path).await.expect("connect");
        db.migrate().await.expect("migrate");
        let marker = "checkpointed-marker-5f1c";
        let write = async {
            transaction!(db, tx => async {
                sqlx::query("INSERT INTO settings (name, value) VALUES ('probe', $1)")
                    .bind(marker)
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            }
            .await)
        };
        let written: Result<()> = write.await;
        written.expect("write");
        let in_file = || {
            std::fs::read(&path)
                .expect("read file")
                .windows(marker.len())
                .any(|w| w == marker.as_bytes())
        };
        let started = Instant::now();
        while !in_file() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the commit is still only in the write-ahead log"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            db.setting("probe").await.expect("read").as_deref(),
            Some(marker)
        );
        db.close().await;
    }
}
