//! `datapump demo`: the simulator and Datapump together, set up the way an admin would after
//! following the setup guide — a profile authorized through the real OAuth code flow, the rooms
//! and the account's own calendar subscribed — so a newcomer sees a working product in a minute.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::app::{self, StartError};
use crate::auth::password;
use crate::config::Config;
use crate::graph::api::CalendarRef;
use crate::model::SubscriptionSource;
use crate::profiles::authorization::{Completion, Reply};
use crate::profiles::{Cloud, ProfileSettings};
use crate::storage::admins::{NewAdmin, Role};
use crate::storage::audit::Actor;
use crate::storage::subscriptions::SubscriptionSettings;
use crate::subscriptions;
use crate::web::state::AppState;
use datapump_sim::{self as sim, SimConfig};

pub const PROFILE_NAME: &str = "Contoso (Simulator)";
pub const ADMIN: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("demo setup failed: {0}")]
    Setup(String),
}

fn setup(e: impl std::fmt::Display) -> DemoError {
    DemoError::Setup(e.to_string())
}

/// The admin's browser on the simulator's sign-in page: it stops at the redirect back to
/// Datapump, whose address carries the code.
fn browser() -> Result<reqwest::Client, DemoError> {
    crate::graph::ensure_crypto_provider();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(setup)
}

/// Authorizes a profile against the simulator through the real code flow, as an admin would
/// (the simulator signs the hinted account in and consents automatically): the same
/// authorization service as the web pages, with the simulator's redirect standing in for the
/// browser's return to `/callback`.
pub async fn authorize_with_simulator(
    state: &AppState,
    profile_id: i64,
    account: &str,
) -> Result<(), DemoError> {
    let by = Actor {
        id: state
            .db
            .admin_by_username(ADMIN)
            .await
            .map_err(setup)?
            .map(|a| a.id),
        name: Some(ADMIN.into()),
        ip: None,
    };
    let started = state
        .authorizations
        .start(profile_id, Some(account), &by)
        .await
        .map_err(setup)?;
    let answer = browser()?.get(&started.url).send().await.map_err(setup)?;
    let location = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| DemoError::Setup("the simulator did not redirect back".into()))?;
    let code = url::Url::parse(location)
        .map_err(setup)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| DemoError::Setup(format!("no code in the redirect ({location})")))?;
    match state
        .authorizations
        .complete(
            &started.state_hash,
            Reply::Code(code),
            &Default::default(),
            &by,
        )
        .await
        .map_err(setup)?
    {
        Completion::Authorized(_) => Ok(()),
        Completion::Refused { code, .. } | Completion::ExchangeFailed { code, .. } => Err(
            DemoError::Setup(format!("the simulator refused the authorization ({code})")),
        ),
    }
}

/// Options of `datapump demo`.
pub struct DemoOptions {
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    pub sim_bind: SocketAddr,
    pub reset: bool,
}

fn public_url(bind: SocketAddr) -> String {
    if bind.ip().is_loopback() || bind.ip().is_unspecified() {
        format!("http://localhost:{}", bind.port())
    } else {
        format!("http://{bind}")
    }
}

/// The demo admin's password: made once, kept (owner-readable) in the demo data directory.
fn demo_password(dir: &Path) -> Result<(String, bool), DemoError> {
    let path = dir.join("demo-password.txt");
    if let Ok(p) = std::fs::read_to_string(&path) {
        return Ok((p.trim().to_string(), false));
    }
    let pw = format!("demo-{}", &crate::crypto::random_token()[..16]);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options
        .open(&path)
        .and_then(|mut f| f.write_all(pw.as_bytes()))
        .map_err(setup)?;
    Ok((pw, true))
}

