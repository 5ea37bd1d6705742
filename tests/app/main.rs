//! Integration tests: the real application, in-process, on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod access;
mod admins;
mod api;
mod application;
mod browser;
mod cli;
mod connect;
mod demo;
mod feeds;
mod import;
mod login;
mod nginx;
mod packaging;
mod profiles;
mod reconcile;
mod room_lists;
mod rooms;
mod scale;
mod security;
mod setup;
mod subpath;
mod subscription_page;
mod webhooks;
