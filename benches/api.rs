//! Read-only API benchmark: latency of `GET /api/v1/rooms/{id}/events` (a random room, a
//! random week) at 32 concurrent clients against a database of 100,000 events (50 rooms ×
//! 2,000, with their feed entries and two attendees each), beside the same query
//! (`Db::events_between`) run directly on the database at the same concurrency. SQLite, and
//! PostgreSQL when DATAPUMP_TEST_DATABASE_URL is set (schema `dp_api_bench`, dropped and
//! recreated).
//!
//!     cargo bench --bench api
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use datapump::app;
use datapump::config::Config;
use datapump::storage::api_tokens::TokenScope;

mod support;
use support::{figures, ms};

const ROOMS: usize = 50;
const PER_ROOM: usize = 2_000;
const CLIENTS: usize = 32;
const PER_CLIENT: usize = 200;
const DAYS_BACK: i64 = 200;
const DAYS: i64 = 600;

/// A random room and week, deterministic per (client, request).
fn pick(rooms: &[i64], start: DateTime<Utc>, client: usize, i: usize) -> (i64, DateTime<Utc>) {
    let n = (client * 7919 + i * 104_729) as u64;
    let mixed = n.wrapping_mul(6_364_136_223_846_793_005).rotate_left(17);
    let room = rooms[(mixed % rooms.len() as u64) as usize];
    let day = ((mixed >> 20) % (DAYS - 7) as u64) as i64;
    (room, start + chrono::Duration::days(day))
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
        "DATAPUMP_API_REQUESTS_PER_MINUTE" => Some("4000000000".into()),
        _ => None,
    };
    let mut config = Config::from_sources(None, vars).expect("config");
    config.run_scheduler = false;
    let schema = "dp_api_bench";
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
    let token = format!("dp_{}", datapump::crypto::random_token());
    db.create_api_token(
        "bench",
        &datapump::crypto::token_hash(&token),
        &TokenScope::All,
        "bench",
        None,
        &Default::default(),
    )
    .await
    .expect("token");
    let state = prepared.state.clone();
    let server = tokio::spawn(app::run(state.clone(), listener));
    let base = format!("http://{addr}/api/v1");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("client");
    let rooms = Arc::new(rooms);

    // Direct: the handler's query, at the same concurrency.
    let direct = {
        let run = || {
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    let db = db.clone();
                    let rooms = rooms.clone();
                    tokio::spawn(async move {
                        let mut out = Vec::with_capacity(PER_CLIENT);
                        for i in 0..PER_CLIENT {
                            let (room, from) = pick(&rooms, start, c, i);
                            let t = Instant::now();
                            let rows = db
                                .events_between(
                                    room,
                                    from,
                                    from + chrono::Duration::days(7),
                                    101,
                                    None,
                                )
                                .await
                                .expect("query");
                            assert!(!rows.is_empty());
                            out.push(t.elapsed());
                        }
                        out
                    })
                })
                .collect();
            async move {
                let mut all = Vec::new();
                for t in tasks {
                    all.extend(t.await.expect("task"));
                }
                all
            }
        };
        run().await; // warm-up
        let wall = Instant::now();
        let samples = run().await;
        figures(samples, wall.elapsed())
    };

    // Through the API: token check, rate limit, query, JSON, ETag.
    let api = {
        let run = || {
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|c| {
                    let http = http.clone();
                    let rooms = rooms.clone();
                    let base = base.clone();
                    let token = token.clone();
                    tokio::spawn(async move {
                        let mut out = Vec::with_capacity(PER_CLIENT);
                        for i in 0..PER_CLIENT {
                            let (room, from) = pick(&rooms, start, c, i);
                            let url = format!(
                                "{base}/rooms/{room}/events?from={}&to={}",
                                from.format("%Y-%m-%dT%H:%M:%SZ"),
                                (from + chrono::Duration::days(7)).format("%Y-%m-%dT%H:%M:%SZ")
                            );
                            let t = Instant::now();
                            let r = http
                                .get(&url)
                                .bearer_auth(&token)
                                .send()
                                .await
                                .expect("GET");
                            assert_eq!(r.status(), 200);
                            let body = r.bytes().await.expect("body");
                            out.push(t.elapsed());
                            assert!(body.len() > 100);
                        }
                        out
                    })
                })
                .collect();
            async move {
                let mut all = Vec::new();
                for t in tasks {
                    all.extend(t.await.expect("task"));
                }
                all
            }
        };
        run().await; // warm-up
        let wall = Instant::now();
        let samples = run().await;
        figures(samples, wall.elapsed())
    };
    println!(
        "{name}: {CLIENTS} clients x {PER_CLIENT} requests, a week of one room (about 23 events)\n  \
         API    p50 {} p99 {} ({:.0} requests/s)\n  direct p50 {} p99 {} ({:.0} queries/s)\n  \
         p99 API / direct = {:.2}",
        ms(api.p50),
        ms(api.p99),
        api.per_second,
        ms(direct.p50),
        ms(direct.p99),
        direct.per_second,
        api.p99.as_secs_f64() / direct.p99.as_secs_f64()
    );
    state.shutdown.cancel();
    let _ = server.await;
    if let Some(url) = pg {
        support::drop_schema(url, schema).await;
    }
}

#[tokio::main]
async fn main() {
    case("SQLite", None).await;
    match std::env::var("DATAPUMP_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => case("PostgreSQL", Some(&url)).await,
        _ => eprintln!("DATAPUMP_TEST_DATABASE_URL not set: PostgreSQL skipped"),
    }
}
