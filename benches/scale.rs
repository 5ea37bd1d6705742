//! Scale benchmark (issue 17): 2,000 room subscriptions synced every minute by `datapump serve`
//! (a process of its own, as deployed) against the simulator (another process), on SQLite and,
//! when DATAPUMP_TEST_DATABASE_URL is set, on PostgreSQL (database `dp_scale_bench`, dropped and
//! recreated). After the initial import and a warm-up, one measured phase of
//! DATAPUMP_BENCH_MINUTES (default 10): sync lag (due to done) p50/p99, Datapump's CPU share and
//! RSS, database and run-history growth per hour, Graph requests per subscription per round.
//! On PostgreSQL then two instances for DATAPUMP_BENCH_SPLIT_MINUTES (default 3): the split of
//! the work and the overlap count (runs of one subscription at the same time, must be 0); then
//! one instance is killed and the time until the other has run every subscription is measured.
//!
//!     DATAPUMP_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench scale
//!
//! The lag comes from each run's `sync finished` log line (`lag_ms`: finished minus the time
//! the subscription fell due), read from the instances' JSON logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datapump::app;
use datapump::config::Config;
use datapump::storage::subscriptions::{NewSubscription, SubscriptionSettings};
use serde_json::Value;

mod support;
use support::{cpu_seconds, free_port, start_sim, status_kb};

const SUBS: usize = 2_000;
const LATENCY_MS: u64 = 20;
/// Datapump's default lease; the kill phase waits for it to lapse.
const LEASE: Duration = Duration::from_secs(120);
const INTERVAL: Duration = Duration::from_secs(60);

fn minutes(var: &str, default: u64) -> Duration {
    let m = std::env::var(var)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(default as f64);
    Duration::from_secs_f64(m * 60.0)
}

/// One finished run, from an instance's log.
#[derive(Debug, Clone)]
struct RunLog {
    sub: i64,
    lag_ms: i64,
    duration_ms: i64,
    at: Instant,
}

