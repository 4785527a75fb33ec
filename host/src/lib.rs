#![recursion_limit = "256"]
//! # Switchboard
//!
//! An omnichannel contact-center host. Each channel is a sandboxed WebAssembly component (a
//! *connector*) implementing the WIT contract in `wit/connector.wit`; the host owns what every
//! channel shares.
//!
//! - [`domain`]: customers, conversations, routing and service levels, as plain Rust without I/O.
//! - [`runtime`]: the wasmtime sandbox that loads and calls connectors.
//! - [`config`]: the configuration file, environment overrides, and every default.
//! - [`http`]: the HTTP server: webhooks, the API, health and metrics.
//! - [`cli`]: the `switchboard` command line.

pub mod app;
pub mod channels;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod failpoints;
pub mod http;
pub mod ingest;
pub mod runtime;
pub mod store;
