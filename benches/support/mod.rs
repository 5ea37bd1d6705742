//! What the bench targets share: the simulator as a process of its own, CPU and memory of
//! processes from `/proc`, latency figures.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

/// A field of `/proc/<pid>/status` in kB (`VmRSS:`, `VmHWM:`); 0 when unreadable.
pub fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// This process's `field` (see [`status_kb`]).
pub fn rss_kb(field: &str) -> u64 {
    status_kb(std::process::id(), field)
}

/// CPU seconds (user + system) used so far by the processes whose `/proc` entry matches.
pub fn cpu_seconds(matches: impl Fn(u32, &str) -> bool) -> f64 {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state …": fields after the command name, utime and stime are 14 and 15.
        let Some((head, tail)) = stat.rsplit_once(") ") else {
            continue;
        };
        let comm = head.split_once(" (").map_or("", |(_, c)| c);
        if matches(pid, comm) {
            let f: Vec<&str> = tail.split_whitespace().collect();
            ticks += f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    ticks as f64 / 100.0
}

/// The simulator in a process of its own (its CPU is not Datapump's); killed on drop.
pub struct Sim {
    pub child: std::process::Child,
    pub url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free local port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// Starts `datapump sim --bind <free port> <args>` and waits until it answers.
pub async fn start_sim(http: &reqwest::Client, args: &[&str]) -> Sim {
    let port = free_port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_datapump"))
        .args(["sim", "--bind", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("DATAPUMP_LOG", "error")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sim");
    // Owned by `Sim` at once so that its Drop reaps the child on every path.
    let sim = Sim {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..1200 {
        if http
            .get(format!("{}/_sim/counters", sim.url))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return sim;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the simulator did not start");
}

/// Quantiles of a set of samples.
pub struct Figures {
    pub p50: Duration,
    pub p99: Duration,
    pub per_second: f64,
}

pub fn figures(mut samples: Vec<Duration>, wall: Duration) -> Figures {
    assert!(!samples.is_empty(), "no samples");
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Figures {
        p50: at(0.50),
        p99: at(0.99),
        per_second: samples.len() as f64 / wall.as_secs_f64(),
    }
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A delegated profile against the simulator, authorized with its default account.
pub async fn authorized_profile(state: &datapump::web::state::AppState, sim_url: &str) -> i64 {
    let settings = datapump::profiles::ProfileSettings {
        kind: datapump::model::ProfileKind::Delegated,
        name: "Bench".into(),
        tenant: "common".into(),
        client_id: "6731de76-14a6-49ae-97bc-6eba6914391e".into(),
        secret_expires_on: chrono::Utc::now().date_naive() + chrono::Duration::days(700),
        cloud: datapump::profiles::Cloud::Custom,
        login_base: sim_url.to_string(),
        graph_base: sim_url.to_string(),
        redirect_uri: Some("http://localhost:8000/callback".into()),
        notes: String::new(),
    };
    let uuid = uuid::Uuid::new_v4().to_string();
    let profile = state
        .db
        .create_profile(
            &settings,
            &uuid,
            &state.tokens.seal(
                datapump::crypto::context::ProfileColumn::ClientSecret,
                &uuid,
                "demo-secret-value",
            ),
        )
        .await
        .expect("profile");
    datapump::demo::authorize_with_simulator(state, profile.id, "datapump@contoso.example")
        .await
        .expect("authorize");
    profile.id
}

/// A profile (not authorized: nothing is fetched) and `rooms` room subscriptions.
pub async fn seed_rooms(
    db: &datapump::storage::Db,
    key: &datapump::crypto::SecretKey,
    rooms: usize,
    days_back: i64,
    days: i64,
) -> Vec<i64> {
    use chrono::Utc;
    use datapump::profiles::{Cloud, ProfileSettings};
    use datapump::storage::subscriptions::{NewSubscription, SubscriptionSettings};
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
    let mut ids = Vec::new();
    for r in 0..rooms {
        let address = format!("raum{r:04}@contoso.example");
        let id = db
            .create_subscription(
                &NewSubscription {
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
                        days_back,
                        days_ahead: days - days_back,
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
        ids.push(id);
    }
    ids
}

/// Writes `per_room` events per room spread over `days` from `start`, with plain SQL (the
/// triggers add their feed entries; `event_attendees` reads the attendees from the rows).
pub async fn fill_events(
    url: &str,
    schema: Option<&str>,
    rooms: &[i64],
    start: chrono::DateTime<chrono::Utc>,
    per_room: usize,
    days: i64,
) {
    use chrono::Utc;
    let attendees = r#"[{"name":"Anna Schmidt","address":"anna.schmidt@contoso.example","type":"required","response":"accepted"},{"name":"Petra Gast","address":"petra.gast@partner.example","type":"required","response":"none"}]"#;
    macro_rules! insert_all {
        ($pool:expr) => {{
            for (r, room) in rooms.iter().enumerate() {
                for chunk in 0..per_room.div_ceil(500) {
                    let mut tx = $pool.begin().await.expect("begin");
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO events (subscription_id, graph_id, event_type, subject, organizer_name, \
                         organizer_address, start_utc, end_utc, attendees, first_imported_at, updated_at) ",
                    );
                    let now = Utc::now();
                    q.push_values((0..500).filter(|i| chunk * 500 + i < per_room), |mut b, i| {
                        let n = chunk * 500 + i;
                        let begin = start
                            + chrono::Duration::minutes((n as i64) * (days * 24 * 60 / per_room as i64));
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

/// Runs one statement on the database (PostgreSQL: in `schema`).
pub async fn execute(url: &str, schema: Option<&str>, sql: &'static str) {
    match schema {
        None => {
            let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
            sqlx::query(sql).execute(&pool).await.expect(sql);
            pool.close().await;
        }
        Some(schema) => {
            let options: sqlx::postgres::PgConnectOptions = url.parse().expect("url");
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.options([("search_path", schema)]))
                .await
                .expect("pg");
            sqlx::query(sql).execute(&pool).await.expect(sql);
            pool.close().await;
        }
    }
}

/// A migrated database for `config`: its SQLite file, or with `pg` a fresh PostgreSQL
/// `schema` (dropped and recreated).
pub async fn fresh_database(
    config: &mut datapump::config::Config,
    pg: Option<&str>,
    schema: &str,
) -> datapump::storage::Db {
    let Some(url) = pg else {
        return datapump::app::open_database(config).await.expect("db");
    };
    drop_schema(url, schema).await;
    let admin = sqlx::PgPool::connect(url).await.expect("pg");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .expect("create schema");
    admin.close().await;
    let db = datapump::storage::Db::connect_postgres_schema(url, schema)
        .await
        .expect("connect");
    db.migrate().await.expect("migrate");
    config.database_url = url.to_string();
    db
}

pub async fn drop_schema(url: &str, schema: &str) {
    let admin = sqlx::PgPool::connect(url).await.expect("pg");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(&admin)
    .await
    .expect("drop schema");
    admin.close().await;
}
