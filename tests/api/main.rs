//! The integration suite: one binary that starts the real server on a random port and talks
//! HTTP to it, on SQLite and (when `WAFCERT_TEST_POSTGRES_URL` is set) PostgreSQL.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod helpers;

mod abuse;
mod acme;
mod auth;
mod binding;
mod certificates;
mod checks;
mod cli;
mod console;
mod console_browser;
mod contract;
mod crash;
mod credentials;
mod cutoff;
mod events;
mod expiry;
mod hardening;
mod hosts;
mod iam;
mod keystone;
mod layers;
mod lifecycle;
mod list;
mod list_cache;
mod metrics;
mod migration;
mod openapi;
mod outage;
mod pg_cluster;
mod policies;
mod postgres;
mod receiver;
mod replays;
mod requests;
mod revocation;
mod rotate;
mod rotation;
mod schema;
mod storage;
mod test_controls;
mod tls;
