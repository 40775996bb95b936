//! What the engine tells its driver: typed events, never strings to re-parse, and what the
//! driver tells the engine besides bytes ([`TransportEvent`], [`Time`]).
//!
//! Every byte string in an event ([`Reply::text`], [`Event::BodyLine`], …) is exactly what
//! came off the wire: it may hold escape sequences or invalid UTF-8. Pass it through
//! [`crate::sanitize::display`] before it reaches a terminal, a file or JSON.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use super::command::Command;
use super::response::{ResponseCode, Status};
use super::rules::catalog::{RuleInfo, Severity};
use super::state::State;

/// Microseconds since the session started. The driver supplies it with every input;
/// the engine never reads a clock, so replaying a transcript gives the same findings.
///
/// Times should not go backwards; if one does, durations computed from it saturate at zero
/// rather than fail. Only the timing rules (TMO-*) judge durations, so a driver with no
/// clock (a test, a fuzzer) may pass `Time(0)` throughout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Time(pub u64);

impl Time {
    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_sub(self, earlier: Time) -> Time {
        Time(self.0.saturating_sub(earlier.0))
    }
    /// In seconds, for display and for comparing with timers given in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// Which side of the connection some bytes came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the client to the server: commands and SASL responses.
    Client,
    /// From the server to the client: the greeting, replies, data blocks.
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
/// so the driver reports these with [`Engine::handle_transport`](crate::Engine::handle_transport),
/// in order with the bytes: an event goes in after every byte that arrived before it.
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
    /// A TLS handshake (implicit, or after `+OK` to STLS) did not complete. The engine moves
    /// to [`State::Closed`]: the driver closes the connection and feeds nothing more.
    TlsFailed {
        /// How it failed; decides which rule, if any, the failure breaks.
        reason: TlsFailure,
    },
    /// The server closed the connection (TCP FIN/RST or TLS close). An unfinished last
    /// line is judged as it stands, an open data block ends incomplete, and the engine moves
    /// to [`State::Closed`].
    ServerClosed {
        /// Under TLS: whether a close_notify alert came before the TCP close.
        close_notify: bool,
    },
    /// The client closed the connection. The engine moves to [`State::Closed`].
    ClientClosed,
    /// A proxy between the two ends answered the client's STLS itself (`+OK`) and ran the
    /// TLS handshake with the client: the server never saw that STLS, and its own leg is as
    /// it was. Only the client rules read it: with `established`, the client's own leg is TLS
    /// from here on ([`Config::client_leg_tls`](crate::Config) turns true), and what it was
    /// shown before is its pre-TLS capability list (CL-007).
    ClientLegStls {
        /// Octets the client sent behind its STLS line before the handshake: the proxy
        /// dropped them unexecuted (RFC 2595 §4), and they are CL-006.
        dropped_octets: u32,
        /// The handshake with the client completed.
        established: bool,
        /// The client presented a certificate in that handshake (the proxy asks for one and
        /// verifies none): what CL-003 needs to know of the client's own leg.
        #[serde(default, skip_serializing_if = "is_false")]
        client_cert: bool,
        /// Reply-shaped lines the proxy sent behind its `+OK`, before the handshake
        /// (`--inject stls-response-injection`): for CL-009, which watches whether the client
        /// takes them for replies. They are the proxy's, never the server's (no TLS-003).
        #[serde(default, skip_serializing_if = "is_zero")]
        injected_replies: u32,
    },
    /// A proxy ran TLS with the client from its first octet (implicit TLS toward the client,
    /// whatever the server's leg is): only the client rules read it.
    ClientLegTls {
        /// The client presented a certificate (asked for, verified by no one): CL-003.
        client_cert: bool,
    },
    /// A proxy answered the client's STLS itself with `-ERR` (it offers none, or not there):
    /// the server never saw it. Only the client rules read it (CL-012).
    ClientStlsRefused,
    /// The driver's read timeout passed with nothing from the server. The engine judges the
    /// silence (a command left unanswered, a data block never ended) but does not close: the
    /// driver decides whether to wait longer or close, and reports what it does.
    Timeout,
}

