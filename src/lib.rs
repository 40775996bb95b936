//! popscope: an interactive POP3 session debugger and conformance checker.
//!
//! The protocol engine is the `popscope-core` crate (sans-IO); everything here drives it.

pub mod check;
pub mod cli;
pub mod private_file;
pub mod report;
pub mod server;
pub mod session;
pub mod transcript;
pub mod transport;
pub mod tui;
