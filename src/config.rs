//! Configuration: built-in defaults, then an optional TOML file (`--config`), then `DATAPUMP_*`
//! environment variables. Every value is validated here, once, so that a bad setting stops the
//! program at start with one line that names the variable.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use url::Url;

/// A configuration error names the setting (as its environment variable) and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid {var}: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("cannot read config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration of one Datapump instance.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub bind: SocketAddr,
    pub public_url: PublicUrl,
    pub secret_key_file: PathBuf,
    pub trusted_proxies: Vec<IpNet>,
    pub log: String,
    pub log_format: LogFormat,
    pub session_idle_timeout: Duration,
    pub session_max_lifetime: Duration,
    /// `/readyz` reports not ready when the data directory's file system has less free space.
    pub min_free_disk_mb: u64,
    /// A request not answered within this gets 503 (requirement 47).
    pub request_timeout: Duration,
    /// How long finished import runs are kept (the latest of each subscription always stays).
    pub run_history: Duration,
    /// How long the change feed keeps its entries.
    pub change_retention: Duration,
    /// Domains whose attendees are colleagues, besides the subscribed mailboxes' own.
    pub internal_domains: Vec<String>,
    /// Requests per minute one API token may make (per instance).
    pub api_requests_per_minute: std::num::NonZeroU32,
    /// How long audit log entries are kept.
    pub audit_retention: Duration,
    /// Login throttling; not an environment setting, but adjustable in-process (tests).
    pub throttle: crate::auth::throttle::ThrottlePolicy,
    /// Token refresh tunables; in-process only (tests shorten them).
    pub token_policy: crate::profiles::tokens::TokenPolicy,
    /// How long an authorization may take from "Test" to the callback.
    pub oauth_transaction_ttl: Duration,
    /// Import engine tunables; in-process only.
    pub sync_policy: crate::sync::SyncPolicy,
    /// Whether `serve` runs the background import scheduler (tests drive runs themselves).
    pub run_scheduler: bool,
    /// Timing of webhook deliveries.
    pub webhooks: crate::webhooks::WebhookPolicy,
}

/// The URL users reach Datapump under; the only source of absolute URLs, the path prefix, the
/// cookie `Secure` flag and the trusted origin for CSRF checks.
#[derive(Debug, Clone)]
pub struct PublicUrl {
    url: Url,
    prefix: String,
}

impl PublicUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL ({e})"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("{raw:?} must start with http:// or https://"));
        }
        if url.host_str().is_none() {
            return Err(format!("{raw:?} has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("{raw:?} must not carry a query or fragment"));
        }
        // A user name or password in it would be in every link and redirect Datapump writes.
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the address must not carry a user name or password".into());
        }
        let prefix = url.path().trim_end_matches('/').to_string();
        Ok(Self { url, prefix })
    }

    /// Path prefix without a trailing slash: `""` at the root, `"/datapump"` under a sub-path.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// `scheme://host[:port]`, as browsers send it in the `Origin` header.
    pub fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// Absolute URL of an app path such as `/callback`.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{}{}", self.origin(), self.prefix, path)
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }
}

/// Keys of the TOML file; the same names as the environment variables without `DATAPUMP_`,
/// lower case. Unknown keys are an error, so a typo does not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<String>,
    database_url: Option<String>,
    bind: Option<String>,
    public_url: Option<String>,
    secret_key_file: Option<String>,
    trusted_proxies: Option<TrustedProxies>,
    log: Option<String>,
    log_format: Option<String>,
    session_idle_minutes: Option<u64>,
    session_max_hours: Option<u64>,
    sync_concurrency: Option<u64>,
    sync_page_size: Option<u64>,
    sync_lease_seconds: Option<u64>,
    verify_minutes: Option<u64>,
    webhook_allow: Option<TrustedProxies>,
    graph_concurrency: Option<String>,
    run_history_days: Option<u64>,
    change_retention_days: Option<u64>,
    time_zone: Option<String>,
    internal_domains: Option<String>,
    api_requests_per_minute: Option<u64>,
    audit_retention_days: Option<u64>,
    min_free_disk_mb: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum TrustedProxies {
    List(Vec<String>),
    Text(String),
}

