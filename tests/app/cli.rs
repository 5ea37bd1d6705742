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
    ] {
        let out = datapump(dir.path()).env(var, value).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(var), "{stderr}");
    }
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

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = crate::common::free_port();
    let mut child = datapump(dir.path())
        .env("DATAPUMP_BIND", format!("127.0.0.1:{port}"))
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let started = std::time::Instant::now();
    let mut healthy = false;
    while started.elapsed() < std::time::Duration::from_secs(30) {
        let probe = datapump(dir.path())
            .args(["healthcheck", "--url", &format!("http://127.0.0.1:{port}")])
            .output()
            .expect("probe");
        if probe.status.success() {
            healthy = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(healthy, "the server answered /healthz");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "stopped within 15 s");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
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
