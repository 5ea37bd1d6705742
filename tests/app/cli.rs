//! The binary itself: configuration errors, the admin commands, start-up checks.

use std::io::Write;
use std::process::{Command, Stdio};

fn datapump(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_datapump"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATAPUMP_DATA_DIR", dir)
        .env("DATAPUMP_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

#[test]
fn invalid_configuration_exits_2_naming_the_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (var, value) in [
        ("DATAPUMP_BIND", "not-an-address"),
        ("DATAPUMP_PUBLIC_URL", "intranet/datapump"),
        ("DATAPUMP_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("DATAPUMP_DATABASE_URL", "mysql://x"),
        ("DATAPUMP_TIME_ZONE", "Mars/Olympus"),
        ("DATAPUMP_INTERNAL_DOMAINS", "contoso.com, not a domain"),
    ] {
        let out = datapump(dir.path()).env(var, value).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(var), "{stderr}");
    }
}

#[test]
fn sync_once_of_a_missing_subscription_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = datapump(dir.path())
        .args(["sync", "--once", "--subscription", "99"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no subscription 99"), "{stderr}");
    assert!(!stderr.contains("another process"), "{stderr}");
}

fn admin_create(dir: &std::path::Path, username: &str, password: &str) -> std::process::Output {
    let mut child = datapump(dir)
        .args([
            "admin",
            "create",
            "--username",
            username,
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write");
    child.wait_with_output().expect("output")
}

#[test]
fn admin_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let weak = admin_create(dir.path(), "root", "123");
    assert_eq!(weak.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12 characters"));

    let ok = admin_create(dir.path(), "root", "a long enough password");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let dup = admin_create(dir.path(), "ROOT", "a long enough password");
    assert_eq!(dup.status.code(), Some(2));

    let list = datapump(dir.path())
        .args(["admin", "list"])
        .output()
        .expect("list");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("root") && text.contains("admin") && text.contains("active"),
        "{text}"
    );

    // Without --password-stdin the password is never taken from anywhere else.
    let no_flag = datapump(dir.path())
        .args(["admin", "set-password", "--username", "root"])
        .output()
        .expect("runs");
    assert_eq!(no_flag.status.code(), Some(2));

    // The last admin cannot be disabled.
    let disable = datapump(dir.path())
        .args(["admin", "disable", "--username", "root"])
        .output()
        .expect("runs");
    assert_eq!(disable.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&disable.stderr).contains("last active admin"));

    let migrate = datapump(dir.path())
        .arg("migrate")
        .output()
        .expect("migrate");
    assert!(migrate.status.success());
}

#[test]
fn wrong_secret_key_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A first, brief `serve` creates the key and seals the canary with it.
    let mut child = datapump(dir.path())
        .env("DATAPUMP_BIND", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let key = dir.path().join("secret.key");
    let started = std::time::Instant::now();
    while !key.exists() && started.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    assert!(key.exists(), "serve created the key");

    std::fs::remove_file(&key).expect("remove key");
    std::fs::write(&key, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").expect("other key");
    let start = || {
        datapump(dir.path())
            .env("DATAPUMP_BIND", "127.0.0.1:0")
            .output()
            .expect("serve")
    };
    // Written with the usual umask, others may read it: refused before it is even used.
    #[cfg(unix)]
    {
        let out = start();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("chmod 600"), "{stderr}");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let out = start();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not the key"), "{stderr}");
}

/// Starts `serve` on a free port and waits until its /readyz answers.
fn serve_until_ready(dir: &std::path::Path) -> (std::process::Child, u16) {
    let port = crate::common::free_port();
    let mut child = datapump(dir)
        .env("DATAPUMP_BIND", format!("127.0.0.1:{port}"))
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(30) {
        let probe = datapump(dir)
            .args(["healthcheck", "--url", &format!("http://127.0.0.1:{port}")])
            .output()
            .expect("probe");
        if probe.status.success() {
            return (child, port);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server did not become ready");
}

/// Stops a child with SIGTERM and returns its exit code.
#[cfg(unix)]
fn terminate(mut child: std::process::Child) -> Option<i32> {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status.code();
        }
        assert!(std::time::Instant::now() < deadline, "stopped within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, port) = serve_until_ready(dir.path());
    assert_eq!(terminate(child), Some(0));
    // And the probe reports the stopped instance as unhealthy.
    let probe = datapump(dir.path())
        .args(["healthcheck", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .expect("probe");
    assert!(!probe.status.success());
}

#[test]
fn backup_while_running_restores_into_a_fresh_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(
        admin_create(dir.path(), "root", "a long enough password")
            .status
            .success()
    );
    let port = crate::common::free_port();
    // The backup is taken while an instance runs on the same database.
    let mut running = datapump(dir.path())
        .env("DATAPUMP_BIND", format!("127.0.0.1:{port}"))
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let target = tempfile::tempdir().expect("tempdir");
    let file = target.path().join("datapump.db");
    let out = datapump(dir.path())
        .args(["backup", "--to", &file.display().to_string()])
        .output()
        .expect("backup");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("secret.key"), "names the key: {stdout}");
    assert!(stdout.contains("integrity checked"), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("backup")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }
    // Never overwrites.
    let again = datapump(dir.path())
        .args(["backup", "--to", &file.display().to_string()])
        .output()
        .expect("backup");
    assert_eq!(again.status.code(), Some(2));
    let _ = running.kill();
    let _ = running.wait();

    // Restore = the backup file plus the key file in a data directory.
    std::fs::copy(
        dir.path().join("secret.key"),
        target.path().join("secret.key"),
    )
    .expect("key");
    let list = datapump(target.path())
        .args(["admin", "list"])
        .output()
        .expect("list");
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("root"),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    // The source's audit log records the backup.
    let source = format!(
        "sqlite://{}?mode=ro",
        dir.path().join("datapump.db").display()
    );
    let recorded: i64 = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let pool = sqlx::SqlitePool::connect(&source).await.expect("source");
            let n = sqlx::query_scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'backup.created'",
            )
            .fetch_one(&pool)
            .await
            .expect("audit");
            pool.close().await;
            n
        });
    assert_eq!(recorded, 1);
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Requirement 46: dated backups while a writer runs, pruned to the newest N, each a sound
/// copy without a write-ahead log beside it; a restore refuses while the database is in use,
/// refuses a backup the key does not open, clears stale -wal/-shm files, keeps what it
/// replaces, and the restored instance starts with its secrets readable.
#[cfg(unix)]
#[test]
fn dated_backups_are_pruned_and_restore_checks_before_replacing() {
    let source = tempfile::tempdir().expect("tempdir");
    assert!(
        admin_create(source.path(), "root", "a long enough password")
            .status
            .success()
    );
    let (server, _) = serve_until_ready(source.path());

    // A writer that keeps committing while the backups are taken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = format!("sqlite://{}", source.path().join("datapump.db").display());
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .expect("runtime")
                .block_on(async {
                    let pool = sqlx::SqlitePool::connect(&url).await.expect("writer");
                    let mut n = 0i64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        n += 1;
                        sqlx::query(
                            "INSERT INTO settings (name, value) VALUES ('writer', $1) \
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                        )
                        .bind(n.to_string())
                        .execute(&pool)
                        .await
                        .expect("write");
                    }
                    pool.close().await;
                    n
                })
        })
    };
    let backups = tempfile::tempdir().expect("tempdir");
    std::fs::write(backups.path().join("keep-me.txt"), b"not a backup").expect("write");
    for _ in 0..3 {
        let out = datapump(source.path())
            .args([
                "backup",
                "--dir",
                &backups.path().display().to_string(),
                "--keep",
                "2",
            ])
            .output()
            .expect("backup");
        assert!(out.status.success(), "{}", text(&out));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut files: Vec<_> = std::fs::read_dir(backups.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        3,
        "two backups and the unrelated file: {files:?}"
    );
    assert!(
        files
            .iter()
            .all(|f| !f.ends_with("-wal") && !f.ends_with("-shm")),
        "{files:?}"
    );
    let newest = backups.path().join(&files[1]);

    // Not while the database is in use.
    let busy = datapump(source.path())
        .args(["restore", "--from", &newest.display().to_string()])
        .output()
        .expect("restore");
    assert_eq!(busy.status.code(), Some(2), "{}", text(&busy));
    assert!(text(&busy).contains("stop it first"), "{}", text(&busy));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().expect("writer");
    assert!(written > 0);
    assert_eq!(terminate(server), Some(0));

    // Another installation's key does not open the backup: refused, nothing replaced.
    let other = tempfile::tempdir().expect("tempdir");
    assert!(
        admin_create(other.path(), "someone", "a long enough password")
            .status
            .success()
    );
    let (other_server, _) = serve_until_ready(other.path());
    assert_eq!(terminate(other_server), Some(0));
    let refused = datapump(other.path())
        .args(["restore", "--from", &newest.display().to_string()])
        .output()
        .expect("restore");
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("does not open"),
        "{}",
        text(&refused)
    );
    let list = datapump(other.path())
        .args(["admin", "list"])
        .output()
        .expect("list");
    assert!(text(&list).contains("someone") && !text(&list).contains("root"));

    // A fresh directory with the source's key; stale sidecars of an earlier database there.
    let fresh = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        source.path().join("secret.key"),
        fresh.path().join("secret.key"),
    )
    .expect("key");
    std::fs::write(fresh.path().join("datapump.db-wal"), b"stale log").expect("wal");
    std::fs::write(fresh.path().join("datapump.db-shm"), b"stale").expect("shm");
    let restored = datapump(fresh.path())
        .args(["restore", "--from", &newest.display().to_string()])
        .output()
        .expect("restore");
    assert!(restored.status.success(), "{}", text(&restored));
    // (The restore's own audit entry may have left a fresh log: the stale content is gone.)
    for sidecar in ["datapump.db-wal", "datapump.db-shm"] {
        let content = std::fs::read(fresh.path().join(sidecar)).unwrap_or_default();
        assert!(!content.starts_with(b"stale"), "{sidecar} cleared");
    }
    let list = datapump(fresh.path())
        .args(["admin", "list"])
        .output()
        .expect("list");
    assert!(text(&list).contains("root"), "{}", text(&list));
    // Ready means the key opens the stored secrets.
    let (server, _) = serve_until_ready(fresh.path());
    assert_eq!(terminate(server), Some(0));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(fresh.path().join("datapump.db"))
            .expect("db")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only");
    }

    // Restoring over an existing database keeps that one beside it.
    let again = datapump(fresh.path())
        .args(["restore", "--from", &newest.display().to_string()])
        .output()
        .expect("restore");
    assert!(again.status.success(), "{}", text(&again));
    let kept = std::fs::read_dir(fresh.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("datapump.db.before-restore-")
        });
    assert!(kept, "{}", text(&again));
}

/// A second `serve` on the same SQLite data directory would run a second scheduler beside the
/// first: it is refused with a message naming the database, and the first keeps serving
/// (issue 30, item 10). A command such as `sync --once` still works beside it.
#[cfg(unix)]
#[test]
fn a_second_serve_on_one_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, port) = serve_until_ready(dir.path());
    let other = crate::common::free_port();
    let second = datapump(dir.path())
        .env("DATAPUMP_BIND", format!("127.0.0.1:{other}"))
        .output()
        .expect("second serve");
    assert!(!second.status.success());
    let said = text(&second);
    assert!(
        said.contains("another `datapump serve` is running") && said.contains("datapump.db"),
        "{said}"
    );
    let once = datapump(dir.path())
        .args(["sync", "--once"])
        .output()
        .expect("sync --once");
    assert!(once.status.success(), "{}", text(&once));
    let probe = datapump(dir.path())
        .args(["healthcheck", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .expect("probe");
    assert!(probe.status.success(), "the first still serves");
    assert_eq!(terminate(first), Some(0));
}
