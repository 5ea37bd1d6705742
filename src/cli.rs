//! The command line: `serve` (default), `migrate`, `admin …`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::{self, StartError};
use crate::auth::{password, validate_username};
use crate::config::Config;
use crate::storage::admins::{AdminUpdate, NewAdmin, Role};
use crate::storage::audit::AuditRecord;
use crate::storage::{Db, StoreError};

#[derive(Debug, Parser)]
#[command(
    name = "datapump",
    version,
    about = "Imports Microsoft 365 calendars through Microsoft Graph into SQLite or PostgreSQL"
)]
pub struct Cli {
    /// TOML file with settings (environment variables DATAPUMP_* take precedence).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web application and its background workers (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Re-encrypt all stored secrets under a new key (stop Datapump first).
    RotateKey,
    /// Write a consistent, integrity-checked copy of the SQLite database while Datapump runs
    /// (PostgreSQL: pg_dump).
    #[command(group(clap::ArgGroup::new("target").required(true).args(["to", "dir"])))]
    Backup {
        /// The file to create; an existing file is never overwritten.
        #[arg(long)]
        to: Option<PathBuf>,
        /// A directory for dated copies (datapump-<UTC time>.db), pruned to the newest --keep.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// With --dir: how many copies to keep.
        #[arg(long, default_value_t = 7, requires = "dir", value_parser = clap::value_parser!(u32).range(1..))]
        keep: u32,
    },
    /// Replace the SQLite database with a backup (stop Datapump first; PostgreSQL: pg_restore).
    /// The backup is checked first; the replaced database is kept beside it.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
    /// Import calendars in the foreground and exit (for cron, or to check a subscription).
    Sync {
        /// Run the due subscriptions once (required; the background scheduler is `serve`).
        #[arg(long)]
        once: bool,
        /// Only this subscription, due or not.
        #[arg(long)]
        subscription: Option<i64>,
    },
    /// Run the Microsoft 365 simulator (identity platform + Graph) for tests, demos and benchmarks.
    Sim(SimArgs),
    /// The simulator and Datapump together, set up and importing: see the product in a minute.
    Demo {
        /// Where the demo keeps its data (never the real data directory).
        #[arg(long, default_value = "./data-demo")]
        data_dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8000")]
        bind: std::net::SocketAddr,
        #[arg(long, default_value = "127.0.0.1:8001")]
        sim_bind: std::net::SocketAddr,
        /// Delete the demo data and start over.
        #[arg(long)]
        reset: bool,
    },
    /// Probe a running instance's /readyz (for container health checks); exit 0 when it can work.
    Healthcheck {
        /// Base URL of the instance; default: the configured bind address.
        #[arg(long)]
        url: Option<String>,
    },
    /// Manage admin accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, clap::Args)]
struct SimArgs {
    #[arg(long, default_value = "127.0.0.1:8001")]
    bind: std::net::SocketAddr,
    /// Seed of the generated tenant (same seed, same tenant).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 8)]
    rooms: usize,
    #[arg(long, default_value_t = 24)]
    users: usize,
    #[arg(long, default_value_t = 120)]
    events_per_room: usize,
    /// Added to every Graph request.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Probability of a random 429/503/504 per request.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Sign in with the login hint (or the default account) and consent without showing pages.
    #[arg(long)]
    auto_consent: bool,
    /// Additional redirect URIs of the default app registration.
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Fixed access-token lifetime in seconds (default: 60–90 minutes, as Entra does).
    #[arg(long)]
    token_lifetime_secs: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an admin; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long, default_value = "admin", value_parser = ["admin", "viewer"])]
        role: String,
        /// Read the password from standard input (required; passwords never go on the command line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List admins.
    List,
    /// Set an admin's password (read from standard input); ends their sessions.
    SetPassword {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable an admin; ends their sessions.
    Disable {
        #[arg(long)]
        username: String,
    },
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("unhealthy: {0}")]
    Unhealthy(String),
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            Self::Start(e) => e.exit_code(),
            Self::Store(_) | Self::Unhealthy(_) | Self::Failed(_) => 1,
            Self::Usage(_) => 2,
        }
    }
}

