//! Admin pages at enterprise size (issue 17): 16 signed-in admins load the dashboard at once,
//! against 2,000 room subscriptions and 1,000,000 events (with their feed entries and two
//! attendees each), on SQLite and, when DATAPUMP_TEST_DATABASE_URL is set, PostgreSQL (schema
//! `dp_dash_bench`, dropped and recreated). The load tool is this benchmark: 16 clients, each
//! with its own session, requesting one page after the other. Reported beside the baseline of
//! the same clients loading `/healthz` (the same server, sessions and middleware, no queries),
//! and the subscriptions list (page 1 of 50 rows, the subscriptions page an admin opens next).
//!
//!     DATAPUMP_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench dashboard
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use chrono::Utc;
use datapump::app;
use datapump::config::Config;
use datapump::storage::admins::{NewAdmin, Role};

mod support;
use support::{figures, ms};

const ROOMS: usize = 2_000;
const PER_ROOM: usize = 500;
const ADMINS: usize = 16;
const PER_ADMIN: usize = 100;
const DAYS_BACK: i64 = 200;
const DAYS: i64 = 600;
const PASSWORD: &str = "correct horse battery staple";

fn csrf(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).expect("csrf field") + marker.len();
    html[start..]
        .split('"')
        .next()
        .expect("csrf value")
        .to_string()
}

/// A browser-like client signed in as `username`.
async fn signed_in(base: &str, username: &str) -> reqwest::Client {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = http
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("body");
    let r = http
        .post(format!("{base}/login"))
        .form(&[
            ("_csrf", csrf(&form).as_str()),
            ("username", username),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303, "signed in");
    http
}

/// Every client requests `path` `PER_ADMIN` times, one after the other, all clients at once.
async fn load(clients: &[reqwest::Client], url: &str) -> (Vec<Duration>, Duration) {
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .map(|c| {
            let (c, url) = (c.clone(), url.to_string());
            tokio::spawn(async move {
                let mut out = Vec::with_capacity(PER_ADMIN);
                for _ in 0..PER_ADMIN {
                    let t = Instant::now();
                    let r = c.get(&url).send().await.expect("GET");
                    assert_eq!(r.status(), 200, "{url}");
                    let body = r.bytes().await.expect("body");
                    out.push(t.elapsed());
                    assert!(!body.is_empty());
                }
                out
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    (all, started.elapsed())
}

async fn case(name: &str, pg: Option<&str>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sqlite = format!("sqlite://{}/datapump.db", dir.path().display());
    let vars = |k: &str| match k {
        "DATAPUMP_DATA_DIR" => Some(dir.path().display().to_string()),
        "DATAPUMP_DATABASE_URL" => Some(sqlite.clone()),
        "DATAPUMP_PUBLIC_URL" => Some(format!("http://{addr}")),
        "DATAPUMP_LOG" => Some("error".into()),
        "DATAPUMP_TIME_ZONE" => Some("Europe/Berlin".into()),
        _ => None,
    };
    let mut config = Config::from_sources(None, vars).expect("config");
    config.run_scheduler = false;
    let schema = "dp_dash_bench";
    let db = support::fresh_database(&mut config, pg, schema).await;
    let prepared = app::prepare(config, db.clone()).await.expect("prepare");
    let rooms = support::seed_rooms(&db, &prepared.state.key, ROOMS, DAYS_BACK, DAYS).await;
    let start = (Utc::now() - chrono::Duration::days(DAYS_BACK))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let filled = Instant::now();
    support::fill_events(
        pg.unwrap_or(&sqlite),
        pg.map(|_| schema),
        &rooms,
        start,
        PER_ROOM,
        DAYS,
    )
    .await;
    eprintln!(
        "{name}: {} events written in {:.1} s",
        ROOMS * PER_ROOM,
        filled.elapsed().as_secs_f64()
    );
    // As in real life: most ran recently, a tenth failed and needs attention.
    support::execute(
        pg.unwrap_or(&sqlite),
        pg.map(|_| schema),
        "UPDATE subscriptions SET last_sync_at = updated_at, status = CASE WHEN id % 10 = 0 THEN 'error' ELSE 'ok' END, \
         last_error = CASE WHEN id % 10 = 0 THEN 'Graph answered 503 Service Unavailable' END",
    )
    .await;
    let hash = datapump::auth::password::hash(PASSWORD)
        .await
        .expect("hash");
    for i in 0..ADMINS {
        db.create_admin(
            NewAdmin {
                username: &format!("admin{i}"),
                password_hash: &hash,
                role: Role::Admin,
            },
            None,
        )
        .await
        .expect("admin");
    }
    let state = prepared.state.clone();
    let server = tokio::spawn(app::run(state.clone(), listener));
    let base = format!("http://{addr}");
    let mut clients = Vec::new();
    for i in 0..ADMINS {
        clients.push(signed_in(&base, &format!("admin{i}")).await);
    }
    let mut report = Vec::new();
    for (label, path) in [
        ("/healthz (baseline)", "/healthz"),
        ("dashboard", "/"),
        ("subscriptions list", "/subscriptions"),
    ] {
        let url = format!("{base}{path}");
        load(&clients, &url).await; // warm-up
        let (samples, wall) = load(&clients, &url).await;
        report.push((label, figures(samples, wall)));
    }
    println!(
        "{name}: {ADMINS} admins x {PER_ADMIN} requests each, {ROOMS} subscriptions, {} events",
        ROOMS * PER_ROOM
    );
    let baseline = report[0].1.p99;
    for (label, f) in &report {
        println!(
            "  {label:<22} p50 {} p99 {} ({:.0} requests/s), p99 / baseline = {:.1}",
            ms(f.p50),
            ms(f.p99),
            f.per_second,
            f.p99.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    state.shutdown.cancel();
    let _ = server.await;
    if let Some(url) = pg {
        support::drop_schema(url, schema).await;
    }
}

#[tokio::main]
async fn main() {
    datapump::graph::ensure_crypto_provider();
    let only = std::env::var("DATAPUMP_BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || "SQLite".starts_with(&only) {
        case("SQLite", None).await;
    }
    match std::env::var("DATAPUMP_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() && (only.is_empty() || "PostgreSQL".starts_with(&only)) => {
            case("PostgreSQL", Some(&url)).await;
        }
        _ => eprintln!(
            "PostgreSQL skipped (DATAPUMP_TEST_DATABASE_URL not set, or DATAPUMP_BENCH_ONLY)"
        ),
    }
}
