#![deny(missing_docs)]
//! A sans-IO POP3 engine: it reads both directions of a POP3 session, follows the RFC 1939
//! state machine (with STLS, SASL, CAPA, UTF8 and LANG) and checks every server reply against
//! a catalog of RFC rules. It is the core of the `popscope` debugger, and works as well inside
//! a POP3 server's own test suite.
//!
//! # The model
//!
//! An [`Engine`] watches one connection. You feed it four things:
//!
//! - the bytes the **client** sent ([`Engine::handle_client`]),
//! - the bytes the **server** sent ([`Engine::handle_server`]),
//! - what the **transport** saw: a TLS handshake done or failed, a close, a read timeout
//!   ([`Engine::handle_transport`] with a [`TransportEvent`]),
//! - with each of them, the **time** it happened, a [`Time`] you supply.
//!
//! and it emits [`Event`]s, in order, into an [`EventSink`] you pass (or a `Vec`, with the
//! `feed_*` variants): parsed commands ([`Event::Command`]), replies ([`Event::Reply`]) and
//! their data lines ([`Event::BodyLine`], [`Event::BodyEnd`]), state transitions
//! ([`Event::StateChange`]), and findings ([`Event::Finding`]): a rule the server broke,
//! with its ID, RFC section, severity, a sentence for a person and where in the stream the
//! evidence is. [`Engine::session`] shows what is known so far: the [`State`], the CAPA
//! lists, the maildrop as the server described it.
//!
//! # Sans-IO
//!
//! The engine opens no socket, spawns no task, reads no clock and touches no file; it does
//! not depend on an async runtime or a TLS library. The caller owns the I/O and the time: it
//! reads and writes the connection, does TLS, and tells the engine what happened. So the
//! same engine runs under a live session, a replayed transcript, a fuzzer or a test, and
//! replaying a recording gives the same findings as the live run.
//!
//! Bytes may be split anywhere: feeding a session in one piece or byte by byte gives the
//! same events (a line is acted on when its line end arrives). There are no errors: any
//! input is accepted, memory stays bounded, and what is wrong with the input is a finding.
//!
//! # Findings and the rule catalog
//!
//! Every finding names a [`RuleInfo`] of [`rules::CATALOG`]: an ID such as `ST-001` or
//! `ML-002`, the RFC section it comes from, a default [`Severity`] and a one-line summary.
//! **Rule IDs are stable**: an ID keeps its meaning across releases, so a test may assert
//! on it and [`Config::severity_overrides`] may name it. A violation rests on what the server
//! did (accepted, refused, sent, closed), never on reply text alone; text-only evidence gives
//! an info finding marked [`Finding::suspected`]. Most rules judge the server; the `CL-`
//! rules judge the client ([`RuleInfo::judges_client`]), as seen in the same session, when
//! [`Config::judge_client`] asks (the client is usually the caller itself); CL-016 needs the
//! client's earlier connection too ([`rules::cross::login_delay`]).
//!
//! Server bytes in events are raw: show them through [`sanitize::display`].
//!
//! # Example
//!
//! A server answers `STAT` before any login; the engine reports it:
//!
//! ```
//! use popscope_core::{Config, Engine, Event, Severity, Time};
//!
//! let mut engine = Engine::new(Config::default());
//! let mut events = engine.feed_server(Time(0), b"+OK POP3 ready\r\n");
//! events.extend(engine.feed_client(Time(1), b"STAT\r\n"));
//! events.extend(engine.feed_server(Time(2), b"+OK 2 320\r\n"));
//!
//! let finding = events
//!     .iter()
//!     .find_map(|e| match e {
//!         Event::Finding(f) if f.severity == Severity::Violation => Some(f),
//!         _ => None,
//!     })
//!     .expect("STAT before login is a violation");
//! assert_eq!(finding.rule.id, "ST-001");
//! assert_eq!(finding.rule.rfc, "RFC 1939 §3, §5");
//! assert_eq!(finding.at.exchange, 1); // the reply to the first command
//! ```
//!
//! Split differently, the same bytes give the same events:
//!
//! ```
//! use popscope_core::{Config, Engine, Time};
//!
//! let server = b"+OK ready\r\n+OK 1 messages\r\n1 120\r\n.\r\n";
//! let whole = {
//!     let mut e = Engine::new(Config::default());
//!     let mut v = e.feed_server(Time(0), &server[..11]);
//!     v.extend(e.feed_client(Time(0), b"LIST\r\n"));
//!     v.extend(e.feed_server(Time(0), &server[11..]));
//!     v
//! };
//! let byte_by_byte = {
//!     let mut e = Engine::new(Config::default());
//!     let mut v = Vec::new();
//!     server[..11].iter().for_each(|b| v.extend(e.feed_server(Time(0), &[*b])));
//!     b"LIST\r\n".iter().for_each(|b| v.extend(e.feed_client(Time(0), &[*b])));
//!     server[11..].iter().for_each(|b| v.extend(e.feed_server(Time(0), &[*b])));
//!     v
//! };
//! assert_eq!(whole, byte_by_byte);
//! ```
//!
//! `examples/server_test.rs` drives a whole scripted session (CAPA, login, STAT, LIST, a
//! dot-stuffed RETR, QUIT) the way a server's test suite would, and fails on any violation.

pub mod auth;
pub mod capability;
pub mod command;
pub mod engine;
pub mod event;
mod exchange;
pub(crate) mod framer;
pub mod inject;
mod linemask;
pub mod oauth;
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
    BodyEnd, Direction, Event, EventSink, Finding, Location, Reply, SaslResponse, Time, TlsFailure,
    Transition, TransportEvent,
};
pub use response::{ResponseCode, Status};
pub use rules::{RuleInfo, Scope, Severity};
pub use session::{Login, OauthAttempt, OauthOutcome, Session};
pub use state::{AuthStep, Security, State};
pub use tally::Tally;

/// A count with its noun: "1 message", "2 messages", "0 octets". Only for nouns whose
/// plural adds an -s (all that popscope counts).
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
