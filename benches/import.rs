//! Import engine benchmark, against the simulator in its own process, on SQLite and (when
//! DATAPUMP_TEST_DATABASE_URL is set) PostgreSQL:
//!
//! 1. initial import of 50 rooms x 2,000 events, events/s, and the ratio to a raw fetch of the
//!    same delta pages without storing (same page size and parallelism), at 0 and 50 ms latency;
//! 2. a no-change delta round over the 50 subscriptions: requests and wall time, and the same
//!    with the self-check (calendar view compared with the stored rows);
//! 3. peak resident memory of this process during imports of about 10,000 and 100,000 events.
//!
//!     cargo bench --bench import
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use datapump::app;
use datapump::config::Config;
use datapump::storage::Db;
use datapump::storage::subscriptions::{NewSubscription, SubscriptionSettings};
use futures_util::StreamExt;
use serde_json::Value;

mod support;
use support::{Sim, cpu_seconds, rss_kb};

const PARALLEL: usize = 8;
const PAGE: u32 = 200;

/// CPU seconds so far of the simulator, this process and the PostgreSQL server processes.
fn cpu(sim: &Sim) -> [f64; 3] {
    let (sim_pid, me) = (sim.child.id(), std::process::id());
    [
        cpu_seconds(|pid, _| pid == sim_pid),
        cpu_seconds(|pid, _| pid == me),
        cpu_seconds(|_, comm| comm == "postgres"),
    ]
}

fn spent(before: [f64; 3], after: [f64; 3]) -> String {
    format!(
        "simulator {:.1} s, Datapump {:.1} s, PostgreSQL {:.1} s",
        after[0] - before[0],
        after[1] - before[1],
        after[2] - before[2]
    )
}

async fn start_sim(http: &reqwest::Client) -> Sim {
    support::start_sim(
        http,
        &[
            "--rooms",
            "51",
            "--events-per-room",
            "2000",
            "--auto-consent",
        ],
    )
    .await
}

/// The simulator's tenant: users, rooms and their calendars.
async fn sim_state(http: &reqwest::Client, sim: &Sim) -> Value {
    http.get(format!("{}/_sim/state", sim.url))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json")
}

/// A simulator process of its own and the 50 rooms the benchmark imports.
async fn fresh_sim(http: &reqwest::Client) -> (Sim, Vec<String>) {
    let sim = start_sim(http).await;
    let state = sim_state(http, &sim).await;
    let rooms: Vec<String> = state["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| {
            u["kind"] == "room" && u["userPrincipalName"] != "vorstandsraum@contoso.example"
        })
        .filter_map(|u| u["userPrincipalName"].as_str().map(String::from))
        .take(50)
        .collect();
    assert_eq!(rooms.len(), 50);
    (sim, rooms)
}

/// Which reading of Graph's "4 concurrent requests per app ID" the simulator enforces, with the
/// engine configured to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Four for all mailboxes of the app together (the engine's default).
    App,
    /// Four per mailbox (`DATAPUMP_GRAPH_CONCURRENCY=app-and-mailbox`).
    AppAndMailbox,
}

impl Scope {
    fn sim(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::AppAndMailbox => "appAndMailbox",
        }
    }

    fn engine(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::AppAndMailbox => "app-and-mailbox",
        }
    }
}

async fn configure(http: &reqwest::Client, sim: &Sim, ms: u64, scope: Scope) {
    let r = http
        .post(format!("{}/_sim/settings", sim.url))
        .json(&serde_json::json!({ "latencyMs": ms, "mailboxConcurrency": 4, "concurrencyScope": scope.sim() }))
        .send()
        .await
        .expect("settings");
    assert!(r.status().is_success(), "settings: {}", r.status());
}

