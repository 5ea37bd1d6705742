//! Starting and stopping the application: shared by the `serve` command and the tests, so tests
//! run exactly the production wiring.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError};
use crate::crypto::{CryptoError, SecretKey};
use crate::profiles::tokens::TokenService;
use crate::storage::{Db, StoreError};
use crate::web::{self, RouteInfo, state::AppState};

use crate::crypto::context::{CANARY_SETTING as KEY_CANARY, CANARY_TEXT};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error(
        "the secret key in {path} is not the key that encrypted this database's secrets \
         (the database expects key id {expected}). Restore the original key file; \
         a new key cannot decrypt what was stored"
    )]
    WrongKey { path: String, expected: String },
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error(transparent)]
    Client(#[from] crate::graph::ClientBuildError),
    #[error(transparent)]
    WebhookClient(#[from] crate::webhooks::ClientBuildError),
    #[error("server stopped with an error: {0}")]
    Serve(String),
}

impl StartError {
    /// 2 for configuration problems an admin must fix before starting again, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_)
            | Self::WrongKey { .. }
            | Self::Crypto(
                CryptoError::KeyFileInvalid { .. } | CryptoError::KeyFileExposed { .. },
            ) => 2,
            _ => 1,
        }
    }
}

/// A migrated database, a checked key and the state built from them.
pub struct Prepared {
    pub state: AppState,
    /// Present while no admin exists: the one-time setup token.
    pub setup_token: Option<String>,
    pub key_created: bool,
}

impl Prepared {
    pub fn setup_url(&self) -> Option<String> {
        self.setup_token.as_ref().map(|t| {
            self.state
                .config
                .public_url
                .absolute(&format!("/setup?token={t}"))
        })
    }
}

/// Connects to the configured database and applies migrations.
pub async fn open_database(config: &Config) -> Result<Db, StartError> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    Ok(db)
}

/// Loads (or creates) the secret key and verifies it against the database's canary.
pub async fn check_key(config: &Config, db: &Db) -> Result<(SecretKey, bool), StartError> {
    let (key, created) = SecretKey::load_or_create(&config.secret_key_file)?;
    match db.setting(KEY_CANARY).await? {
        None => {
            db.set_setting(
                KEY_CANARY,
                &key.seal(crate::crypto::context::KEY_CANARY, CANARY_TEXT),
            )
            .await?;
        }
        Some(sealed) => {
            if key
                .open(crate::crypto::context::KEY_CANARY, &sealed)
                .is_err()
            {
                // An interrupted rotation leaves the new key beside the old one.
                let pending = pending_key_path(&config.secret_key_file);
                let hint = match SecretKey::load(&pending) {
                    Ok(k) if k.open(crate::crypto::context::KEY_CANARY, &sealed).is_ok() => {
                        format!(
                            "; a key rotation was interrupted: {} holds the right key, move it to {}",
                            pending.display(),
                            config.secret_key_file.display()
                        )
                    }
                    _ => String::new(),
                };
                return Err(StartError::WrongKey {
                    path: config.secret_key_file.display().to_string(),
                    expected: format!(
                        "{}{hint}",
                        crate::crypto::sealed_key_id(&sealed).unwrap_or("?")
                    ),
                });
            }
        }
    }
    Ok((key, created))
}

fn pending_key_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    std::path::PathBuf::from(name)
}

/// The result of a key rotation.
pub struct Rotation {
    pub resealed: usize,
    pub old_key_backup: std::path::PathBuf,
}