/// A `datapump serve` process; killed on drop.
struct Instance {
    name: &'static str,
    child: std::process::Child,
    runs: Arc<Mutex<Vec<RunLog>>>,
    warnings: Arc<Mutex<Vec<String>>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    fn spawn(name: &'static str, dir: &std::path::Path, url: &str) -> Self {
        let port = free_port();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_datapump"))
            .arg("serve")
            .env("DATAPUMP_DATA_DIR", dir)
            .env("DATAPUMP_DATABASE_URL", url)
            .env("DATAPUMP_BIND", format!("127.0.0.1:{port}"))
            .env("DATAPUMP_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("DATAPUMP_LOG", "warn,datapump::sync=info")
            .env("DATAPUMP_LOG_FORMAT", "json")
            .env("DATAPUMP_TIME_ZONE", "UTC")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("datapump serve");
        let stderr = child.stderr.take().expect("stderr");
        let runs = Arc::new(Mutex::new(Vec::new()));
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let (r, w) = (runs.clone(), warnings.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if v["message"] == "sync finished" {
                    r.lock().expect("runs").push(RunLog {
                        sub: v["span"]["subscription"].as_i64().unwrap_or(0),
                        lag_ms: v["lag_ms"].as_i64().unwrap_or(0),
                        duration_ms: v["duration_ms"].as_i64().unwrap_or(0),
                        at: Instant::now(),
                    });
                } else if (v["level"] == "WARN" || v["level"] == "ERROR")
                    && v["target"] != "datapump::cli"
                {
                    w.lock().expect("warnings").push(line);
                }
            }
        });
        Self {
            name,
            child,
            runs,
            warnings,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn cpu(&self) -> f64 {
        let pid = self.pid();
        cpu_seconds(|p, _| p == pid)
    }

    fn runs_between(&self, from: Instant, to: Instant) -> Vec<RunLog> {
        self.runs
            .lock()
            .expect("runs")
            .iter()
            .filter(|r| r.at >= from && r.at <= to)
            .cloned()
            .collect()
    }
}

/// The benchmark's own view of the database.
enum Store {
    Sqlite(sqlx::SqlitePool, std::path::PathBuf),
    Postgres(sqlx::PgPool),
}

impl Store {
    async fn scalar(&self, sql: &'static str) -> i64 {
        match self {
            Self::Sqlite(p, _) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
            Self::Postgres(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await,
        }
        .expect(sql)
    }

    async fn synced(&self) -> i64 {
        self.scalar("SELECT COUNT(*) FROM subscriptions WHERE last_sync_at IS NOT NULL")
            .await
    }

    /// The whole database on disk (SQLite: the file and its write-ahead log).
    async fn size(&self) -> i64 {
        match self {
            Self::Sqlite(_, path) => {
                let len = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
                let mut wal = path.as_os_str().to_owned();
                wal.push("-wal");
                i64::try_from(len(path) + len(std::path::Path::new(&wal))).unwrap_or(0)
            }
            Self::Postgres(_) => {
                self.scalar("SELECT pg_database_size(current_database())::BIGINT")
                    .await
            }
        }
    }

    /// The run history's tables and their indexes.
    async fn history(&self) -> Option<i64> {
        match self {
            Self::Sqlite(p, _) => sqlx::query_scalar::<_, i64>(
                "SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d JOIN sqlite_master m ON d.name = m.name \
                 WHERE m.tbl_name IN ('sync_runs', 'sync_run_hours')",
            )
            .fetch_one(p)
            .await
            .ok(),
            Self::Postgres(_) => Some(
                self.scalar(
                    "SELECT (pg_total_relation_size('sync_runs') + pg_total_relation_size('sync_run_hours'))::BIGINT",
                )
                .await,
            ),
        }
    }

    /// PostgreSQL reuses the space of deleted and updated rows once (auto)vacuum has run; a
    /// server with autovacuum off (this machine's test cluster) would grow without bound,
    /// which no production server does. There the benchmark vacuums every minute, as
    /// autovacuum's default naptime would.
    async fn vacuum_if_autovacuum_off(&self) {
        if let Self::Postgres(p) = self {
            let on: String = sqlx::query_scalar("SHOW autovacuum")
                .fetch_one(p)
                .await
                .expect("show");
            if on == "off" {
                sqlx::query("VACUUM").execute(p).await.expect("vacuum");
            }
        }
    }

    async fn autovacuum(&self) -> Option<String> {
        match self {
            Self::Postgres(p) => sqlx::query_scalar("SHOW autovacuum")
                .fetch_one(p)
                .await
                .ok(),
            Self::Sqlite(..) => None,
        }
    }

    async fn history_rows(&self) -> (i64, i64) {
        (
            self.scalar("SELECT COUNT(*) FROM sync_runs").await,
            self.scalar("SELECT COUNT(*) FROM sync_run_hours").await,
        )
    }
}

/// The tenant's rooms and their primary calendars.
async fn rooms(http: &reqwest::Client, sim: &support::Sim) -> Vec<(String, String)> {
    let state: Value = http
        .get(format!("{}/_sim/state", sim.url))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    state["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| {
            u["kind"] == "room" && u["userPrincipalName"] != "vorstandsraum@contoso.example"
        })
        .filter_map(|u| {
            Some((
                u["userPrincipalName"].as_str()?.to_string(),
                u["calendars"][0]["id"].as_str()?.to_string(),
            ))
        })
        .take(SUBS)
        .collect()
}

/// A fresh database with an authorized profile and one subscription per room, every minute.
async fn setup(sim: &support::Sim, url: &str, dir: &std::path::Path, rooms: &[(String, String)]) {
    let vars = HashMap::from([
        ("DATAPUMP_DATA_DIR".to_string(), dir.display().to_string()),
        ("DATAPUMP_DATABASE_URL".to_string(), url.to_string()),
        ("DATAPUMP_LOG".to_string(), "error".to_string()),
    ]);
    let mut config = Config::from_sources(None, |k| vars.get(k).cloned()).expect("config");
    config.run_scheduler = false;
    let db = app::open_database(&config).await.expect("db");
    let prepared = app::prepare(config, db).await.expect("prepare");
    let state = &prepared.state;
    let profile = support::authorized_profile(state, &sim.url).await;
    for (address, calendar) in rooms {
        state
            .db
            .create_subscription(
                &NewSubscription {
                    profile_id: profile,
                    source: datapump::model::SubscriptionSource::Mailbox,
                    mailbox_id: None,
                    mailbox_address: address,
                    mailbox_name: address,
                    calendar_id: calendar,
                    calendar_name: "Kalender",
                    created_by: "bench",
                    settings: &SubscriptionSettings {
                        display_name: address.clone(),
                        days_back: 1,
                        days_ahead: 14,
                        interval_minutes: 1,
                        enabled: true,
                        mask_private: false,
                        fields: datapump::model::StoredFields::default(),
                        retention_days: None,
                    },
                    room_list_id: None,
                },
                &Default::default(),
            )
            .await
            .expect("subscription");
    }
    state.db.close().await;
}

async fn sim_counters(http: &reqwest::Client, sim: &support::Sim) -> Value {
    http.get(format!("{}/_sim/counters", sim.url))
        .send()
        .await
        .expect("counters")
        .json()
        .await
        .expect("json")
}

fn quantile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * q).round() as usize]
}