impl Config {
    /// Loads from the process environment and an optional file.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::from_sources(file, |name| std::env::var(name).ok())
    }

    /// Loads from a file and an arbitrary variable source (tests pass a map).
    pub fn from_sources(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let file_cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    reason: e.to_string(),
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::File {
                    path: path.to_owned(),
                    reason: e.message().to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        // An empty variable counts as unset, as shells and compose files often leave them so.
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());

        let data_dir = PathBuf::from(
            var("DATAPUMP_DATA_DIR")
                .or(file_cfg.data_dir)
                .unwrap_or_else(|| "./data".into()),
        );
        let database_url = var("DATAPUMP_DATABASE_URL")
            .or(file_cfg.database_url)
            .unwrap_or_else(|| format!("sqlite://{}/datapump.db", data_dir.display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            return Err(invalid(
                "DATAPUMP_DATABASE_URL",
                "must start with sqlite: or postgres:",
            ));
        }

        let bind_raw = var("DATAPUMP_BIND")
            .or(file_cfg.bind)
            .unwrap_or_else(|| "127.0.0.1:8000".into());
        let bind = bind_raw.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "DATAPUMP_BIND",
                format!("{bind_raw:?} is not an address like 127.0.0.1:8000"),
            )
        })?;

        let public_raw = var("DATAPUMP_PUBLIC_URL")
            .or(file_cfg.public_url)
            .unwrap_or_else(|| "http://localhost:8000".into());
        let public_url =
            PublicUrl::parse(&public_raw).map_err(|e| invalid("DATAPUMP_PUBLIC_URL", e))?;

        let secret_key_file = var("DATAPUMP_SECRET_KEY_FILE")
            .or(file_cfg.secret_key_file)
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("secret.key"));

        let proxies: Vec<String> = match var("DATAPUMP_TRUSTED_PROXIES") {
            Some(text) => split_list(&text),
            None => match file_cfg.trusted_proxies {
                Some(TrustedProxies::List(list)) => list,
                Some(TrustedProxies::Text(text)) => split_list(&text),
                None => Vec::new(),
            },
        };
        let trusted_proxies = proxies
            .iter()
            .map(|p| parse_cidr(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("DATAPUMP_TRUSTED_PROXIES", e))?;

        // Internal ranges webhooks may reach all the same (a receiver on this machine or in
        // the intranet); each named, never a wildcard.
        let allow: Vec<String> = match var("DATAPUMP_WEBHOOK_ALLOW") {
            Some(text) => split_list(&text),
            None => match file_cfg.webhook_allow {
                Some(TrustedProxies::List(list)) => list,
                Some(TrustedProxies::Text(text)) => split_list(&text),
                None => Vec::new(),
            },
        };
        let webhook_allow = allow
            .iter()
            .map(|p| parse_cidr(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("DATAPUMP_WEBHOOK_ALLOW", e))?;

        let log = var("DATAPUMP_LOG")
            .or(file_cfg.log)
            .unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(&log)
            .map_err(|e| invalid("DATAPUMP_LOG", format!("{log:?}: {e}")))?;
        let log_format = match var("DATAPUMP_LOG_FORMAT")
            .or(file_cfg.log_format)
            .as_deref()
        {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "DATAPUMP_LOG_FORMAT",
                    format!("{other:?} is neither text nor json"),
                ));
            }
        };

        let idle_minutes = number(
            "DATAPUMP_SESSION_IDLE_MINUTES",
            var("DATAPUMP_SESSION_IDLE_MINUTES"),
            file_cfg.session_idle_minutes,
            30,
        )?;
        let max_hours = number(
            "DATAPUMP_SESSION_MAX_HOURS",
            var("DATAPUMP_SESSION_MAX_HOURS"),
            file_cfg.session_max_hours,
            12,
        )?;

        let run_days = number(
            "DATAPUMP_RUN_HISTORY_DAYS",
            var("DATAPUMP_RUN_HISTORY_DAYS"),
            file_cfg.run_history_days,
            90,
        )?;
        let api_rate = number(
            "DATAPUMP_API_REQUESTS_PER_MINUTE",
            var("DATAPUMP_API_REQUESTS_PER_MINUTE"),
            file_cfg.api_requests_per_minute,
            600,
        )?;
        let api_requests_per_minute = u32::try_from(api_rate)
            .ok()
            .and_then(std::num::NonZeroU32::new)
            .ok_or_else(|| {
                invalid(
                    "DATAPUMP_API_REQUESTS_PER_MINUTE",
                    "must be between 1 and 4294967295".to_string(),
                )
            })?;
        let change_days = number(
            "DATAPUMP_CHANGE_RETENTION_DAYS",
            var("DATAPUMP_CHANGE_RETENTION_DAYS"),
            file_cfg.change_retention_days,
            30,
        )?;
        let audit_days = number(
            "DATAPUMP_AUDIT_RETENTION_DAYS",
            var("DATAPUMP_AUDIT_RETENTION_DAYS"),
            file_cfg.audit_retention_days,
            730,
        )?;
        let min_free_disk_mb = number(
            "DATAPUMP_MIN_FREE_DISK_MB",
            var("DATAPUMP_MIN_FREE_DISK_MB"),
            file_cfg.min_free_disk_mb,
            100,
        )?;

        let concurrency = number(
            "DATAPUMP_SYNC_CONCURRENCY",
            var("DATAPUMP_SYNC_CONCURRENCY"),
            file_cfg.sync_concurrency,
            8,
        )?;
        let page_size = number(
            "DATAPUMP_SYNC_PAGE_SIZE",
            var("DATAPUMP_SYNC_PAGE_SIZE"),
            file_cfg.sync_page_size,
            200,
        )?;
        if page_size > 1000 {
            return Err(invalid(
                "DATAPUMP_SYNC_PAGE_SIZE",
                format!("{page_size} is more than Graph's 1000 events per page"),
            ));
        }
        let lease = number(
            "DATAPUMP_SYNC_LEASE_SECONDS",
            var("DATAPUMP_SYNC_LEASE_SECONDS"),
            file_cfg.sync_lease_seconds,
            120,
        )?;
        let verify_minutes = number(
            "DATAPUMP_VERIFY_MINUTES",
            var("DATAPUMP_VERIFY_MINUTES"),
            file_cfg.verify_minutes,
            60,
        )?;
        let concurrency_scope =
            match var("DATAPUMP_GRAPH_CONCURRENCY").or(file_cfg.graph_concurrency) {
                None => crate::sync::ConcurrencyScope::default(),
                Some(v) => v
                    .parse()
                    .map_err(|e: String| invalid("DATAPUMP_GRAPH_CONCURRENCY", e))?,
            };
        let time_zone = match var("DATAPUMP_TIME_ZONE").or(file_cfg.time_zone) {
            None => server_zone(var("TZ")),
            Some(v) => v.trim().parse::<chrono_tz::Tz>().map_err(|_| {
                invalid(
                    "DATAPUMP_TIME_ZONE",
                    format!("{v:?} is not an IANA time zone such as Europe/Berlin"),
                )
            })?,
        };
        let internal_domains = var("DATAPUMP_INTERNAL_DOMAINS")
            .or(file_cfg.internal_domains)
            .unwrap_or_default()
            .split(',')
            .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect::<Vec<_>>();
        if let Some(bad) = internal_domains.iter().find(|d| {
            !d.contains('.') || d.chars().any(|c| c.is_whitespace() || c == '@' || c == '/')
        }) {
            return Err(invalid(
                "DATAPUMP_INTERNAL_DOMAINS",
                format!(
                    "{bad:?} is not a domain name (a comma-separated list such as contoso.com, contoso.de)"
                ),
            ));
        }
        let sync_policy = crate::sync::SyncPolicy {
            concurrency: usize::try_from(concurrency).unwrap_or(8),
            concurrency_scope,
            time_zone,
            page_size: u32::try_from(page_size.min(1000)).unwrap_or(200),
            lease: Duration::from_secs(lease),
            verify_every: (verify_minutes > 0)
                .then(|| Duration::from_secs(verify_minutes.min(10_080) * 60)),
            ..crate::sync::SyncPolicy::default()
        };

        Ok(Self {
            data_dir,
            database_url,
            bind,
            public_url,
            secret_key_file,
            trusted_proxies,
            log,
            log_format,
            session_idle_timeout: Duration::from_secs(idle_minutes * 60),
            session_max_lifetime: Duration::from_secs(max_hours * 3600),
            min_free_disk_mb,
            request_timeout: Duration::from_secs(60),
            run_history: Duration::from_secs(run_days.min(36_500) * 86_400),
            change_retention: Duration::from_secs(change_days.clamp(1, 36_500) * 86_400),
            internal_domains,
            api_requests_per_minute,
            audit_retention: Duration::from_secs(audit_days.min(36_500) * 86_400),
            throttle: crate::auth::throttle::ThrottlePolicy::default(),
            token_policy: crate::profiles::tokens::TokenPolicy::default(),
            oauth_transaction_ttl: Duration::from_secs(600),
            sync_policy,
            run_scheduler: true,
            webhooks: crate::webhooks::WebhookPolicy {
                destinations: crate::webhooks::destination::Destinations {
                    allow: webhook_allow,
                },
                ..crate::webhooks::WebhookPolicy::default()
            },
        })
    }
}

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        reason: reason.into(),
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Accepts a CIDR or a bare address (taken as a single host). A range wider than /8 (IPv4) or
/// /16 (IPv6) is refused: trusting `0.0.0.0/0` would let any client choose the address that
/// sign-in throttling counts.
fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let net = text
        .parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an address or CIDR such as 10.0.0.0/8"))?;
    let widest = match net {
        IpNet::V4(_) => 8,
        IpNet::V6(_) => 16,
    };
    if net.prefix_len() < widest {
        return Err(format!(
            "{text:?} trusts too many addresses: name the proxies (at most a /{widest})"
        ));
    }
    Ok(net)
}