/// Re-encrypts every stored secret under a new key, then puts the new key in place. The new key
/// is written first, the database is re-sealed in one transaction, then the files are swapped;
/// an interruption leaves either the old state or a clear hint at start-up. Datapump must not
/// be running meanwhile (its in-memory key would be the old one).
pub async fn rotate_key(config: &Config) -> Result<Rotation, StartError> {
    let db = open_database(config).await?;
    let (old, _) = check_key(config, &db).await?;
    let new = SecretKey::generate();
    let path = &config.secret_key_file;
    let pending = pending_key_path(path);
    if pending.exists() {
        // Left over from an aborted rotation whose database change never committed.
        let _ = std::fs::remove_file(&pending);
    }
    new.write_new_file(&pending)?;
    let canary = new.seal(crate::crypto::context::KEY_CANARY, CANARY_TEXT);
    let resealed = db.reseal_all(&old, &new, (KEY_CANARY, &canary)).await?;
    db.close().await;
    let mut backup = path.as_os_str().to_owned();
    backup.push(format!(
        ".old-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    let backup = std::path::PathBuf::from(backup);
    let io = |e: std::io::Error| {
        StartError::Crypto(CryptoError::KeyFileCreate {
            path: path.clone(),
            reason: e.to_string(),
        })
    };
    std::fs::rename(path, &backup).map_err(io)?;
    std::fs::rename(&pending, path).map_err(io)?;
    Ok(Rotation {
        resealed,
        old_key_backup: backup,
    })
}

/// Everything before listening: database, key, state, setup token.
pub async fn prepare(config: Config, db: Db) -> Result<Prepared, StartError> {
    let (key, key_created) = check_key(&config, &db).await?;
    let setup_token = db.issue_setup_token().await?;
    // Derived reception data follows the configuration: the local times' zone and the
    // internal domains (rewritten here when either changed since the last start).
    let relocalized = db.localize_events(config.sync_policy.time_zone).await?;
    if relocalized > 0 {
        tracing::info!(
            events = relocalized,
            zone = config.sync_policy.time_zone.name(),
            "local times written"
        );
    }
    db.set_configured_internal_domains(&config.internal_domains)
        .await?;
    let key = Arc::new(key);
    let config_api_rate = config.api_requests_per_minute;
    let tokens = Arc::new(TokenService::new(
        db.clone(),
        key.clone(),
        crate::graph::Client::new()?,
        config.token_policy.clone(),
    ));
    let shutdown = CancellationToken::new();
    let sync = Arc::new(crate::sync::SyncEngine::new(
        db.clone(),
        tokens.clone(),
        config.sync_policy.clone(),
        shutdown.clone(),
    ));
    let authorizations = Arc::new(crate::profiles::authorization::Authorizations::new(
        db.clone(),
        tokens.clone(),
        key.clone(),
        config.public_url.absolute("/callback"),
        config.oauth_transaction_ttl,
    ));
    let webhooks = Arc::new(crate::webhooks::Dispatcher::new(
        db.clone(),
        key.clone(),
        config.webhooks.clone(),
        shutdown.clone(),
    )?);
    let state = AppState {
        webhooks,
        throttle: Arc::new(config.throttle.clone()),
        hashing: Arc::default(),
        tokens,
        authorizations,
        sync,
        config: Arc::new(config),
        db,
        key,
        shutdown,
        api_limits: Arc::new(crate::web::api::Limits::per_minute(config_api_rate)),
        api_uses: Arc::default(),
    };
    Ok(Prepared {
        state,
        setup_token,
        key_created,
    })
}

pub fn router(state: &AppState) -> (Router, Vec<RouteInfo>) {
    web::build(state.clone())
}

/// Serves until `state.shutdown` is cancelled, then finishes in-flight requests and stops the
/// background tasks.
pub async fn run(state: AppState, listener: TcpListener) -> Result<(), StartError> {
    let shutdown = state.shutdown.clone();
    let mut tasks = JoinSet::new();
    crate::jobs::spawn(&state, &mut tasks);
    if state.config.run_scheduler {
        tasks.spawn(state.sync.clone().run_scheduler());
    }
    tasks.spawn(state.webhooks.clone().run());

    let (router, _) = router(&state);
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned())
    .await;
    shutdown.cancel();
    while tasks.join_next().await.is_some() {}
    if let Err(e) = state.api_uses.flush(&state.db).await {
        tracing::warn!(error = %e, "API token uses not written");
    }
    served.map_err(|e| StartError::Serve(e.to_string()))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