/// Runs of one subscription that were under way at the same time, over all instances.
fn overlaps(runs: &[RunLog]) -> usize {
    let mut by_sub: HashMap<i64, Vec<(Instant, Instant)>> = HashMap::new();
    for r in runs {
        let start =
            r.at.checked_sub(Duration::from_millis(
                u64::try_from(r.duration_ms).unwrap_or(0),
            ))
            .unwrap_or(r.at);
        by_sub.entry(r.sub).or_default().push((start, r.at));
    }
    let mut n = 0;
    for spans in by_sub.values_mut() {
        spans.sort();
        n += spans.windows(2).filter(|w| w[1].0 < w[0].1).count();
    }
    n
}

/// Measures `wall` of steady state with `instances` running.
async fn measure(
    label: &str,
    store: &Store,
    instances: &[&Instance],
    http: &reqwest::Client,
    sim: &support::Sim,
    wall: Duration,
) {
    store.vacuum_if_autovacuum_off().await;
    let cpu0: Vec<f64> = instances.iter().map(|i| i.cpu()).collect();
    let (size0, hist0, rows0) = (
        store.size().await,
        store.history().await,
        store.history_rows().await,
    );
    let _ = http
        .delete(format!("{}/_sim/counters", sim.url))
        .send()
        .await;
    let t0 = Instant::now();
    let mut rss_max = vec![0u64; instances.len()];
    let mut vacuumed = t0;
    while t0.elapsed() < wall {
        for (m, i) in rss_max.iter_mut().zip(instances) {
            *m = (*m).max(status_kb(i.pid(), "VmRSS:"));
        }
        if vacuumed.elapsed() >= Duration::from_secs(60) {
            store.vacuum_if_autovacuum_off().await;
            vacuumed = Instant::now();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let t1 = Instant::now();
    let secs = (t1 - t0).as_secs_f64();
    let cpu1: Vec<f64> = instances.iter().map(|i| i.cpu()).collect();
    let (size1, hist1, rows1) = (
        store.size().await,
        store.history().await,
        store.history_rows().await,
    );
    let counters = sim_counters(http, sim).await;
    let per: Vec<Vec<RunLog>> = instances.iter().map(|i| i.runs_between(t0, t1)).collect();
    let all: Vec<RunLog> = per.iter().flatten().cloned().collect();
    let mut lags: Vec<i64> = all.iter().map(|r| r.lag_ms).collect();
    lags.sort_unstable();
    let graph_requests = counters["total"].as_u64().unwrap_or(0);
    let per_hour = |a: i64, b: i64| (b - a) as f64 / secs * 3600.0 / 1_048_576.0;
    println!(
        "{label}: {:.1} min measured, {} runs ({:.1} per subscription)",
        secs / 60.0,
        all.len(),
        all.len() as f64 / SUBS as f64
    );
    if store.autovacuum().await.as_deref() == Some("off") {
        println!(
            "  (the server's autovacuum is off: the benchmark ran VACUUM every minute instead)"
        );
    }
    println!(
        "  sync lag (due to done): p50 {:.2} s, p99 {:.2} s, max {:.2} s (interval 60 s)",
        quantile(&lags, 0.5) as f64 / 1000.0,
        quantile(&lags, 0.99) as f64 / 1000.0,
        lags.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    for (n, i) in instances.iter().enumerate() {
        println!(
            "  {}: {} runs ({:.1} %), CPU {:.1} s = {:.1} % of one core, RSS max {:.1} MB (peak {:.1} MB)",
            i.name,
            per[n].len(),
            per[n].len() as f64 * 100.0 / all.len().max(1) as f64,
            cpu1[n] - cpu0[n],
            (cpu1[n] - cpu0[n]) / secs * 100.0,
            rss_max[n] as f64 / 1024.0,
            status_kb(i.pid(), "VmHWM:") as f64 / 1024.0
        );
    }
    println!(
        "  Graph: {graph_requests} requests = {:.2} per subscription and round; token requests {}, throttled {}, over budget {}",
        graph_requests as f64 / all.len().max(1) as f64,
        counters["tokenRequests"],
        counters["throttled"],
        counters["overBudget"]
    );
    println!(
        "  database: {:.1} MB → {:.1} MB = {:+.2} MB per hour; run history {} = {} per hour; rows sync_runs {} → {}, sync_run_hours {} → {}",
        size0 as f64 / 1_048_576.0,
        size1 as f64 / 1_048_576.0,
        per_hour(size0, size1),
        match (hist0, hist1) {
            (Some(a), Some(b)) => format!(
                "{:.2} MB → {:.2} MB",
                a as f64 / 1_048_576.0,
                b as f64 / 1_048_576.0
            ),
            _ => "n/a (no dbstat)".into(),
        },
        match (hist0, hist1) {
            (Some(a), Some(b)) => format!("{:+.3} MB", per_hour(a, b)),
            _ => "n/a".into(),
        },
        rows0.0,
        rows1.0,
        rows0.1,
        rows1.1
    );
    if instances.len() > 1 {
        println!("  overlapping runs of one subscription: {}", overlaps(&all));
    }
    for i in instances {
        let w = i.warnings.lock().expect("warnings");
        if !w.is_empty() {
            println!("  {}: {} warnings, first: {}", i.name, w.len(), w[0]);
        }
    }
}

async fn warm_up(store: &Store, label: &str) {
    let started = Instant::now();
    loop {
        let n = store.synced().await;
        if usize::try_from(n).unwrap_or(0) >= SUBS {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "{label}: only {n} imported"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "{label}: initial import of {SUBS} subscriptions took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Steady state: every subscription on its own slot of the minute.
    tokio::time::sleep(minutes("DATAPUMP_BENCH_WARMUP_MINUTES", 2)).await;
}

async fn case(label: &str, pg: Option<&str>, http: &reqwest::Client) {
    let sim = start_sim(
        http,
        &[
            "--rooms",
            &(SUBS + 1).to_string(),
            "--events-per-room",
            "5",
            "--auto-consent",
            "--latency-ms",
            &LATENCY_MS.to_string(),
        ],
    )
    .await;
    let r = http
        .post(format!("{}/_sim/settings", sim.url))
        .json(&serde_json::json!({ "mailboxConcurrency": 4, "concurrencyScope": "app" }))
        .send()
        .await
        .expect("settings");
    assert!(r.status().is_success());
    let rooms = rooms(http, &sim).await;
    assert_eq!(rooms.len(), SUBS);
    let dir = tempfile::tempdir().expect("dir");
    let url = match pg {
        None => format!("sqlite://{}/datapump.db", dir.path().display()),
        Some(base) => {
            let admin = sqlx::PgPool::connect(base).await.expect("pg");
            sqlx::query("DROP DATABASE IF EXISTS dp_scale_bench WITH (FORCE)")
                .execute(&admin)
                .await
                .expect("drop");
            sqlx::query("CREATE DATABASE dp_scale_bench")
                .execute(&admin)
                .await
                .expect("create");
            admin.close().await;
            let mut u = url::Url::parse(base).expect("url");
            u.set_path("/dp_scale_bench");
            u.to_string()
        }
    };
    setup(&sim, &url, dir.path(), &rooms).await;
    let store = match pg {
        None => Store::Sqlite(
            sqlx::SqlitePool::connect(&url).await.expect("sqlite"),
            dir.path().join("datapump.db"),
        ),
        Some(_) => Store::Postgres(sqlx::PgPool::connect(&url).await.expect("pg")),
    };
    let a = Instance::spawn("instance A", dir.path(), &url);
    warm_up(&store, label).await;
    measure(
        label,
        &store,
        &[&a],
        http,
        &sim,
        minutes("DATAPUMP_BENCH_MINUTES", 10),
    )
    .await;

    if pg.is_some() {
        let b = Instance::spawn("instance B", dir.path(), &url);
        // Both see each other within a heartbeat; the shares settle within a minute.
        tokio::time::sleep(INTERVAL).await;
        measure(
            &format!("{label}, two instances"),
            &store,
            &[&a, &b],
            http,
            &sim,
            minutes("DATAPUMP_BENCH_SPLIT_MINUTES", 3),
        )
        .await;
        // B dies without a word: A must run everything, B's leases lapsing within LEASE.
        let mut b = b;
        let killed = Instant::now();
        let _ = b.child.kill();
        let _ = b.child.wait();
        let deadline = killed + LEASE + INTERVAL * 2;
        let mut first_after: HashMap<i64, Duration> = HashMap::new();
        while Instant::now() < deadline && first_after.len() < SUBS {
            tokio::time::sleep(Duration::from_secs(2)).await;
            for r in a.runs_between(killed, Instant::now()) {
                first_after.entry(r.sub).or_insert(r.at - killed);
            }
        }
        let longest = first_after.values().max().copied().unwrap_or_default();
        println!(
            "{label}, instance B killed: instance A ran {} of {SUBS} subscriptions within {:.0} s; the last one {:.1} s after the kill (lease {} s, interval {} s)",
            first_after.len(),
            (deadline - killed).as_secs_f64(),
            longest.as_secs_f64(),
            LEASE.as_secs(),
            INTERVAL.as_secs()
        );
    }
    drop(a);
    if let Some(base) = pg {
        if let Store::Postgres(p) = &store {
            p.close().await;
        }
        let admin = sqlx::PgPool::connect(base).await.expect("pg");
        let _ = sqlx::query("DROP DATABASE IF EXISTS dp_scale_bench WITH (FORCE)")
            .execute(&admin)
            .await;
    }
}

#[tokio::main]
async fn main() {
    datapump::graph::ensure_crypto_provider();
    let http = reqwest::Client::new();
    let only = std::env::var("DATAPUMP_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || "SQLite".starts_with(&only) {
        case("SQLite", None, &http).await;
    }
    match std::env::var("DATAPUMP_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() && (only.is_empty() || "PostgreSQL".starts_with(&only)) => {
            case("PostgreSQL", Some(&url), &http).await;
        }
        _ => eprintln!(
            "PostgreSQL skipped (DATAPUMP_TEST_DATABASE_URL not set, or DATAPUMP_BENCH_ONLY)"
        ),
    }
}
