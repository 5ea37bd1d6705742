#![recursion_limit = "256"]
//! Datapump: imports Microsoft 365 calendars through Microsoft Graph into SQLite or PostgreSQL.
//!
//! Layout: `config` (settings), `crypto` (secrets at rest), `storage` (all SQL), `auth` (admin
//! accounts), `feeds` (what readers get besides the database), `web` (HTTP: routes, middleware,
//! templates), `app` (start and stop), `cli`.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod disk;
pub mod feeds;
pub mod graph;
pub mod i18n;
pub mod jobs;
pub mod model;
pub mod profiles;
pub mod storage;
pub mod subscriptions;
pub mod sync;
pub mod telemetry;
pub mod time;
pub mod web;
pub mod webhooks;

/// mimalloc for every binary built with Datapump (the server, its tests and benchmarks): the
/// import allocates and frees many small strings per event on several threads, where glibc's
/// allocator took about a fifth of the CPU (perf, import benchmark). With the `override` feature
/// it is also the C allocator, so the bundled SQLite allocates from it as well.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