fn number(
    var: &'static str,
    env: Option<String>,
    file: Option<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    let value = match env {
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map_err(|_| invalid(var, format!("{text:?} is not a whole number")))?,
        None => file.unwrap_or(default),
    };
    if value == 0 {
        return Err(invalid(var, "must be at least 1"));
    }
    Ok(value)
}

/// The server's zone: `TZ` when it names an IANA zone, else the system's, else UTC (a
/// container without zone data).
fn server_zone(tz: Option<String>) -> chrono_tz::Tz {
    tz.and_then(|t| t.trim().trim_start_matches(':').parse().ok())
        .or_else(|| iana_time_zone::get_timezone().ok()?.parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_sources(None, |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_work_out_of_the_box() {
        let cfg = load(&[]).expect("defaults are valid");
        assert_eq!(cfg.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(cfg.database_url, "sqlite://./data/datapump.db");
        assert_eq!(cfg.secret_key_file, PathBuf::from("./data/secret.key"));
        assert_eq!(cfg.public_url.prefix(), "");
        assert!(!cfg.public_url.is_https());
        assert!(cfg.trusted_proxies.is_empty());
    }

    #[test]
    fn public_url_with_sub_path() {
        let cfg =
            load(&[("DATAPUMP_PUBLIC_URL", "https://intranet.example/datapump/")]).expect("valid");
        assert_eq!(cfg.public_url.prefix(), "/datapump");
        assert!(cfg.public_url.is_https());
        assert_eq!(cfg.public_url.origin(), "https://intranet.example");
        assert_eq!(
            cfg.public_url.absolute("/callback"),
            "https://intranet.example/datapump/callback"
        );
    }

    #[test]
    fn errors_name_the_variable() {
        let cases = [
            ("DATAPUMP_BIND", "localhost"),
            ("DATAPUMP_PUBLIC_URL", "ftp://x"),
            ("DATAPUMP_DATABASE_URL", "mysql://x"),
            ("DATAPUMP_TRUSTED_PROXIES", "10.0.0.0/8, nonsense"),
            ("DATAPUMP_LOG_FORMAT", "xml"),
            ("DATAPUMP_SESSION_IDLE_MINUTES", "0"),
            // Refused since issue 30 (item 11): they used to be taken silently.
            (
                "DATAPUMP_PUBLIC_URL",
                "https://admin:secret@intranet.example/",
            ),
            ("DATAPUMP_SYNC_PAGE_SIZE", "5000"),
            ("DATAPUMP_TRUSTED_PROXIES", "0.0.0.0/0"),
            ("DATAPUMP_TRUSTED_PROXIES", "::/0"),
        ];
        for (var, value) in cases {
            let err = load(&[(var, value)]).expect_err(var).to_string();
            assert!(err.contains(var), "{err}");
        }
    }

    #[test]
    fn trusted_proxies_accept_cidrs_and_addresses() {
        let cfg = load(&[("DATAPUMP_TRUSTED_PROXIES", "10.0.0.0/8 127.0.0.1,::1")]).expect("ok");
        assert_eq!(cfg.trusted_proxies.len(), 3);
    }

    #[test]
    fn file_then_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("datapump.toml");
        std::fs::write(
            &path,
            "bind = \"0.0.0.0:9000\"\ntrusted_proxies = [\"10.1.0.0/16\"]\nlog = \"debug\"\n",
        )
        .expect("write");
        let cfg = Config::from_sources(Some(&path), |k| {
            (k == "DATAPUMP_LOG").then(|| "warn".to_string())
        })
        .expect("valid");
        assert_eq!(cfg.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(cfg.trusted_proxies.len(), 1);
        assert_eq!(cfg.log, "warn");

        std::fs::write(&path, "bnid = \"x\"\n").expect("write");
        let err = Config::from_sources(Some(&path), |_| None).expect_err("typo");
        assert!(err.to_string().contains("bnid"), "{err}");
    }

    #[test]
    fn time_zone_from_setting_then_tz() {
        let zone = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Config::from_sources(None, |k| {
                vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
            })
            .map(|c| c.sync_policy.time_zone)
        };
        assert_eq!(
            zone(&[("TZ", "America/New_York")]).ok(),
            Some(chrono_tz::America::New_York)
        );
        assert_eq!(
            zone(&[("TZ", ":Europe/Vienna")]).ok(),
            Some(chrono_tz::Europe::Vienna)
        );
        let both = [
            ("TZ", "America/New_York"),
            ("DATAPUMP_TIME_ZONE", "Europe/Berlin"),
        ];
        assert_eq!(zone(&both).ok(), Some(chrono_tz::Europe::Berlin));
        let err = zone(&[("DATAPUMP_TIME_ZONE", "Mars/Olympus")]).expect_err("unknown zone");
        assert!(err.to_string().contains("IANA"), "{err}");
    }
}
