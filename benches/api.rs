//! Read-only API benchmark: latency of `GET /api/v1/rooms/{id}/events` (a random room, a
//! random week) at 32 concurrent clients against a database of 100,000 events (50 rooms ×
//! 2,000, with their feed entries and attendee rows), beside the same query
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
use datapump::profiles::{Cloud, ProfileSettings};
use datapump::storage::Db;
use datapump::storage::api_tokens::TokenScope;
use datapump::storage::subscriptions::{NewSubscription, SubscriptionSettings};

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

async fn seed(db: &Db, key: &datapump::crypto::SecretKey) -> Vec<i64> {
    let settings = ProfileSettings {
        kind: datapump::model::ProfileKind::Delegated,
        name: "Bench".into(),
        tenant: "common".into(),
        client_id: "6731de76-14a6-49ae-97bc-6eba6914391e".into(),
        secret_expires_on: Utc::now().date_naive() + chrono::Duration::days(700),
        cloud: Cloud::Custom,
        login_base: "https://login.invalid".into(),
        graph_base: "https://graph.invalid".into(),
        redirect_uri: Some("http://localhost:8000/callback".into()),
        notes: String::new(),
    };
    let uuid = uuid::Uuid::new_v4().to_string();
    let sealed = key.seal(
        &datapump::crypto::context::profile(
            datapump::crypto::context::ProfileColumn::ClientSecret,
            &uuid,
        ),
        b"secret",
    );
    let profile = db
        .create_profile(&settings, &uuid, &sealed)
        .await
        .expect("profile");
    let mut rooms = Vec::new();
    for r in 0..ROOMS {
        let address = format!("raum{r:02}@contoso.example");
        let id = db
            .create_subscription(&NewSubscription {
                profile_id: profile.id,
                source: datapump::model::SubscriptionSource::Mailbox,
                mailbox_id: None,
                mailbox_address: &address,
                mailbox_name: &address,
                calendar_id: &format!("cal-{r}"),
                calendar_name: "Kalender",
                created_by: "bench",
                settings: &SubscriptionSettings {
                    display_name: format!("Raum {r}"),
                    days_back: DAYS_BACK,
                    days_ahead: DAYS - DAYS_BACK,
                    interval_minutes: 5,
                    enabled: true,
                    mask_private: false,
                    fields: datapump::model::StoredFields::default(),
                    retention_days: None,
                },
            })
            .await
            .expect("subscription");
        rooms.push(id);
    }
    rooms
}

/// Writes the events with plain SQL (the triggers add their feed entries and attendee rows).
async fn fill(url: &str, schema: Option<&str>, rooms: &[i64], start: DateTime<Utc>) {
    let attendees = r#"[{"name":"Anna Schmidt","address":"anna.schmidt@contoso.example","type":"required","response":"accepted"},{"name":"Petra Gast","address":"petra.gast@partner.example","type":"required","response":"none"}]"#;
    macro_rules! insert_all {
        ($pool:expr) => {{
            for (r, room) in rooms.iter().enumerate() {
                for chunk in 0..PER_ROOM / 500 {
                    let mut tx = $pool.begin().await.expect("begin");
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO events (subscription_id, graph_id, event_type, subject, organizer_name, \
                         organizer_address, start_utc, end_utc, attendees, first_imported_at, updated_at) ",
                    );
                    let now = Utc::now();
                    q.push_values(0..500, |mut b, i| {
                        let n = chunk * 500 + i;
                        let begin = start
                            + chrono::Duration::minutes((n as i64) * (DAYS * 24 * 60 / PER_ROOM as i64));
                        b.push_bind(*room)
                            .push_bind(format!("AAMk-{r}-{n}"))
                            .push_bind("singleInstance")
                            .push_bind(format!("Besprechung {n}"))
                            .push_bind("Anna Schmidt")
                            .push_bind("anna.schmidt@contoso.example")
                            .push_bind(begin)
                            .push_bind(begin + chrono::Duration::minutes(60))
                            .push_bind(attendees)
                            .push_bind(now)
                            .push_bind(now);
                    });
                    q.build().execute(&mut *tx).await.expect("insert");
                    tx.commit().await.expect("commit");
                }
            }
        }};
    }
    match schema {
        None => {
            let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
            insert_all!(pool);
            pool.close().await;
        }
        Some(schema) => {
            let options: sqlx::postgres::PgConnectOptions = url.parse().expect("url");
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect_with(options.options([("search_path", schema)]))
                .await
                .expect("pg");
            insert_all!(pool);
            sqlx::query("ANALYZE")
                .execute(&pool)
                .await
                .expect("analyze");
            pool.close().await;
        }
    }
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
    let db = match pg {
        Some(url) => {
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
            admin.close().await;
            let db = Db::connect_postgres_schema(url, schema)
                .await
                .expect("connect");
            db.migrate().await.expect("migrate");
            config.database_url = url.to_string();
            db
        }
        None => app::open_database(&config).await.expect("db"),
    };
    let prepared = app::prepare(config, db.clone()).await.expect("prepare");
    let rooms = seed(&db, &prepared.state.key).await;
    let start = (Utc::now() - chrono::Duration::days(DAYS_BACK))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let filled = Instant::now();
    fill(
        if pg.is_some() {
            pg.unwrap_or_default()
        } else {
            &sqlite
        },
        pg.map(|_| schema),
        &rooms,
        start,
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
        let admin = sqlx::PgPool::connect(url).await.expect("pg");
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .execute(&admin)
        .await;
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
