//! Simulator throughput: how fast it serves calendarView/delta pages of 1,000 events, against a
//! baseline measured in the same run: a client that does nothing with the pages but parse them
//! (the least any importer must do). The ratio says how much of an import benchmark's time the
//! simulator itself takes (below 1: serving costs more than parsing).
//!
//!     cargo bench --bench sim
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use chrono::Utc;
use datapump_sim::state::{DEFAULT_ACCOUNT, DEFAULT_CLIENT_ID, DEFAULT_SECRET};
use datapump_sim::{SimConfig, SimServer};
use serde_json::Value;

const ROOMS: usize = 50;
const EVENTS_PER_ROOM: usize = 2000;

async fn access_token(sim: &SimServer, http: &reqwest::Client) -> String {
    sim.sim.lock().auto_login = Some(DEFAULT_ACCOUNT.into());
    let authorize = format!(
        "{}/common/oauth2/v2.0/authorize?client_id={DEFAULT_CLIENT_ID}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A8000%2Fcallback&scope=offline_access%20User.ReadBasic.All%20Calendars.Read.Shared&state=b",
        sim.url
    );
    let r = http.get(authorize).send().await.expect("authorize");
    let location = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let code = url::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let body: Value = http
        .post(format!("{}/common/oauth2/v2.0/token", sim.url))
        .form(&[
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_SECRET),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://localhost:8000/callback"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    body["access_token"].as_str().expect("at").to_string()
}

/// Follows a paged response to its end; returns the raw pages.
async fn fetch_all(http: &reqwest::Client, at: &str, first: String) -> Vec<bytes::Bytes> {
    let mut pages = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let body = http
            .get(&url)
            .bearer_auth(at)
            .header("Prefer", "odata.maxpagesize=1000")
            .send()
            .await
            .expect("page")
            .bytes()
            .await
            .expect("body");
        let v: Value = serde_json::from_slice(&body).expect("json");
        next = v["@odata.nextLink"].as_str().map(String::from);
        pages.push(body);
    }
    pages
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let built = Instant::now();
        let config = SimConfig {
            rooms: ROOMS,
            events_per_room: EVENTS_PER_ROOM,
            mailbox_concurrency: None,
            ..SimConfig::default()
        };
        let sim = SimServer::start(config).await.expect("sim");
        let build_time = built.elapsed();
        datapump::graph::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let at = access_token(&sim, &http).await;
        let rooms: Vec<String> = sim
            .sim
            .lock()
            .users
            .iter()
            .filter(|u| u.kind == datapump_sim::model::MailboxKind::Room && !u.upn.starts_with("vorstand"))
            .map(|u| u.upn.clone())
            .take(10)
            .collect();
        let start = (Utc::now() - chrono::Duration::days(183)).format("%Y-%m-%dT00:00:00Z");
        let end = (Utc::now() + chrono::Duration::days(366)).format("%Y-%m-%dT00:00:00Z");

        for (label, path) in [("calendarView/delta", "calendarView/delta"), ("calendarView", "calendarView")] {
            let started = Instant::now();
            let mut pages = Vec::new();
            for room in &rooms {
                let url = format!("{}/v1.0/users/{room}/{path}?startDateTime={start}&endDateTime={end}", sim.url);
                let url = if path == "calendarView" { format!("{url}&$top=1000") } else { url };
                pages.extend(fetch_all(&http, &at, url).await);
            }
            let served = started.elapsed();
            let events: usize = pages
                .iter()
                .map(|p| serde_json::from_slice::<Value>(p).map(|v| v["value"].as_array().map_or(0, Vec::len)).unwrap_or(0))
                .sum();
            let bytes: usize = pages.iter().map(|p| p.len()).sum();
            // Baseline: only parsing the same pages, as any client must.
            let parse_started = Instant::now();
            let mut parsed = 0usize;
            for p in &pages {
                let v: Value = serde_json::from_slice(p).expect("json");
                parsed += v["value"].as_array().map_or(0, Vec::len);
            }
            let parse = parse_started.elapsed();
            assert_eq!(parsed, events);
            println!(
                "{label:>20}: {} pages, {events} events, {:.1} MB in {:.2} s -> {:.1} pages/s, {:.0} events/s (includes the client's own parse)",
                pages.len(),
                bytes as f64 / 1e6,
                served.as_secs_f64(),
                rate(pages.len(), served),
                rate(events, served),
            );
            println!(
                "{:>20}  baseline, parse only: {:.1} pages/s, {:.0} events/s; simulator / baseline = {:.2}",
                "",
                rate(pages.len(), parse),
                rate(parsed, parse),
                rate(events, served) / rate(parsed, parse),
            );
        }
        println!("tenant: {ROOMS} rooms x {EVENTS_PER_ROOM} events built in {:.2} s", build_time.as_secs_f64());
        sim.stop().await;
    });
}