/// Parses the arguments and runs the command; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("datapump: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("datapump: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("datapump: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn dispatch(command: Command, config: Config) -> Result<(), CliError> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            app::open_database(&config).await?;
            println!("Database is up to date.");
            Ok(())
        }
        Command::Healthcheck { url } => healthcheck(&config, url).await,
        Command::Sync { once, subscription } => {
            if !once {
                return Err(CliError::Usage(
                    "use --once (the continuous scheduler runs in `datapump serve`)".into(),
                ));
            }
            let db = app::open_database(&config).await?;
            let prepared = app::prepare(config, db).await?;
            let reports = match prepared.state.sync.run_once(subscription).await {
                Err(crate::storage::StoreError::NotFound) if subscription.is_some() => {
                    return Err(CliError::Failed(format!(
                        "there is no subscription {} (deleted, or never created)",
                        subscription.unwrap_or_default()
                    )));
                }
                other => other.map_err(StartError::Store)?,
            };
            let mut failed = Vec::new();
            for r in &reports {
                println!(
                    "subscription {}: {} ({}), {} pages, +{} ~{} -{}{}",
                    r.subscription_id,
                    r.status,
                    r.kind,
                    r.stats.pages,
                    r.stats.created,
                    r.stats.updated,
                    r.stats.deleted,
                    r.error
                        .as_deref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
                if r.status != crate::model::RunStatus::Ok {
                    failed.push(r.subscription_id.to_string());
                }
            }
            if subscription.is_some() && reports.is_empty() {
                return Err(CliError::Failed(
                    "the subscription is being synced by another process".into(),
                ));
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(CliError::Failed(format!(
                    "sync failed for subscription(s) {}",
                    failed.join(", ")
                )))
            }
        }
        Command::Backup { to, dir, keep } => backup(&config, to, dir, keep).await,
        Command::Restore { from } => restore(&config, &from).await,
        Command::RotateKey => {
            let r = app::rotate_key(&config).await?;
            let db = app::open_database(&config).await?;
            db.record_audit(cli_audit(
                "key.rotated",
                "secret key",
                Some(format!("{} values re-encrypted", r.resealed)),
            ))
            .await?;
            println!(
                "Re-encrypted {} stored secrets under a new key in {}. The previous key was kept as {}; \
                 delete it once backups made with it are no longer needed.",
                r.resealed,
                config.secret_key_file.display(),
                r.old_key_backup.display()
            );
            Ok(())
        }
        Command::Sim(args) => simulator(args).await,
        Command::Demo {
            data_dir,
            bind,
            sim_bind,
            reset,
        } => crate::demo::run(crate::demo::DemoOptions {
            data_dir,
            bind,
            sim_bind,
            reset,
        })
        .await
        .map_err(|e| match e {
            crate::demo::DemoError::Start(s) => CliError::Start(s),
            other => CliError::Failed(other.to_string()),
        }),
        Command::Admin { command } => {
            let db = app::open_database(&config).await?;
            admin(command, &db).await
        }
    }
}

async fn serve(config: Config) -> Result<(), CliError> {
    let bind = config.bind;
    let db = app::open_database(&config).await?;
    // One serving instance per SQLite file, held until this process ends.
    let _serving = crate::storage::backup::hold_serving(&config.database_url)?;
    if config.database_url.starts_with("sqlite:")
        && let Some(kind) = crate::disk::network_filesystem(&config.data_dir)
    {
        tracing::warn!(
            filesystem = kind,
            dir = %config.data_dir.display(),
            "the SQLite database is on a network file system, where its locking is not reliable: keep the data directory on a local disk, or use PostgreSQL"
        );
    }
    let prepared = app::prepare(config, db).await?;
    if prepared.key_created {
        tracing::warn!(
            path = %prepared.state.config.secret_key_file.display(),
            "created a new secret key; back it up separately from the database: without it the stored secrets cannot be decrypted"
        );
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| StartError::Bind {
            addr: bind,
            reason: e.to_string(),
        })?;
    tracing::info!(
        listen = %bind,
        url = %prepared.state.config.public_url.as_str(),
        database = prepared.state.db.backend().name(),
        "Datapump is running"
    );
    if let Some(url) = prepared.setup_url() {
        tracing::warn!(
            "no admin exists yet; create the first one by opening this one-time link (valid for {} hours; every start prints a new one): {url}",
            crate::storage::setup::SETUP_LINK_HOURS
        );
        tracing::warn!("(alternatively: datapump admin create --username NAME --password-stdin)");
    }
    let shutdown = prepared.state.shutdown.clone();
    tokio::spawn(async move {
        app::shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        shutdown.cancel();
    });
    app::run(prepared.state, listener).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn simulator(args: SimArgs) -> Result<(), CliError> {
    use datapump_sim::{self as sim, SimConfig, state};
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(CliError::Usage(
            "--fault-rate must be between 0 and 1".into(),
        ));
    }
    let mut config = SimConfig {
        seed: args.seed,
        rooms: args.rooms,
        users: args.users,
        events_per_room: args.events_per_room,
        latency: std::time::Duration::from_millis(args.latency_ms),
        fault_rate: args.fault_rate,
        auto_consent: args.auto_consent,
        access_token_lifetime: args.token_lifetime_secs.map(std::time::Duration::from_secs),
        ..SimConfig::default()
    };
    config.redirect_uris.extend(args.redirect_uris);
    let started = std::time::Instant::now();
    let simulator = sim::Sim::new(config.clone());
    let events: usize = simulator.lock().events.len();
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| StartError::Bind {
            addr: args.bind,
            reason: e.to_string(),
        })?;
    let server = sim::SimServer::serve(simulator, listener)
        .map_err(|e| CliError::Usage(format!("cannot start the simulator: {e}")))?;
    let url = &server.url;
    println!(
        "Microsoft 365 simulator on {url} ({events} events, built in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  tenant            {} ({})",
        sim::model::TENANT_DOMAIN,
        sim::model::TENANT_ID
    );
    println!("  login base URL    {url}   (authorize: {url}/common/oauth2/v2.0/authorize)");
    println!("  Graph base URL    {url}   (e.g. {url}/v1.0/me)");
    println!("  app (client) id   {}", state::DEFAULT_CLIENT_ID);
    println!(
        "  client secret     {} (expires in 24 months)",
        state::DEFAULT_SECRET
    );
    println!("  redirect URIs     {}", config.redirect_uris.join(", "));
    println!(
        "  permissions       {} (admin consent granted)",
        state::DEFAULT_PERMISSIONS.join(" ")
    );
    println!(
        "  sign-in account   {} / {}",
        state::DEFAULT_ACCOUNT,
        state::DEFAULT_PASSWORD
    );
    println!("  control API       {url}/_sim/state");
    app::shutdown_signal().await;
    server.stop().await;
    Ok(())
}

