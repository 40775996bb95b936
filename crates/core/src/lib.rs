//! The sans-IO POP3 engine. Nothing in here opens a socket, spawns a task or reads a clock:
//! drivers feed it bytes and transport events and act on the events it returns.

pub mod auth;
pub mod capability;
pub mod command;
pub mod engine;
pub mod event;
mod exchange;
pub mod framer;
pub mod probes;
pub mod redact;
pub mod response;
pub mod rules;
pub mod sanitize;
pub mod server;
pub mod session;
pub mod state;
pub mod tally;

pub use command::{Command, Keyword, Secret};
pub use engine::{Config, Engine};
pub use event::{
    Direction, Event, EventSink, Finding, Location, Reply, Time, TlsFailure, Transition,
    TransportEvent,
};
pub use response::{ResponseCode, Status};
pub use rules::{RuleInfo, Scope, Severity};
pub use session::Session;
pub use state::{AuthStep, Security, State};
pub use tally::Tally;

/// A count with its noun: "1 message", "2 messages", "0 octets" (every noun popscope counts
/// takes an -s).
pub fn plural(n: impl std::fmt::Display, one: &str) -> String {
    let n = n.to_string();
    if n == "1" {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_is_singular() {
        assert_eq!(super::plural(1u64, "message"), "1 message");
        assert_eq!(super::plural(0usize, "octet"), "0 octets");
        assert_eq!(super::plural(21u32, "line"), "21 lines");
    }
}