/// Sets everything up (idempotently) and runs until SIGINT/SIGTERM.
pub async fn run(options: DemoOptions) -> Result<(), DemoError> {
    if options.reset && options.data_dir.exists() {
        std::fs::remove_dir_all(&options.data_dir).map_err(setup)?;
    }
    std::fs::create_dir_all(&options.data_dir).map_err(setup)?;
    let public = public_url(options.bind);

    // The simulator, with Datapump's redirect URI registered.
    let sim_url = format!("http://{}", options.sim_bind);
    let sim_config = SimConfig {
        auto_consent: true,
        redirect_uris: vec![format!("{public}/callback"), public.clone()],
        ..SimConfig::default()
    };
    let simulator = sim::Sim::new(sim_config);
    let listener = tokio::net::TcpListener::bind(options.sim_bind)
        .await
        .map_err(|e| StartError::Bind {
            addr: options.sim_bind,
            reason: e.to_string(),
        })?;
    let sim_server = sim::SimServer::serve(simulator, listener).map_err(setup)?;

    let vars = std::collections::HashMap::from([
        (
            "DATAPUMP_DATA_DIR".to_string(),
            options.data_dir.display().to_string(),
        ),
        ("DATAPUMP_BIND".to_string(), options.bind.to_string()),
        ("DATAPUMP_PUBLIC_URL".to_string(), public.clone()),
    ]);
    let config = Config::from_sources(None, |k| {
        vars.get(k).cloned().or_else(|| {
            std::env::var(k)
                .ok()
                .filter(|_| k == "DATAPUMP_LOG" || k == "DATAPUMP_LOG_FORMAT")
        })
    })
    .map_err(StartError::from)?;
    let db = app::open_database(&config).await?;
    let prepared = app::prepare(config, db).await?;
    let state = prepared.state.clone();

    // The admin.
    let (password, fresh) = demo_password(&options.data_dir)?;
    if state
        .db
        .admin_by_username(ADMIN)
        .await
        .map_err(setup)?
        .is_none()
    {
        let hash = password::hash(&password).await.map_err(setup)?;
        state
            .db
            .create_admin(
                NewAdmin {
                    username: ADMIN,
                    password_hash: &hash,
                    role: Role::Admin,
                },
                None,
            )
            .await
            .map_err(setup)?;
    }

    // The profile: the simulator's app registration, its secret close to expiry (so the
    // reminder shows), authorized through the real code flow.
    let profiles = state.db.list_profiles().await.map_err(setup)?;
    let profile_id = match profiles.iter().find(|p| p.name == PROFILE_NAME) {
        Some(p) => p.id,
        None => {
            let settings = ProfileSettings {
                kind: crate::model::ProfileKind::Delegated,
                name: PROFILE_NAME.into(),
                tenant: "common".into(),
                client_id: sim::state::DEFAULT_CLIENT_ID.into(),
                secret_expires_on: chrono::Utc::now().date_naive() + chrono::Duration::days(21),
                cloud: Cloud::Custom,
                login_base: sim_url.clone(),
                graph_base: sim_url.clone(),
                redirect_uri: None,
                notes: "Created by `datapump demo`: the Microsoft 365 simulator's tenant contoso.example.".into(),
            };
            let uuid = uuid::Uuid::new_v4().to_string();
            let sealed = state.tokens.seal(
                crate::crypto::context::ProfileColumn::ClientSecret,
                &uuid,
                sim::state::DEFAULT_SECRET,
            );
            state
                .db
                .create_profile(&settings, &uuid, &sealed)
                .await
                .map_err(setup)?
                .id
        }
    };
    authorize_with_simulator(&state, profile_id, sim::state::DEFAULT_ACCOUNT).await?;

    // Subscriptions: every room (one of them the account may not read) and the own calendar.
    let existing = state
        .db
        .list_subscriptions(Some(profile_id))
        .await
        .map_err(setup)?;
    // The simulator starts afresh with every demo; import everything again at once rather
    // than when each subscription falls due.
    for s in &existing {
        state.db.request_sync(s.id, None).await.map_err(setup)?;
    }
    if existing.is_empty() {
        // The rooms with meetings (the campus's hundred-odd empty rooms are there for the
        // room directory and the room lists, not for the demo's list of subscriptions).
        let rooms: Vec<(String, String)> = {
            let s = sim_server.sim.lock();
            s.users
                .iter()
                .filter(|u| u.kind == sim::model::MailboxKind::Room)
                .take(s.config.rooms)
                .map(|u| (u.upn.clone(), u.display_name.clone()))
                .collect()
        };
        let token = state.tokens.access_token(profile_id).await.map_err(setup)?;
        let profile = state.db.profile(profile_id).await.map_err(setup)?;
        let endpoints = crate::graph::Endpoints::from(&profile);
        let graph = state.tokens.client().graph(&endpoints, &token.token);
        let admin = Actor {
            name: Some(ADMIN.into()),
            ..Actor::default()
        };
        let mut mailboxes = rooms;
        mailboxes.push((
            sim::state::DEFAULT_ACCOUNT.into(),
            "Datapump Service".into(),
        ));
        for (address, name) in mailboxes {
            let settings = SubscriptionSettings {
                display_name: name.clone(),
                days_back: 7,
                days_ahead: 180,
                interval_minutes: 1,
                enabled: true,
                mask_private: false,
                fields: crate::model::StoredFields::default(),
                retention_days: None,
            };
            let request = || subscriptions::Request {
                profile: &profile,
                calendar: CalendarRef::Mailbox(address.clone()),
                settings: settings.clone(),
                by: &admin,
                via: Some("demo"),
                room_list: None,
            };
            let outcome = subscriptions::subscribe(&state.db, &graph, request())
                .await
                .map_err(setup)?;
            if let subscriptions::Outcome::Refused(_) = outcome {
                // A room the account may not read is subscribed anyway (by its known calendar
                // id), so the demo shows what such a failure looks like.
                let calendar = sim_server
                    .sim
                    .lock()
                    .resolve_calendar(&address)
                    .map_err(setup)?;
                let target = subscriptions::Target {
                    source: SubscriptionSource::Mailbox,
                    mailbox_id: None,
                    mailbox_address: address.clone(),
                    mailbox_name: name.clone(),
                    calendar: crate::graph::api::Calendar {
                        id: calendar,
                        name: "Kalender".into(),
                        color: None,
                        hex_color: None,
                        is_default_calendar: true,
                        can_edit: false,
                        owner: None,
                    },
                    graph_ref: CalendarRef::Mailbox(address.clone()),
                };
                subscriptions::subscribe_known(&state.db, target, request())
                    .await
                    .map_err(setup)?;
            }
        }
    }

    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|e| StartError::Bind {
            addr: options.bind,
            reason: e.to_string(),
        })?;
    println!();
    println!("Datapump demo is running.");
    println!("  Open            {public}  (imports start within seconds)");
    println!(
        "  Sign in as      {ADMIN} / {password}{}",
        if fresh {
            ""
        } else {
            "  (from an earlier start)"
        }
    );
    println!(
        "  Simulator       {sim_url}  (sign-in for a profile of your own: {} / {})",
        sim::state::DEFAULT_ACCOUNT,
        sim::state::DEFAULT_PASSWORD
    );
    println!(
        "  Data            {}  (start over with --reset)",
        options.data_dir.display()
    );
    println!("  Stop with Ctrl+C.");
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        app::shutdown_signal().await;
        shutdown.cancel();
    });
    app::run(state, listener).await?;
    sim_server.stop().await;
    Ok(())
}