/// A minimal HTTP/1.1 probe, so that container images need no curl.
async fn healthcheck(config: &Config, url: Option<String>) -> Result<(), CliError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (host, path) = match &url {
        Some(u) => {
            let parsed = url::Url::parse(u).map_err(|e| CliError::Usage(format!("--url: {e}")))?;
            let host = format!(
                "{}:{}",
                parsed.host_str().unwrap_or("127.0.0.1"),
                parsed.port_or_known_default().unwrap_or(80)
            );
            (
                host,
                format!("{}/readyz", parsed.path().trim_end_matches('/')),
            )
        }
        None => {
            let mut addr = config.bind;
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            (addr.to_string(), "/readyz".to_string())
        }
    };
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(&host).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(std::time::Duration::from_secs(5), probe)
        .await
        .map_err(|_| CliError::Usage(format!("{host}: no answer within 5 s")))?
        .map_err(|e| CliError::Usage(format!("{host}: {e}")))?;
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        println!("healthy");
        Ok(())
    } else {
        Err(CliError::Unhealthy(status_line.to_string()))
    }
}

/// Reads a password from standard input: everything up to the first line break.
fn read_password(flag: bool) -> Result<String, CliError> {
    if !flag {
        return Err(CliError::Usage(
            "pass the password on standard input and add --password-stdin".into(),
        ));
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| {
        CliError::Usage(format!("cannot read the password from standard input: {e}"))
    })?;
    let line = text.lines().next().unwrap_or("").to_string();
    Ok(line)
}

async fn backup(
    config: &Config,
    to: Option<PathBuf>,
    dir: Option<PathBuf>,
    keep: u32,
) -> Result<(), CliError> {
    use crate::storage::backup;
    let file = match (&to, &dir) {
        (Some(file), _) => file.clone(),
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::Failed(format!("{}: {e}", dir.display())))?;
            dir.join(backup::timestamped_name(chrono::Utc::now()))
        }
        (None, None) => return Err(CliError::Usage("--to or --dir is required".into())),
    };
    if file.exists() {
        return Err(CliError::Usage(format!(
            "{} exists already; choose a new file",
            file.display()
        )));
    }
    let db = app::open_database(config).await?;
    if !db.backup_sqlite(&file).await? {
        return Err(CliError::Usage(
            "the database is PostgreSQL: back it up with pg_dump".into(),
        ));
    }
    db.record_audit(cli_audit(
        "backup.created",
        &file.display().to_string(),
        Some("verified with SQLite's integrity check".into()),
    ))
    .await?;
    println!(
        "Backed up the database to {} (readable by this user only; integrity checked). \
         The secret key ({}) is not part of it: keep a copy of the key file apart from \
         the backups.",
        file.display(),
        config.secret_key_file.display()
    );
    if let Some(dir) = dir {
        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
        for old in backup::prune(&dir, keep)? {
            println!("Removed the older backup {}", old.display());
        }
    }
    Ok(())
}

