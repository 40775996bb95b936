//! popscope: an interactive POP3 session debugger and conformance checker.
//!
//! The protocol engine is the `popscope-core` crate (sans-IO); everything here drives it.
//! This library exists for `main.rs`, the integration tests, the benches and the fuzz targets:
//! what none of them uses is `pub(crate)`, so the compiler reports dead code. Its docs are for
//! the people working on popscope: `cargo doc -p popscope --document-private-items`.
#![allow(rustdoc::private_intra_doc_links)]

pub mod check;
// The argument types' doc comments are clap's help text: `host[:port]` there is not a link.
#[allow(rustdoc::broken_intra_doc_links)]
pub mod cli;
pub mod exit;
pub mod fleet;
pub mod private_file;
pub mod proxy;
pub(crate) mod report;
pub mod server;
pub mod session;
pub mod transcript;
pub mod transport;
pub mod tui;
