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
