//! The judging half of one proxied connection, without sockets: the engine fed both
//! directions in the order they arrived, the observer (the recorder of `--record`) fed what
//! the engine was fed, the findings kept for the report, and the STLS rewrites of
//! [`super::rewrite`] applied on the way.
//!
//! The engine sees the session as the server saw it: a client's STLS that the proxy answered
//! never reaches it, and CAPA is judged as the server sent it (with its STLS line). Rules that
//! judge the client by what it was offered (CL-008's "the server had offered STLS", CL-012)
//! will need the list the client saw as well: the next step for the client rules.

use std::collections::{BTreeSet, VecDeque};

use popscope_core::{
    AuthStep, Config, Direction, Engine, Event, EventSink, Finding, Keyword, State, Time,
    TransportEvent,
};

use super::rewrite::{self, ClientLines, ClientPiece, STLS_REFUSED};
use crate::session::{Note, Observer};
use crate::transport::TlsDetails;

/// Findings kept per connection: a hostile server cannot grow the report without bound.
const MAX_FINDINGS: usize = 1000;

/// Longest partial server line held back while a CAPA reply is relayed (a CAPA line longer
/// than this is not `STLS`, so it goes on at once).
const MAX_HELD: usize = 64;

/// STLS answers that may wait for earlier replies (or for the client to read them).
const MAX_ANSWERS: usize = 1000;

pub(crate) struct Judge {
    engine: Engine,
    observer: Box<dyn Observer>,
    start: std::time::Instant,
    pub(crate) findings: Vec<Finding>,
    pub(crate) findings_left_out: usize,
    /// STLS commands the proxy answered.
    pub(crate) stls_answered: u64,
    /// The upstream leg's handshake, under implicit TLS.
    pub(crate) tls: Option<TlsDetails>,
    client: ClientLines,
    capa: CapaReplies,
    /// Exchanges whose reply has not ended.
    open: BTreeSet<u32>,
    /// STLS answers waiting for the replies to the commands before them: each waits until
    /// no exchange up to its number is open.
    deferred: VecDeque<u32>,
    /// STLS answers due now, for the next write to the client.
    ready: Vec<u8>,
    /// The server sent a SASL challenge: the client's turn, not the server's.
    challenged: bool,
    /// A close was told (the first one ends the connection; any later is not news).
    closed: bool,
}

/// The CAPA replies in progress, and the start of a server line not yet complete.
#[derive(Default)]
struct CapaReplies {
    /// Exchanges of CAPA commands whose reply has not ended.
    open: VecDeque<u32>,
    held: Vec<u8>,
    /// The partial line was longer than [`MAX_HELD`] and went on already.
    released: bool,
}

/// What one read of the client becomes.
pub(crate) struct ClientOut {
    /// The octets for the server.
    pub(crate) forward: Vec<u8>,
    /// STLS answers are ready for the client ([`Judge::take_ready`]).
    pub(crate) answered: bool,
    /// More STLS answers are waiting than [`MAX_ANSWERS`]: the connection should end.
    pub(crate) flooded: bool,
}

/// Sees every engine event: passes it on to the observer, keeps the findings, follows the
/// open exchanges and CAPA replies, and says whether the line just fed was a CAPA reply's
/// STLS.
struct Seen<'a> {
    at: Time,
    observer: &'a mut dyn Observer,
    findings: &'a mut Vec<Finding>,
    left_out: &'a mut usize,
    open: &'a mut BTreeSet<u32>,
    capa: &'a mut VecDeque<u32>,
    challenged: &'a mut bool,
    stls_line: bool,
}

impl EventSink for Seen<'_> {
    fn event(&mut self, ev: Event<'_>) {
        self.observer.event(self.at, &ev);
        match &ev {
            Event::Finding(f) if self.findings.len() < MAX_FINDINGS => {
                self.findings.push(f.as_ref().clone())
            }
            Event::Finding(_) => *self.left_out += 1,
            Event::Command { exchange, command } => {
                self.open.insert(*exchange);
                if command.keyword == Keyword::Capa {
                    self.capa.push_back(*exchange)
                }
            }
            Event::Challenge { .. } => *self.challenged = true,
            Event::SaslResponse(_) => *self.challenged = false,
            Event::Reply(r) if !r.multiline => self.ended(r.exchange),
            Event::BodyEnd(end) => self.ended(end.exchange),
            Event::BodyLine { exchange, line }
                if self.capa.contains(exchange) && rewrite::is_stls(line) =>
            {
                self.stls_line = true
            }
            _ => {}
        }
    }
}

impl Seen<'_> {
    fn ended(&mut self, exchange: u32) {
        *self.challenged = false;
        self.open.remove(&exchange);
        self.capa.retain(|&e| e != exchange);
    }
}

