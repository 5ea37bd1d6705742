//! Test harness: the real application, started in-process on an ephemeral port, against a temp
//! SQLite file or a fresh PostgreSQL schema (when DATAPUMP_TEST_DATABASE_URL is set).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use datapump::app;
use datapump::auth::throttle::ThrottlePolicy;
use datapump::config::Config;
use datapump::storage::Db;
use datapump::storage::admins::{Admin, NewAdmin, Role};
use datapump::web::RouteInfo;
use datapump::web::state::AppState;
use reqwest::StatusCode;
use tokio::task::JoinHandle;

/// Runs a test body once on SQLite and once on PostgreSQL.
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body(crate::common::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(backend) = crate::common::Backend::postgres() {
                    super::$body(backend).await
                }
            }
        }
    };
}
pub(crate) use on_both_backends;

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend if configured. In CI its absence is an error, so that the
    /// PostgreSQL half of the suite cannot silently not run.
    pub fn postgres() -> Option<Self> {
        match std::env::var("DATAPUMP_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Self::Postgres(url)),
            _ => {
                assert!(
                    std::env::var("CI").is_err(),
                    "CI must set DATAPUMP_TEST_DATABASE_URL"
                );
                eprintln!("DATAPUMP_TEST_DATABASE_URL not set: PostgreSQL variant skipped");
                None
            }
        }
    }
}

/// A database for one test; a PostgreSQL schema is dropped when the guard goes.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    schema: Option<(String, String)>,
}

impl TestDb {
    pub async fn create(backend: &Backend, dir: &std::path::Path) -> Self {
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.join("datapump.db").display());
                let db = Db::connect(&url).await.expect("sqlite");
                db.migrate().await.expect("migrate");
                Self {
                    db,
                    url,
                    schema: None,
                }
            }
            Backend::Postgres(url) => {
                let schema = format!("dp_test_{}", uuid_simple());
                let admin = sqlx::PgPool::connect(url)
                    .await
                    .expect("postgres reachable");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&admin)
                    .await
                    .expect("create schema");
                admin.close().await;
                let db = Db::connect_postgres_schema(url, &schema)
                    .await
                    .expect("connect");
                db.migrate().await.expect("migrate");
                let with_schema = if url.contains('?') {
                    format!("{url}&options=-c%20search_path%3D{schema}")
                } else {
                    format!("{url}?options=-c%20search_path%3D{schema}")
                };
                Self {
                    db,
                    url: with_schema,
                    schema: Some((url.clone(), schema)),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.schema.take() {
            // Drop cannot await; a short-lived runtime on its own thread does the cleanup.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    if let Ok(pool) = sqlx::PgPool::connect(&url).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP SCHEMA IF EXISTS {schema} CASCADE"
                        )))
                        .execute(&pool)
                        .await;
                        pool.close().await;
                    }
                });
            })
            .join();
        }
    }
}

/// A port free right now (for child processes that need their address before they start).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

pub fn uuid_simple() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Everything any test of this binary logged (the subscriber is global to the process), so a
/// test can check that its secrets never reached the logs.
pub fn captured_logs() -> String {
    let buffer = log_buffer();
    let bytes = buffer.lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .try_init();
        buffer
    })
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How a test wants the app configured.
#[derive(Clone)]
pub struct Options {
    pub prefix: &'static str,
    pub env: Vec<(&'static str, String)>,
    pub idle_timeout: Option<Duration>,
    pub throttle: Option<ThrottlePolicy>,
    pub oauth_ttl: Option<Duration>,
    /// Run the background import scheduler (tests usually drive runs themselves).
    pub scheduler: bool,
    pub page_size: Option<u32>,
    /// Graph's request budget per app and mailbox (requests, window).
    pub request_budget: Option<(u32, Duration)>,
    /// The time a request may take before it is answered 503.
    pub request_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            prefix: "",
            env: Vec::new(),
            idle_timeout: None,
            oauth_ttl: None,
            scheduler: false,
            page_size: None,
            request_budget: None,
            request_timeout: None,
            // Tests must not wait for the production delays.
            throttle: Some(ThrottlePolicy {
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(40),
                ..ThrottlePolicy::default()
            }),
        }
    }
}