async fn restore(config: &Config, from: &std::path::Path) -> Result<(), CliError> {
    use sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr;
    if !config.database_url.starts_with("sqlite:") {
        return Err(CliError::Usage(
            "the database is PostgreSQL: restore it with pg_restore".into(),
        ));
    }
    let options = SqliteConnectOptions::from_str(&config.database_url)
        .map_err(|e| CliError::Usage(format!("DATAPUMP_DATABASE_URL: {e}")))?;
    let target = options.get_filename().to_path_buf();
    if !from.is_file() {
        return Err(CliError::Usage(format!("{} is not a file", from.display())));
    }
    let key = crate::crypto::SecretKey::load(&config.secret_key_file).map_err(|e| {
        CliError::Usage(format!(
            "the secret key ({}) is needed to check the backup: {e}",
            config.secret_key_file.display()
        ))
    })?;
    let restored = match crate::storage::backup::restore_sqlite(from, &target, &key).await {
        Ok(r) => r,
        Err(e @ (StoreError::InUse(_) | StoreError::Backup(_))) => {
            return Err(CliError::Usage(e.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let db = app::open_database(config).await?;
    db.record_audit(cli_audit(
        "backup.restored",
        &from.display().to_string(),
        restored
            .previous
            .as_ref()
            .map(|p| format!("the replaced database was kept as {}", p.display())),
    ))
    .await?;
    println!("Restored {} from {}.", target.display(), from.display());
    if let Some(previous) = restored.previous {
        println!(
            "The database it replaced is kept as {}; delete it when you no longer need it.",
            previous.display()
        );
    }
    Ok(())
}

fn cli_audit(action: &'static str, target: &str, details: Option<String>) -> AuditRecord {
    AuditRecord {
        actor: Some("cli".into()),
        action,
        target: Some(target.to_string()),
        details,
        ..AuditRecord::default()
    }
}

async fn admin(command: AdminCommand, db: &Db) -> Result<(), CliError> {
    match command {
        AdminCommand::Create {
            username,
            role,
            password_stdin,
        } => {
            validate_username(&username)
                .map_err(|key| CliError::Usage(crate::i18n::Lang::En.t(key)))?;
            let password = read_password(password_stdin)?;
            password::check_policy(&password, &username)
                .map_err(|v| CliError::Usage(crate::i18n::Lang::En.t(v.message_key())))?;
            let role: Role = role.parse().map_err(CliError::Usage)?;
            let hash = password::hash(&password)
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let audit = cli_audit(
                "admin.created",
                username.trim(),
                Some(format!("role: {}", role.as_str())),
            );
            let admin = db
                .create_admin(
                    NewAdmin {
                        username: &username,
                        password_hash: &hash,
                        role,
                    },
                    Some(&audit),
                )
                .await
                .map_err(|e| match e {
                    StoreError::Duplicate => {
                        CliError::Usage(format!("an admin named {username:?} exists already"))
                    }
                    other => other.into(),
                })?;
            println!("Created {} {:?}.", admin.role.as_str(), admin.username);
            Ok(())
        }
        AdminCommand::List => {
            let admins = db.list_admins().await?;
            if admins.is_empty() {
                println!("No admins yet.");
            }
            for a in admins {
                println!(
                    "{:<32} {:<7} {:<9} last login: {}",
                    a.username,
                    a.role.as_str(),
                    if a.disabled { "disabled" } else { "active" },
                    a.last_login_at
                        .map_or_else(|| "never".to_string(), |t| t.to_rfc3339())
                );
            }
            Ok(())
        }
        AdminCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let admin = db
                .admin_by_username(&username)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no admin named {username:?}")))?;
            let password = read_password(password_stdin)?;
            password::check_policy(&password, &admin.username)
                .map_err(|v| CliError::Usage(crate::i18n::Lang::En.t(v.message_key())))?;
            let hash = password::hash(&password)
                .await
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let audit = cli_audit("admin.password_reset", &admin.username, None);
            db.set_admin_password(admin.id, &hash, true, &audit).await?;
            println!(
                "Password of {:?} changed; their sessions were ended.",
                admin.username
            );
            Ok(())
        }
        AdminCommand::Disable { username } => {
            let admin = db
                .admin_by_username(&username)
                .await?
                .ok_or_else(|| CliError::Usage(format!("no admin named {username:?}")))?;
            let update = AdminUpdate {
                role: admin.role,
                disabled: true,
                version: admin.version,
            };
            db.update_admin(admin.id, &update, |_| {
                cli_audit("admin.disabled", &admin.username, None)
            })
            .await
            .map_err(|e| match e {
                StoreError::LastAdmin => CliError::Usage(
                    "refused: this is the last active admin with the admin role".into(),
                ),
                other => other.into(),
            })?;
            println!("Disabled {:?}; their sessions were ended.", admin.username);
            Ok(())
        }
    }
}