impl Judge {
    pub(crate) fn new(config: Config, observer: Box<dyn Observer>) -> Judge {
        Judge {
            engine: Engine::new(config),
            observer,
            start: std::time::Instant::now(),
            findings: Vec::new(),
            findings_left_out: 0,
            stls_answered: 0,
            tls: None,
            client: ClientLines::default(),
            capa: CapaReplies::default(),
            open: BTreeSet::new(),
            deferred: VecDeque::new(),
            ready: Vec::new(),
            challenged: false,
            closed: false,
        }
    }

    fn now(&self) -> Time {
        Time(self.start.elapsed().as_micros() as u64)
    }

    pub(crate) fn state(&self) -> State {
        self.engine.state()
    }

    fn seen(&mut self, at: Time) -> (&mut Engine, Seen<'_>) {
        (
            &mut self.engine,
            Seen {
                at,
                observer: self.observer.as_mut(),
                findings: &mut self.findings,
                left_out: &mut self.findings_left_out,
                open: &mut self.open,
                capa: &mut self.capa.open,
                challenged: &mut self.challenged,
                stls_line: false,
            },
        )
    }

    /// Feeds the engine one piece of one direction; true when it was a CAPA reply's STLS line.
    fn feed(&mut self, dir: Direction, bytes: &[u8]) -> bool {
        if self.engine.state() == State::Closed || bytes.is_empty() {
            return false;
        }
        let at = self.now();
        self.observer.wire(at, dir, bytes);
        let (engine, mut seen) = self.seen(at);
        match dir {
            Direction::Client => engine.handle_client(at, bytes, &mut seen),
            Direction::Server => engine.handle_server(at, bytes, &mut seen),
        }
        let stls = seen.stls_line;
        self.observer.settled(at);
        stls
    }

    /// A read from the client: what goes to the server; its STLS lines are answered by the
    /// proxy, each after the replies to the commands before it.
    pub(crate) fn client_bytes(&mut self, bytes: &[u8]) -> ClientOut {
        let sasl = self.engine.state() == State::Authorization(AuthStep::Sasl);
        let mut out = ClientOut {
            forward: Vec::new(),
            answered: false,
            flooded: false,
        };
        for piece in self.client.split(bytes, !sasl) {
            match piece {
                ClientPiece::Forward(b) => {
                    self.feed(Direction::Client, &b);
                    out.forward.extend_from_slice(&b);
                }
                ClientPiece::Stls => {
                    self.stls_answered += 1;
                    let after = self.engine.session().commands_sent;
                    if self.deferred.is_empty() && !self.waits(after) {
                        self.ready.extend_from_slice(STLS_REFUSED);
                        out.answered = true;
                    } else {
                        self.deferred.push_back(after);
                    }
                }
            }
        }
        out.flooded = self.deferred.len() + self.ready.len() / STLS_REFUSED.len() > MAX_ANSWERS;
        out
    }

    /// The server owes something: the greeting, or the reply to a command (not while a
    /// SASL challenge waits for the client). A silence then is the server's, and the engine
    /// judges it (GRT-003, ML-001, CAPA-009).
    pub(crate) fn server_owes(&self) -> bool {
        let state = self.engine.state();
        matches!(state, State::Greeting | State::TlsHandshake)
            || (!self.open.is_empty() && !self.challenged && state != State::Closed)
    }

    /// An answer placed after exchange `after` must still wait for its reply.
    fn waits(&self, after: u32) -> bool {
        self.open.first().is_some_and(|&e| e <= after)
    }

