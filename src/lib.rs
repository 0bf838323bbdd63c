//! wafcert: a self-hostable, wire-compatible implementation of the certificate management API
//! of the Open Telekom Cloud / Huawei Cloud Web Application Firewall (dedicated mode).
//!
//! The layers, from the inside out:
//! - [`domain`]: ids, names, expiry states and the PEM/X.509 checks; pure, no I/O;
//! - [`crypto`]: the master key, sealing of private keys, token hashing;
//! - [`storage`]: SQLite or PostgreSQL through one `sqlx::Any` pool and one set of SQL;
//! - [`auth`]: who is calling (tokens, Keystone-style login, AK/SK signatures) and what they may do;
//! - [`api`]: the HTTP routes, wire types and the one mapping of errors to the API's error body;
//! - [`console`]: the web console at `/console/`, acting through the API;
//! - [`app`]: wiring and graceful shutdown; [`listener`]: connections, timeouts and TLS;
//!   [`cli`]: the `wafcert` command line;
//! - [`client`]: a typed HTTP client of the certificate API (used by `wafcert cert ...`).

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod client;
pub mod console;
pub mod crypto;
pub mod domain;
pub mod listener;
pub mod notify;
pub mod storage;
pub mod tagged_cache;
pub mod telemetry;