// Fields a recording writes only when they say something: older recordings read the same.
fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Where in the session something happened: the exchange (0 is the greeting, then one per
/// command in order) and the byte offset in that direction's stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The exchange: 0 for the greeting, `n` for the n-th command and its reply.
    pub exchange: u32,
    /// The stream `offset` counts in; `None` when the finding is about the session as a
    /// whole rather than some bytes.
    pub direction: Option<Direction>,
    /// Octets before the line in question in that direction's stream: POP3 octets (the
    /// decrypted ones under TLS), counted from the start of the connection and on across
    /// an STLS upgrade.
    pub offset: u64,
}

/// One broken (or noteworthy) rule, for a person.
///
/// `rule.id` is the stable handle: rule IDs (`ST-001`, `ML-002`, …) never change meaning
/// between releases, so tests and CI filters may match on them; [`RuleInfo::rfc`] names the
/// section of the RFC the rule comes from. The message is prose and may be reworded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The catalog entry of the broken rule (see [`crate::rules::CATALOG`]).
    pub rule: &'static RuleInfo,
    /// The severity of this occurrence: some rules are a violation in one context and a
    /// warning in another, and configuration may override it.
    pub severity: Severity,
    /// What the server did and what it should have done, in one or two sentences. It may
    /// quote server bytes already escaped, but pass it through
    /// [`crate::sanitize::display`] all the same before a terminal sees it.
    pub message: String,
    /// True when the evidence is only the free text of a reply (RFC 1939 §9: that text is not
    /// significant), so the finding says "suspected".
    pub suspected: bool,
    /// Where the evidence is: the exchange and the offset of the line that showed it.
    pub at: Location,
}

/// A state transition and why it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: State,
    /// The state after; [`Engine::state`](crate::Engine::state) returns it from now on.
    pub to: State,
    /// Why, in a short sentence for a person.
    pub reason: String,
    /// False when the RFC does not allow this transition but the server made it anyway
    /// (for example it answered STAT with `+OK` before any login).
    pub lawful: bool,
    /// The exchange whose reply (or the transport event after it) caused the change.
    pub exchange: u32,
}

/// The first line of a server reply, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The exchange answered: 0 for the greeting, else the [`Event::Command`] it answers.
    pub exchange: u32,
    /// `+OK`, `-ERR` or neither, read leniently (`+ok` counts as `+OK`; rules report it).
    pub status: Status,
    /// The extended response code in brackets after the indicator (RFC 2449 §3), if any.
    pub code: Option<ResponseCode>,
    /// The text after the indicator (and after the response code), raw bytes.
    pub text: Vec<u8>,
    /// A data block follows (terminated by a line holding only `.`).
    pub multiline: bool,
    /// The status line exactly as received, without its line end.
    pub raw: Vec<u8>,
}

/// A client's response line during a SASL exchange ([`Event::SaslResponse`]). The line is a
/// secret, so only its length and shape are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaslResponse {
    /// The `AUTH` exchange it belongs to.
    pub exchange: u32,
    /// The line was `*`: the client cancels the exchange (RFC 5034 §4).
    pub cancel: bool,
    /// Length of the line, without its line end.
    pub octets: usize,
    /// The line is base64 (or the cancel `*`).
    pub valid_base64: bool,
}

/// How a data block ended and what it held ([`Event::BodyEnd`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyEnd {
    /// The exchange whose reply this block was.
    pub exchange: u32,
    /// Data lines in the block, the terminator not counted.
    pub lines: u64,
    /// Octets a client receives: unstuffed, CRLF line ends, no terminator. For `RETR`
    /// this is the message size a scan listing should have announced.
    pub octets: u64,
    /// The `.` terminator came. False when the connection closed, a status line turned
    /// up inside a listing, or the block otherwise ended early.
    pub complete: bool,
}