/// A fresh database, a profile authorized against the simulator, one subscription per room.
async fn setup(
    sim: &Sim,
    database: &str,
    rooms: &[String],
    dir: &std::path::Path,
    scope: Scope,
) -> (app::Prepared, Vec<i64>) {
    let vars = std::collections::HashMap::from([
        ("DATAPUMP_DATA_DIR".to_string(), dir.display().to_string()),
        (
            "DATAPUMP_DATABASE_URL".to_string(),
            database
                .strip_prefix("schema:")
                .and_then(|s| s.split_once('#'))
                .map_or(database, |(url, _)| url)
                .to_string(),
        ),
        ("DATAPUMP_SYNC_PAGE_SIZE".to_string(), PAGE.to_string()),
        (
            "DATAPUMP_GRAPH_CONCURRENCY".to_string(),
            scope.engine().to_string(),
        ),
        ("DATAPUMP_LOG".to_string(), "error".to_string()),
    ]);
    let mut config = Config::from_sources(None, |k| vars.get(k).cloned()).expect("config");
    config.run_scheduler = false;
    let db = if let Some(schema) = database.strip_prefix("schema:") {
        let (url, schema) = schema.split_once('#').expect("url#schema");
        let admin = sqlx::PgPool::connect(url).await.expect("pg");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&admin)
        .await
        .expect("drop");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&admin)
            .await
            .expect("create");
        let db = Db::connect_postgres_schema(url, schema)
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        config.database_url = url.to_string();
        db
    } else {
        app::open_database(&config).await.expect("db")
    };
    let prepared = app::prepare(config, db).await.expect("prepare");
    let state = &prepared.state;
    let profile = support::authorized_profile(state, &sim.url).await;
    let calendars = sim_state(&engine_like_http(), sim).await;
    let mut subs = Vec::new();
    for room in rooms {
        let calendar = calendars["users"]
            .as_array()
            .and_then(|u| u.iter().find(|x| x["userPrincipalName"] == room.as_str()))
            .and_then(|u| u["calendars"][0]["id"].as_str())
            .expect("calendar")
            .to_string();
        let id = state
            .db
            .create_subscription(
                &NewSubscription {
                    profile_id: profile,
                    source: datapump::model::SubscriptionSource::Mailbox,
                    mailbox_id: None,
                    mailbox_address: room,
                    mailbox_name: room,
                    calendar_id: &calendar,
                    calendar_name: "Kalender",
                    created_by: "bench",
                    settings: &SubscriptionSettings {
                        display_name: room.clone(),
                        days_back: 200,
                        days_ahead: 400,
                        interval_minutes: 5,
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
        subs.push(id);
    }
    (prepared, subs)
}

/// A fresh simulator at `latency`, and a fresh database (`"sqlite"`: a file in a new temporary
/// directory, kept alive by the returned `TempDir`) set up against it.
async fn fresh_round(
    http: &reqwest::Client,
    database: &str,
    latency: u64,
    scope: Scope,
) -> (Sim, Vec<String>, tempfile::TempDir, app::Prepared, Vec<i64>) {
    let (sim, rooms) = fresh_sim(http).await;
    configure(http, &sim, latency, scope).await;
    let dir = tempfile::tempdir().expect("dir");
    let url = if database == "sqlite" {
        format!("sqlite://{}/bench.db", dir.path().display())
    } else {
        database.to_string()
    };
    let (prepared, subs) = setup(&sim, &url, &rooms, dir.path(), scope).await;
    (sim, rooms, dir, prepared, subs)
}

/// Runs all subscriptions, `PARALLEL` at a time; returns (wall time, events written, requests).
async fn import_all(prepared: &app::Prepared, subs: &[i64]) -> (Duration, i64, i64) {
    let started = Instant::now();
    let engine = prepared.state.sync.clone();
    let queue = Arc::new(std::sync::Mutex::new(subs.to_vec()));
    let (events, requests) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..PARALLEL {
        let (engine, queue, events, requests) = (
            engine.clone(),
            queue.clone(),
            events.clone(),
            requests.clone(),
        );
        workers.spawn(async move {
            loop {
                let Some(id) = queue.lock().expect("queue").pop() else {
                    return;
                };
                let report = engine
                    .run_subscription(id)
                    .await
                    .expect("run")
                    .expect("lease");
                assert_eq!(
                    report.status,
                    datapump::model::RunStatus::Ok,
                    "{:?}",
                    report.error
                );
                events.fetch_add(
                    u64::try_from(report.stats.created + report.stats.updated).unwrap_or(0),
                    Ordering::Relaxed,
                );
                requests.fetch_add(
                    u64::try_from(report.stats.requests).unwrap_or(0),
                    Ordering::Relaxed,
                );
            }
        });
    }
    while workers.join_next().await.is_some() {}
    (
        started.elapsed(),
        events.load(Ordering::Relaxed) as i64,
        requests.load(Ordering::Relaxed) as i64,
    )
}

/// One Graph GET with the headers the engine sends, parsed; `permits` holds the request's
/// share of Graph's concurrency limit while it is in flight, as the engine does.
async fn graph_get(
    http: &reqwest::Client,
    token: &str,
    url: &str,
    permits: &tokio::sync::Semaphore,
) -> Value {
    let _permit = permits.acquire().await.expect("permit");
    http.get(url)
        .bearer_auth(token)
        .header(
            "Prefer",
            format!("outlook.timezone=\"UTC\", odata.maxpagesize={PAGE}, IdType=\"ImmutableId\""),
        )
        .header("client-request-id", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

/// An HTTP client set up as Datapump's Graph client is (no redirects, the same timeouts and
/// connection pool), for the baseline.
fn engine_like_http() -> reqwest::Client {
    datapump::graph::ensure_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// The same requests, fetched and parsed but not stored: per room the directory lookup, the
/// delta pages and, per series, its instances and its master unless a page brought it; within
/// the same concurrency limit as the engine under `scope`.
async fn raw_fetch(
    prepared: &app::Prepared,
    sim: &Sim,
    rooms: &[String],
    scope: Scope,
) -> (Duration, i64) {
    let started = Instant::now();
    let token = prepared
        .state
        .tokens
        .access_token(1)
        .await
        .expect("token")
        .token;
    let queue = Arc::new(std::sync::Mutex::new(rooms.to_vec()));
    let total = Arc::new(AtomicU64::new(0));
    let window = datapump::sync::window(200, 400, chrono::Utc::now());
    let (from, to) = (
        window.0.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        window.1.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    let shared = Arc::new(tokio::sync::Semaphore::new(4));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..PARALLEL {
        let (queue, total, token, http, base, shared, from, to) = (
            queue.clone(),
            total.clone(),
            token.clone(),
            engine_like_http(),
            sim.url.clone(),
            shared.clone(),
            from.clone(),
            to.clone(),
        );
        workers.spawn(async move {
            loop {
                let Some(room) = queue.lock().expect("queue").pop() else {
                    return;
                };
                let own = Arc::new(tokio::sync::Semaphore::new(4));
                let permits = match scope {
                    Scope::App => shared.clone(),
                    Scope::AppAndMailbox => own,
                };
                let lookup = format!(
                    "{base}/v1.0/users?$filter=mail%20eq%20'{room}'%20or%20userPrincipalName%20eq%20'{room}'&$select=id,displayName,mail,userPrincipalName"
                );
                let directory = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
                graph_get(&http, &token, &lookup, &directory).await;
                let mut next = Some(format!(
                    "{base}/v1.0/users/{room}/calendarView/delta?startDateTime={from}&endDateTime={to}"
                ));
                // Series whose master the pages brought or that were fetched, and series read.
                let mut masters = std::collections::HashSet::new();
                let mut read = std::collections::HashSet::new();
                while let Some(url) = next {
                    let page = graph_get(&http, &token, &url, &permits).await;
                    // As the engine does per page: every series it brings back and the round
                    // has not read (a master in the page, an occurrence's or exception's
                    // series) gets its instances, and its master unless a page brought it;
                    // each four at a time at most.
                    let items: &[Value] = page["value"].as_array().map_or(&[], Vec::as_slice);
                    for item in items {
                        if item["type"] == "seriesMaster"
                            && let Some(id) = item["id"].as_str()
                        {
                            masters.insert(id.to_string());
                        }
                    }
                    let brought: Vec<String> = items
                        .iter()
                        .filter(|item| item.get("@removed").is_none())
                        .filter_map(|item| {
                            if item["type"] == "seriesMaster" {
                                item["id"].as_str()
                            } else {
                                item["seriesMasterId"].as_str()
                            }
                        })
                        .filter(|m| read.insert(m.to_string()))
                        .map(String::from)
                        .collect();
                    let fetch_masters: Vec<String> = brought
                        .iter()
                        .filter(|m| masters.insert(m.to_string()))
                        .cloned()
                        .collect();
                    for (wanted, instances) in [(&fetch_masters, false), (&brought, true)] {
                        let urls: Vec<String> = wanted
                            .iter()
                            .map(|m| {
                                if instances {
                                    format!("{base}/v1.0/users/{room}/events/{m}/instances?startDateTime={from}&endDateTime={to}&$select=id,type,seriesMasterId,start,end,iCalUId,changeKey&$top=1000")
                                } else {
                                    format!("{base}/v1.0/users/{room}/events/{m}")
                                }
                            })
                            .collect();
                        futures_util::stream::iter(urls)
                            .map(|url| {
                                let (http, token, permits) =
                                    (http.clone(), token.clone(), permits.clone());
                                async move {
                                    graph_get(&http, &token, &url, &permits).await;
                                }
                            })
                            .buffer_unordered(4)
                            .collect::<Vec<()>>()
                            .await;
                    }
                    // Events, as the import counts them (masters are not stored).
                    let events = items.iter().filter(|i| i["type"] != "seriesMaster").count();
                    total.fetch_add(events as u64, Ordering::Relaxed);
                    next = page["@odata.nextLink"].as_str().map(String::from);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    (started.elapsed(), total.load(Ordering::Relaxed) as i64)
}

/// Makes every subscription's self-check due.
async fn sqlx_set_unverified(prepared: &app::Prepared) {
    prepared
        .state
        .db
        .make_all_checks_due()
        .await
        .expect("checks due");
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        datapump::graph::ensure_crypto_provider();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let (sim, rooms) = fresh_sim(&http).await;
        let mut databases = vec![("SQLite", "sqlite".to_string())];
        if let Ok(url) = std::env::var("DATAPUMP_TEST_DATABASE_URL") {
            databases.push(("PostgreSQL", format!("schema:{url}#dp_bench")));
        }
        // `DATAPUMP_BENCH_ONLY="PostgreSQL 0"` runs just the cases whose "database latency" starts
        // with it (and skips the memory figures): for iterating on one measurement.
        let only = std::env::var("DATAPUMP_BENCH_ONLY").ok();
        let selected = |case: &str| only.as_deref().is_none_or(|o| case.starts_with(o));
        // Peak memory first, while the process is fresh: a small and a ten times larger import.
        configure(&http, &sim, 0, Scope::App).await;
        let memory_cases = if only.is_some() { &[][..] } else { &[(5usize, "about 10,000"), (50, "about 100,000")][..] };
        for &(count, label) in memory_cases {
            let dir = tempfile::tempdir().expect("dir");
            let url = format!("sqlite://{}/mem.db", dir.path().display());
            let (prepared, subs) = setup(&sim, &url, &rooms[..count], dir.path(), Scope::App).await;
            let before = rss_kb("VmRSS:");
            let peak = Arc::new(AtomicU64::new(before));
            let sampler = {
                let peak = peak.clone();
                tokio::spawn(async move {
                    loop {
                        peak.fetch_max(rss_kb("VmRSS:"), Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                })
            };
            let (_, events, _) = import_all(&prepared, &subs).await;
            sampler.abort();
            println!(
                "memory, {label} events ({events} imported): resident set {:.0} MB before, peak {:.0} MB during the import",
                before as f64 / 1024.0, peak.load(Ordering::Relaxed) as f64 / 1024.0
            );
            prepared.state.db.close().await;
        }
        drop(sim);
        println!("import benchmark: 50 rooms x 2,000 events, page size {PAGE}, {PARALLEL} subscriptions in parallel");
        for (label, db) in &databases {
            for scope in [Scope::App, Scope::AppAndMailbox] {
            for latency in [0u64, 50] {
                let case = format!("{label} {latency} {scope:?}");
                if !selected(&case) {
                    continue;
                }
                // At 0 ms the machine's noise is a good part of the figure: three rounds, each
                // raw fetch then import on a fresh database, and the median ratio.
                let rounds = if latency == 0 { 3 } else { 1 };
                let mut ratios = Vec::new();
                for round in 1..=rounds {
                    // The raw fetch and the import each get a fresh simulator and a fresh
                    // database: the simulator's cost per request grows with the sync states it
                    // keeps, so a shared one would penalise whichever phase runs second.
                    let (raw, raw_events, raw_cpu) = {
                        let (sim, rooms, _dir, prepared, _) = fresh_round(&http, db, latency, scope).await;
                        let c0 = cpu(&sim);
                        let (raw, raw_events) = raw_fetch(&prepared, &sim, &rooms, scope).await;
                        let c1 = cpu(&sim);
                        prepared.state.db.close().await;
                        (raw, raw_events, spent(c0, c1))
                    };
                    let (sim, _, _dir, prepared, subs) = fresh_round(&http, db, latency, scope).await;
                    let c1 = cpu(&sim);
                    let (took, events, requests) = import_all(&prepared, &subs).await;
                    let c2 = cpu(&sim);
                    let throttled = http
                        .get(format!("{}/_sim/counters", sim.url))
                        .send()
                        .await
                        .expect("counters")
                        .json::<Value>()
                        .await
                        .expect("json")["throttled"]
                        .as_u64()
                        .unwrap_or(0);
                    let ratio = took.as_secs_f64() / raw.as_secs_f64();
                    ratios.push(ratio);
                    println!(
                        "{case}, round {round}: imported {events} events in {:.2} s = {:.0} events/s ({requests} requests, {throttled} refused by the concurrency limit); raw fetch of the same pages {raw_events} events in {:.2} s; import / raw = {ratio:.2}",
                        took.as_secs_f64(), events as f64 / took.as_secs_f64(), raw.as_secs_f64()
                    );
                    println!("{case}, round {round}: CPU time of the raw fetch: {raw_cpu}; of the import: {}", spent(c1, c2));
                    if round == rounds && latency == 0 {
                        for id in &subs {
                            prepared.state.db.request_sync(*id, None).await.expect("due");
                        }
                        let (idle, _, idle_requests) = import_all(&prepared, &subs).await;
                        println!("{case}, no-change delta round over 50 subscriptions: {idle_requests} requests in {:.2} s", idle.as_secs_f64());
                        // The self-check (hourly by default): a no-change delta round plus the
                        // calendar view of each window, compared with the stored rows.
                        for id in &subs {
                            prepared.state.db.request_sync(*id, None).await.expect("due");
                        }
                        sqlx_set_unverified(&prepared).await;
                        let (checked, _, check_requests) = import_all(&prepared, &subs).await;
                        println!("{case}, no-change delta round with the self-check over 50 subscriptions: {check_requests} requests in {:.2} s", checked.as_secs_f64());
                    }
                    prepared.state.db.close().await;
                }
                ratios.sort_by(f64::total_cmp);
                println!("{case}: import / raw = {:.2} (median of {rounds})", ratios[ratios.len() / 2]);
            }
            }
        }
    });
}