pub struct TestApp {
    /// Base URL including the prefix, without a trailing slash.
    pub base: String,
    pub origin: String,
    pub state: AppState,
    pub setup_token: Option<String>,
    pub inventory: Vec<RouteInfo>,
    pub data_dir: tempfile::TempDir,
    server: Option<JoinHandle<()>>,
    _db: TestDb,
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    /// Runs statements on the test's database directly (one connection, in order), as an
    /// older Datapump or another program would have written; `$n` parameters, text values.
    pub async fn execute_sql(&self, statements: &[(&str, Vec<&str>)]) {
        let url = &self._db.url;
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
            for (sql, args) in statements {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
                for a in args {
                    q = q.bind(*a);
                }
                q.execute(&pool).await.expect("execute");
            }
            pool.close().await;
        } else {
            let pool = sqlx::PgPool::connect(url).await.expect("postgres");
            for (sql, args) in statements {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()));
                for a in args {
                    q = q.bind(*a);
                }
                q.execute(&pool).await.expect("execute");
            }
            pool.close().await;
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self._db.url.starts_with("sqlite:")
    }

    /// One text column of a query on the test's database.
    pub async fn query_strings(&self, sql: &str, args: &[&str]) -> Vec<String> {
        let url = &self._db.url;
        if url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_string()));
            for a in args {
                q = q.bind(*a);
            }
            let v = q.fetch_all(&pool).await.expect("query");
            pool.close().await;
            v
        } else {
            let pool = sqlx::PgPool::connect(url).await.expect("postgres");
            let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_string()));
            for a in args {
                q = q.bind(*a);
            }
            let v = q.fetch_all(&pool).await.expect("query");
            pool.close().await;
            v
        }
    }

    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, Options::default()).await
    }

    pub async fn spawn_with(backend: Backend, options: Options) -> Self {
        log_buffer();
        let data_dir = tempfile::tempdir().expect("tempdir");
        let test_db = TestDb::create(&backend, data_dir.path()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let origin = format!("http://{addr}");
        let mut vars: HashMap<String, String> = HashMap::from([
            (
                "DATAPUMP_DATA_DIR".into(),
                data_dir.path().display().to_string(),
            ),
            ("DATAPUMP_DATABASE_URL".into(), test_db.url.clone()),
            // Not the machine's zone: the tests' expected local times are Berlin's.
            ("DATAPUMP_TIME_ZONE".into(), "Europe/Berlin".into()),
            (
                "DATAPUMP_PUBLIC_URL".into(),
                format!("{origin}{}", options.prefix),
            ),
        ]);
        for (k, v) in &options.env {
            vars.insert(k.to_string(), v.clone());
        }
        let mut config = Config::from_sources(None, |k| vars.get(k).cloned()).expect("config");
        if let Some(idle) = options.idle_timeout {
            config.session_idle_timeout = idle;
        }
        if let Some(t) = options.throttle {
            config.throttle = t;
        }
        if let Some(t) = options.oauth_ttl {
            config.oauth_transaction_ttl = t;
        }
        config.run_scheduler = options.scheduler;
        if let Some(n) = options.page_size {
            config.sync_policy.page_size = n;
        }
        if let Some(b) = options.request_budget {
            config.sync_policy.request_budget = b;
        }
        if let Some(t) = options.request_timeout {
            config.request_timeout = t;
        }
        config.sync_policy.backoff_base = Duration::from_millis(50);
        config.sync_policy.tick = Duration::from_millis(200);
        // Deliveries in small batches, retried within the test's patience.
        // Receivers in tests listen on this machine, which deliveries reach only when the
        // operator allows it (DATAPUMP_WEBHOOK_ALLOW); a test of the refusal clears it.
        let destinations = if config.webhooks.destinations.allow.is_empty() {
            datapump::webhooks::destination::Destinations {
                allow: vec![
                    "127.0.0.0/8".parse().expect("net"),
                    "::1/128".parse().expect("net"),
                ],
            }
        } else {
            config.webhooks.destinations.clone()
        };
        config.webhooks = datapump::webhooks::WebhookPolicy {
            poll: Duration::from_millis(100),
            retry_base: Duration::from_millis(200),
            retry_max: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            batch: 3,
            destinations,
        };
        let prepared = app::prepare(config, test_db.db.clone())
            .await
            .expect("prepare");
        let state = prepared.state.clone();
        let (_, inventory) = app::router(&state);
        let setup_token = prepared.setup_token.clone();
        let run_state = state.clone();
        let server = tokio::spawn(async move {
            app::run(run_state, listener).await.expect("server runs");
        });
        Self {
            base: format!("{origin}{}", options.prefix),
            origin,
            state,
            setup_token,
            inventory,
            data_dir,
            server: Some(server),
            _db: test_db,
        }
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    pub async fn create_admin(&self, username: &str, role: Role) -> Admin {
        let hash = datapump::auth::password::hash(PASSWORD)
            .await
            .expect("hash");
        self.db()
            .create_admin(
                NewAdmin {
                    username,
                    password_hash: &hash,
                    role,
                },
                None,
            )
            .await
            .expect("create admin")
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }

    /// A client signed in as a new admin with the given role.
    pub async fn signed_in(&self, username: &str, role: Role) -> (Client, Admin) {
        let admin = self.create_admin(username, role).await;
        let client = self.client();
        let response = client.login(username, PASSWORD).await;
        assert_eq!(
            response.status,
            StatusCode::SEE_OTHER,
            "login succeeds: {}",
            response.body
        );
        (client, admin)
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        self.db()
            .list_audit(0, 1000)
            .await
            .expect("audit")
            .into_iter()
            .map(|e| e.action)
            .collect()
    }

    pub async fn stop(mut self) {
        self.state.shutdown.cancel();
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("server stops within 10 s")
                .expect("server task");
        }
    }
}

