//! `datapump demo`: the binary sets up simulator, admin, profile and subscriptions by itself,
//! imports, and survives a restart on the same data without duplicating anything.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Client, free_port};

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &std::path::Path, port: u16, sim_port: u16) -> Demo {
    let child = Command::new(env!("CARGO_BIN_EXE_datapump"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATAPUMP_LOG", "warn")
        .args([
            "demo",
            "--data-dir",
            &dir.display().to_string(),
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--sim-bind",
            &format!("127.0.0.1:{sim_port}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("demo");
    Demo(child)
}

async fn wait_healthy(base: &str) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the demo did not start");
}

async fn query(dir: &std::path::Path, sql: &'static str, after: i64) -> i64 {
    let url = format!("sqlite://{}?mode=ro", dir.join("datapump.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.expect("db");
    let n: i64 = sqlx::query_scalar(sql)
        .bind(after)
        .fetch_one(&pool)
        .await
        .expect("query");
    pool.close().await;
    n
}

/// Waits until every subscription has finished a run with an id above `after`; returns the
/// number of events then stored and the last run id.
async fn imported(dir: &std::path::Path, after: i64) -> (i64, i64) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let done = query(
            dir,
            "SELECT COUNT(DISTINCT subscription_id) FROM sync_runs \
             WHERE id > ? AND finished_at IS NOT NULL",
            after,
        )
        .await;
        let subs = query(dir, "SELECT COUNT(*) + 0 * ? FROM subscriptions", 0).await;
        if subs > 0 && done == subs {
            let events = query(dir, "SELECT COUNT(*) + 0 * ? FROM events", 0).await;
            let last = query(dir, "SELECT COALESCE(MAX(id), 0) + 0 * ? FROM sync_runs", 0).await;
            return (events, last);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let done = query(dir, "SELECT COUNT(*) FROM sync_runs WHERE id > ?", after).await;
    panic!("the demo did not import every subscription ({done} runs after {after})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_sets_itself_up_imports_and_restarts_cleanly() {
    datapump::graph::ensure_crypto_provider();
    let dir = tempfile::tempdir().expect("tempdir");
    let (port, sim_port) = (free_port(), free_port());
    // The demo's public URL names localhost, as the printed link does.
    let base = format!("http://localhost:{port}");
    let demo = start(dir.path(), port, sim_port);
    wait_healthy(&base).await;

    let password = std::fs::read_to_string(dir.path().join("demo-password.txt"))
        .expect("the demo keeps its password");
    let client = Client::new(&base);
    assert_eq!(
        client.login("demo", password.trim()).await.status,
        reqwest::StatusCode::SEE_OTHER
    );
    let profiles = client.get("/profiles").await;
    assert!(
        profiles.body.contains("Contoso (Simulator)"),
        "{}",
        profiles.body
    );
    let (first, last_run) = imported(dir.path(), 0).await;
    assert!(first > 100, "events imported: {first}");
    let list = client.get("/subscriptions").await;
    // Rooms, the account's own calendar, and one room the account may not read, its failure
    // shown where the admin looks.
    for name in ["Raum Berlin", "Datapump Service", "Vorstandsraum"] {
        assert!(list.body.contains(name), "{name} in {}", list.body);
    }
    assert!(list.body.contains("class=\"field-error\""), "{}", list.body);
    drop(demo);

    // Same data directory, a fresh simulator: the old delta links are gone, the engine
    // reconciles, and nothing is duplicated.
    let demo = start(dir.path(), port, sim_port);
    wait_healthy(&base).await;
    let client = Client::new(&base);
    assert_eq!(
        client.login("demo", password.trim()).await.status,
        reqwest::StatusCode::SEE_OTHER
    );
    let (second, _) = imported(dir.path(), last_run).await;
    assert_eq!(
        first, second,
        "a restart neither loses nor duplicates events"
    );
    drop(demo);
}