    /// The STLS answers due now.
    pub(crate) fn take_ready(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.ready)
    }

    /// Moves the deferred answers whose replies have all come into `out`.
    fn release(&mut self, out: &mut Vec<u8>) {
        while let Some(&after) = self.deferred.front() {
            if self.waits(after) {
                break;
            }
            self.deferred.pop_front();
            out.extend_from_slice(STLS_REFUSED);
        }
    }

    /// A read from the server: what goes to the client (a CAPA reply without its STLS line,
    /// the proxy's STLS answers where they stand).
    pub(crate) fn server_bytes(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut forward = self.take_ready();
        if self.capa.open.is_empty() && self.capa.held.is_empty() && self.deferred.is_empty() {
            self.feed(Direction::Server, bytes);
            forward.extend_from_slice(bytes);
            return forward;
        }
        // A CAPA reply or the reply an STLS answer waits for may end in these octets: fed
        // line by line, to know where.
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            let stls = self.feed(Direction::Server, piece);
            let held = &mut self.capa;
            if !piece.ends_with(b"\n") {
                held.held.extend_from_slice(piece);
                if held.held.len() > MAX_HELD {
                    forward.append(&mut held.held);
                    held.released = true;
                }
                continue;
            }
            // A line held back in part already went on: it is not dropped half-way.
            if !stls || held.released {
                forward.append(&mut held.held);
                forward.extend_from_slice(piece);
            }
            held.held.clear();
            held.released = false;
            self.release(&mut forward);
        }
        forward
    }

    pub(crate) fn note(&mut self, note: &Note) {
        let at = self.now();
        self.observer.note(at, note);
    }

    /// A transport event: recorded (the first close only), and judged unless the engine's
    /// session has ended already (QUIT in AUTHORIZATION ends it before the server closes).
    pub(crate) fn transport(&mut self, ev: TransportEvent) {
        let close = matches!(
            ev,
            TransportEvent::ServerClosed { .. } | TransportEvent::ClientClosed
        );
        if self.closed {
            return;
        }
        self.closed = close;
        let at = self.now();
        self.observer.note(at, &Note::Transport(ev));
        if self.engine.state() == State::Closed {
            self.observer.settled(at);
            return;
        }
        let (engine, mut seen) = self.seen(at);
        engine.handle_transport(at, ev, &mut seen);
        self.observer.settled(at);
    }

    pub(crate) fn tls_established(&mut self, details: &TlsDetails) {
        self.tls = Some(details.clone());
        self.note(&Note::Tls(Box::new(details.clone())));
        self.transport(TransportEvent::TlsEstablished {
            cert_requested: details.cert_requested,
            client_cert: details.client_cert_sent,
        });
    }
}

/// Runs `f` on the judge; a poisoned lock (a panic elsewhere) skips it.
pub(crate) fn with<T: Default>(
    judge: &std::sync::Mutex<Judge>,
    f: impl FnOnce(&mut Judge) -> T,
) -> T {
    judge.lock().map(|mut j| f(&mut j)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nothing;
    impl Observer for Nothing {}

    fn judge() -> Judge {
        let mut j = Judge::new(Config::default(), Box::new(Nothing));
        assert_eq!(j.server_bytes(b"+OK hi\r\n"), b"+OK hi\r\n");
        j
    }

    #[test]
    fn capa_reaches_the_client_without_stls_and_the_engine_with_it() {
        let mut j = judge();
        j.client_bytes(b"CAPA\r\n");
        let mut out = j.server_bytes(b"+OK\r\nUSER\r\nST");
        out.extend(j.server_bytes(b"LS\r\nTOP\r\n.\r\n"));
        assert_eq!(out, b"+OK\r\nUSER\r\nTOP\r\n.\r\n");
        let caps = j.engine.session().caps.auth.clone().unwrap_or_default();
        assert!(caps.has("STLS"), "{caps:?}");
        // After the reply, server octets go through whole again.
        j.client_bytes(b"NOOP\r\n");
        assert_eq!(j.server_bytes(b"+OK STLS\r\n"), b"+OK STLS\r\n");
    }

    #[test]
    fn stls_outside_a_capa_reply_is_relayed() {
        let mut j = judge();
        j.client_bytes(b"UIDL\r\n");
        let listing = b"+OK\r\n1 STLS\r\nSTLS\r\n.\r\n";
        assert_eq!(j.server_bytes(listing), listing);
    }

    #[test]
    fn a_client_stls_never_reaches_the_engine_and_is_answered_at_once() {
        let mut j = judge();
        let out = j.client_bytes(b"STLS\r\n");
        assert!(out.forward.is_empty() && out.answered);
        assert_eq!(j.take_ready(), STLS_REFUSED);
        assert_eq!(j.engine.session().commands_sent, 0);
        assert_eq!(j.stls_answered, 1);
    }

    #[test]
    fn a_pipelined_stls_is_answered_between_the_replies_around_it() {
        let mut j = judge();
        let out = j.client_bytes(b"CAPA\r\nSTLS\r\nNOOP\r\n");
        assert_eq!(out.forward, b"CAPA\r\nNOOP\r\n");
        assert!(!out.answered);
        let replies = j.server_bytes(b"+OK\r\nTOP\r\n.\r\n+OK noop\r\n");
        let expected = [&b"+OK\r\nTOP\r\n.\r\n"[..], STLS_REFUSED, b"+OK noop\r\n"].concat();
        assert_eq!(replies, expected);
    }

    #[test]
    fn a_client_that_floods_stls_without_replies_is_told_to_end() {
        let mut j = judge();
        j.client_bytes(b"NOOP\r\n");
        let flood = b"STLS\r\n".repeat(MAX_ANSWERS + 1);
        assert!(j.client_bytes(&flood).flooded);
    }
}