/// A browser-like client: keeps cookies, does not follow redirects, remembers the last CSRF
/// token a page showed.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    csrf: Arc<Mutex<Option<String>>>,
}

pub fn extract_csrf(html: &str) -> Option<String> {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self::with_source(base, None)
    }

    /// A browser whose connections come from `source` (another loopback address, say).
    pub fn with_source(base: &str, source: Option<std::net::IpAddr>) -> Self {
        datapump::graph::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(source)
            .build()
            .expect("client");
        Self {
            http,
            base: base.to_string(),
            csrf: Arc::new(Mutex::new(None)),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn page(&self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("body");
        if let Some(token) = extract_csrf(&body) {
            *self.csrf.lock().expect("lock") = Some(token);
        }
        Page {
            status,
            headers,
            body,
        }
    }

    /// GET an absolute URL (e.g. a redirect target) with this client's cookies.
    pub async fn get_abs(&self, url: &str) -> Page {
        let response = self.http.get(url).send().await.expect("GET");
        self.page(response).await
    }

    pub async fn get(&self, path: &str) -> Page {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        self.page(response).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.http.get(self.url(path));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        self.page(request.send().await.expect("GET")).await
    }

    /// The current CSRF token, fetching the login page first if none was seen yet.
    pub async fn csrf(&self) -> String {
        if let Some(t) = self.csrf.lock().expect("lock").clone() {
            return t;
        }
        // Signed in, the login page redirects; the account page carries a form.
        let page = self.get("/login").await;
        if let Some(t) = extract_csrf(&page.body) {
            return t;
        }
        let page = self.get("/account").await;
        extract_csrf(&page.body).expect("a page with a CSRF token")
    }

    /// The CSRF token on one page.
    pub async fn csrf_of(&self, path: &str) -> String {
        let page = self.get(path).await;
        extract_csrf(&page.body).expect("a page with a CSRF token")
    }

    /// Posts a form with the session's CSRF token, as a browser would.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf().await;
        let mut form: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
        form.extend_from_slice(fields);
        let page = self.post_raw(path, &form, &[]).await;
        if path == "/logout" {
            // A visitor again: the next form carries the visitor's token, as a browser's would.
            *self.csrf.lock().expect("lock") = None;
        }
        page
    }

    /// Posts exactly the given fields and headers (no token added).
    pub async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self.http.post(self.url(path)).form(fields);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        self.page(request.send().await.expect("POST")).await
    }

    /// Posts a file upload (`multipart/form-data`) as a browser's form with
    /// `enctype="multipart/form-data"` does; `with_token` adds the session's CSRF field.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, Vec<u8>),
        with_token: bool,
    ) -> Page {
        let mut form = reqwest::multipart::Form::new();
        if with_token {
            form = form.text("_csrf", self.csrf().await);
        }
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        let (name, filename, bytes) = file;
        form = form.part(
            name.to_string(),
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string()),
        );
        let request = self.http.post(self.url(path)).multipart(form);
        self.page(request.send().await.expect("POST")).await
    }

    /// Signs in; the session's CSRF token changes with it, as in a browser that loads the next
    /// page.
    pub async fn login(&self, username: &str, password: &str) -> Page {
        let page = self
            .post("/login", &[("username", username), ("password", password)])
            .await;
        if page.status == StatusCode::SEE_OTHER {
            *self.csrf.lock().expect("lock") = None;
        }
        page
    }
}