/// What the engine saw, in the order it saw it.
///
/// Each complete line of input gives its own event first (a [`Command`](Event::Command), a
/// [`Reply`](Event::Reply), a [`BodyLine`](Event::BodyLine), …), then the findings and state
/// changes it caused. A finding never comes before the event that holds its evidence, but
/// may come later than it: a data block is judged whole at its
/// [`BodyEnd`](Event::BodyEnd), a line that answered nothing is judged by what the server did
/// next, a silence by a [`TransportEvent::Timeout`].
///
/// Events of one exchange carry its number (`exchange`): 0 for the greeting, then 1, 2, …
/// per client command, as [`Location::exchange`]. Pipelined commands get their replies
/// matched in order.
///
/// Only [`BodyLine`](Event::BodyLine) borrows (from the bytes just fed, to keep a large
/// message zero-copy), so an `Event<'_>` lives for one [`EventSink::event`] call; keep one
/// with [`Event::into_owned`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The client sent a command; `exchange` is the handle every later event of it carries.
    /// (Rare, large payloads are boxed: every body line moves an `Event` into the sink.)
    Command {
        /// This command's exchange number, one more than the last.
        exchange: u32,
        /// The parsed line; any password or SASL payload is in [`Command::secret`].
        command: Box<Command>,
    },
    /// During a SASL exchange the client sent a response line (base64 or `*`), not a command.
    /// The line itself is a secret: only its length and shape are given.
    SaslResponse(SaslResponse),
    /// A server status line (the greeting is exchange 0).
    ///
    /// After `+OK` to `STLS` the caller must start the TLS handshake and report its outcome
    /// with [`TransportEvent::TlsEstablished`] or [`TransportEvent::TlsFailed`]; server bytes
    /// before that are dropped as [`Discarded`](Event::Discarded). A `+OK` whose
    /// [`Reply::multiline`] is set is followed by [`BodyLine`](Event::BodyLine)s and one
    /// [`BodyEnd`](Event::BodyEnd).
    Reply(Box<Reply>),
    /// A SASL challenge (`+ base64`). The client's next line is read as the response to it
    /// (a [`SaslResponse`](Event::SaslResponse)), not as a command.
    Challenge {
        /// The `AUTH` exchange it belongs to.
        exchange: u32,
        /// The text after `+ `, still base64-encoded, raw.
        payload: Vec<u8>,
    },
    /// One data line of a multi-line reply, dot-unstuffed, without its line ending.
    BodyLine {
        /// The exchange whose reply this block is.
        exchange: u32,
        /// The line as the client's user gets it: a leading `..` is `.` here. Borrowed from
        /// the input when it could be, and cut at [`Config::max_line`](crate::Config::max_line).
        line: Cow<'a, [u8]>,
    },
    /// The end of a multi-line reply. [`BodyEnd::complete`] is false when it was cut short.
    BodyEnd(BodyEnd),
    /// A server line that answers no command.
    Unsolicited {
        /// The last exchange before it.
        exchange: u32,
        /// The line, raw.
        line: Vec<u8>,
    },
    /// Plaintext the server sent after its `+OK` to STLS and before the handshake: dropped,
    /// never treated as protected data (RFC 2595 §4).
    Discarded {
        /// The line, raw.
        line: Vec<u8>,
    },
    /// The session moved to another state. After a move to [`State::Closed`] only the
    /// findings of the same call follow: feed the engine nothing more.
    StateChange(Box<Transition>),
    /// A rule of the catalog was broken (or is worth noting), judged on what came so far.
    /// Nothing is required of the caller; a test suite fails on
    /// [`Severity::Violation`].
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
            Event::SaslResponse(r) => Event::SaslResponse(r),
            Event::Reply(r) => Event::Reply(r),
            Event::Challenge { exchange, payload } => Event::Challenge { exchange, payload },
            Event::BodyEnd(end) => Event::BodyEnd(end),
            Event::Unsolicited { exchange, line } => Event::Unsolicited { exchange, line },
            Event::Discarded { line } => Event::Discarded { line },
            Event::StateChange(t) => Event::StateChange(t),
            Event::Finding(f) => Event::Finding(f),
        }
    }
}

/// Receives the engine's events. Body lines borrow from the input, so a sink that keeps
/// them calls [`Event::into_owned`].
///
/// Any `FnMut(Event<'_>)` closure is a sink, and so is a `Vec<Event<'static>>` (it keeps
/// everything, owned).
///
/// ```
/// use popscope_core::{Config, Engine, Event, Time};
///
/// let mut engine = Engine::new(Config::default());
/// let mut octets = 0;
/// engine.handle_server(Time(0), b"+OK ready\r\n", &mut |event: Event<'_>| {
///     if let Event::Reply(reply) = event {
///         octets += reply.raw.len();
///     }
/// });
/// assert_eq!(octets, 9);
/// ```
pub trait EventSink {
    /// Called once per event, in order, from inside the `handle_*` call that caused it.
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
