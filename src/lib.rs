//! popscope: an interactive POP3 session debugger and conformance checker.
//!
//! The protocol engine in [`protocol`] is sans-IO; everything else drives it.

pub mod cli;
pub mod private_file;
pub mod protocol;
pub mod report;
pub mod sanitize;
pub mod server;
pub mod session;
pub mod transcript;
pub mod transport;
pub mod tui;
