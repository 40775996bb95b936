//! What the engine tells its driver: typed events, never strings to re-parse.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use super::command::Command;
use super::response::{ResponseCode, Status};
use super::rules::catalog::{RuleInfo, Severity};
use super::state::State;

/// Microseconds since the session started. The driver supplies it with every input;
/// the engine never reads a clock, so replaying a transcript gives the same findings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Time(pub u64);

impl Time {
    pub fn saturating_sub(self, earlier: Time) -> Time {
        Time(self.0.saturating_sub(earlier.0))
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// Which side of the connection some bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Client,
    Server,
}

/// Why a TLS handshake did not complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsFailure {
    /// The server answered the ClientHello with plaintext (`+OK …`): a plain POP3 port.
    PlaintextFromServer,
    /// The server sent a TLS alert or aborted the handshake.
    ServerAlert,
    /// The client gave up, for example because it rejected the server's certificate.
    ClientAborted,
}

/// What the transport below the engine saw happen. The engine cannot see sockets,
/// so the driver reports these in order with the bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum TransportEvent {
    /// A TLS handshake completed: as the first event it is implicit TLS (RFC 8314),
    /// after a `+OK` to STLS it is the upgrade (RFC 2595).
    TlsEstablished {
        /// The server sent a CertificateRequest.
        cert_requested: bool,
        /// The client presented a certificate.
        client_cert: bool,
    },
    TlsFailed {
        reason: TlsFailure,
    },
    /// The server closed the connection (TCP FIN/RST or TLS close).
    ServerClosed {
        /// Under TLS: whether a close_notify alert came before the TCP close.
        close_notify: bool,
    },
    /// The client (popscope) closed the connection.
    ClientClosed,
    /// The driver's read timeout passed with nothing from the server.
    Timeout,
}

/// Where in the session something happened: the exchange (0 is the greeting, then one per
/// command in order) and the byte offset in that direction's stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    pub exchange: u32,
    pub direction: Option<Direction>,
    pub offset: u64,
}

/// One broken (or noteworthy) rule, for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static RuleInfo,
    /// The severity of this occurrence: some rules are a violation in one context and a
    /// warning in another, and configuration may override it.
    pub severity: Severity,
    /// What the server did and what it should have done, in one or two sentences.
    pub message: String,
    /// True when the evidence is only the free text of a reply (RFC 1939 §9: that text is not
    /// significant), so the finding says "suspected".
    pub suspected: bool,
    pub at: Location,
}

impl Finding {
    pub fn id(&self) -> &'static str {
        self.rule.id
    }
}

/// A state transition and why it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub reason: String,
    /// False when the RFC does not allow this transition but the server made it anyway
    /// (for example it answered STAT with `+OK` before any login).
    pub lawful: bool,
    pub exchange: u32,
}

/// The first line of a server reply, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub exchange: u32,
    pub status: Status,
    pub code: Option<ResponseCode>,
    /// The text after the indicator (and after the response code), raw bytes.
    pub text: Vec<u8>,
    /// A data block follows (terminated by a line holding only `.`).
    pub multiline: bool,
    /// The status line exactly as received, without its line end.
    pub raw: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The client sent a command; `exchange` is the handle every later event of it carries.
    /// (Rare, large payloads are boxed: every body line moves an `Event` into the sink.)
    Command {
        exchange: u32,
        command: Box<Command>,
    },
    /// During a SASL exchange the client sent a response line (base64 or `*`), not a command.
    /// The line itself is a secret: only its length and shape are given.
    SaslResponse {
        exchange: u32,
        cancel: bool,
        octets: usize,
        valid_base64: bool,
    },
    /// A server status line (the greeting is exchange 0).
    Reply(Box<Reply>),
    /// A SASL challenge (`+ base64`).
    Challenge {
        exchange: u32,
        payload: Vec<u8>,
    },
    /// One data line of a multi-line reply, dot-unstuffed, without its line ending.
    BodyLine {
        exchange: u32,
        line: Cow<'a, [u8]>,
    },
    /// The end of a multi-line reply. `complete` is false when it was cut short.
    BodyEnd {
        exchange: u32,
        lines: u64,
        octets: u64,
        complete: bool,
    },
    /// A server line that answers no command.
    Unsolicited {
        exchange: u32,
        line: Vec<u8>,
    },
    /// Plaintext the server sent after its `+OK` to STLS and before the handshake: dropped,
    /// never treated as protected data (RFC 2595 §4).
    Discarded {
        line: Vec<u8>,
    },
    StateChange(Box<Transition>),
    Finding(Box<Finding>),
}

impl Event<'_> {
    /// Detach the event from the input buffer it may borrow from.
    pub fn into_owned(self) -> Event<'static> {
        match self {
            Event::BodyLine { exchange, line } => Event::BodyLine {
                exchange,
                line: Cow::Owned(line.into_owned()),
            },
            Event::Command { exchange, command } => Event::Command { exchange, command },
            Event::SaslResponse {
                exchange,
                cancel,
                octets,
                valid_base64,
            } => Event::SaslResponse {
                exchange,
                cancel,
                octets,
                valid_base64,
            },
            Event::Reply(r) => Event::Reply(r),
            Event::Challenge { exchange, payload } => Event::Challenge { exchange, payload },
            Event::BodyEnd {
                exchange,
                lines,
                octets,
                complete,
            } => Event::BodyEnd {
                exchange,
                lines,
                octets,
                complete,
            },
            Event::Unsolicited { exchange, line } => Event::Unsolicited { exchange, line },
            Event::Discarded { line } => Event::Discarded { line },
            Event::StateChange(t) => Event::StateChange(t),
            Event::Finding(f) => Event::Finding(f),
        }
    }
}

/// Receives the engine's events. Body lines borrow from the input, so a sink that keeps
/// them calls [`Event::into_owned`].
pub trait EventSink {
    fn event(&mut self, event: Event<'_>);
}

impl<F: FnMut(Event<'_>)> EventSink for F {
    fn event(&mut self, event: Event<'_>) {
        self(event)
    }
}

/// A sink that keeps every event.
impl EventSink for Vec<Event<'static>> {
    fn event(&mut self, event: Event<'_>) {
        self.push(event.into_owned());
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Client => "client",
            Direction::Server => "server",
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn body_lines_are_cheap_to_move() {
        // Every body line moves one Event into the sink: keep the enum small.
        assert!(
            std::mem::size_of::<super::Event<'_>>() <= 48,
            "{}",
            std::mem::size_of::<super::Event<'_>>()
        );
    }
}
