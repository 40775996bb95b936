//! The judging half of one proxied connection, without sockets: the engine fed both
//! directions in the order they arrived, the observer (the recorder of `--record`) fed what
//! the engine was fed, the findings kept for the report, and the STLS rewrites of
//! [`super::rewrite`] applied on the way.
//!
//! The engine sees the session as the server saw it: a client's STLS that the proxy answered
//! never reaches it as a command, and CAPA is judged as the server sent it (with its STLS
//! line). What the client was shown of STLS is in its `Config` (`client_stls_offer`); an
//! STLS the proxy accepted (`--offer-stls`) reaches it as the transport event
//! `ClientLegStls`, with the octets the client sent behind it (dropped: RFC 2595 §4), whether
//! the client showed a certificate, and the reply lines `--inject stls-response-injection`
//! served behind the `+OK` (counted, never fed as the server's); one the proxy refused, as
//! `ClientStlsRefused`. Only the client rules read those events.

use std::collections::{BTreeSet, VecDeque};

use popscope_core::{
    AuthStep, Config, Direction, Engine, Event, EventSink, Finding, Keyword, State, Time,
    TransportEvent,
};

use popscope_core::inject::{Case, Fault};
use popscope_core::server::quirks::INJECTED_AFTER_STLS;

use super::rewrite::{
    self, ClientLines, ClientPiece, STLS_ACCEPTED, STLS_CAPABILITY, STLS_OUT_OF_PLACE, STLS_REFUSED,
};
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
    /// STLS commands the proxy refused.
    pub(crate) stls_refused: u64,
    /// STLS commands the proxy accepted, and the handshakes with the client that followed.
    pub(crate) stls_accepted: u64,
    /// The client presented a certificate on its leg (asked for, not verified).
    pub(crate) client_cert_shown: bool,
    /// The proxy answers STLS itself (`--offer-stls`).
    offer_stls: bool,
    /// The client's own leg is TLS.
    client_leg_tls: bool,
    /// An STLS the proxy accepted, from the `+OK` on until the handshake with the client.
    upgrade: Upgrade,
    /// Octets the client sent behind the STLS the proxy accepted: dropped unexecuted.
    dropped_behind_stls: u32,
    /// Server octets that came after the `+OK` to the client's STLS: for the client once its
    /// TLS is up (a server that owes nothing should have sent none; they are not lost).
    after_upgrade: Vec<u8>,
    /// Server octets already fed to the engine, for the client before anything else (the
    /// greeting the proxy read for its own upstream STLS).
    relay_first: Vec<u8>,
    /// The upstream leg's handshake, under implicit TLS.
    pub(crate) tls: Option<TlsDetails>,
    client: ClientLines,
    capa: CapaReplies,
    /// Exchanges whose reply has not ended.
    open: BTreeSet<u32>,
    /// STLS answers waiting for the replies to the commands before them: each waits until
    /// no exchange up to its number is open.
    deferred: VecDeque<(u32, &'static [u8])>,
    /// STLS answers due now, for the next write to the client, and how many.
    ready: Vec<u8>,
    ready_answers: usize,
    /// The server sent a SASL challenge: the client's turn, not the server's.
    challenged: bool,
    /// A close was told (the first one ends the connection; any later is not news).
    closed: bool,
    /// `--inject stls-refused` or `stls-response-injection`.
    stls_fault: Option<Case>,
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

/// Where the client's STLS that the proxy accepts stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Upgrade {
    #[default]
    None,
    /// The `+OK` waits for the replies before it; nothing more is read from the client.
    Accepted,
    /// The `+OK` is in what goes to the client: after it, the handshake.
    Answered,
}

/// What one read of the client becomes.
#[derive(Default)]
pub(crate) struct ClientOut {
    /// The octets for the server.
    pub(crate) forward: Vec<u8>,
    /// The proxy accepted the client's STLS: read nothing more from the client before the
    /// handshake.
    pub(crate) upgrade: bool,
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
    fed: Fed,
}

/// What the line just fed was, in a CAPA reply.
#[derive(Clone, Copy, Default)]
struct Fed {
    /// The server's STLS line.
    stls_line: bool,
    /// The terminator.
    capa_end: bool,
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
            Event::BodyEnd(end) => {
                self.fed.capa_end = end.complete && self.capa.contains(&end.exchange);
                self.ended(end.exchange)
            }
            // Sorted (commands come in order): a client that pipelines thousands of CAPA
            // costs a search, not a scan, per line.
            Event::BodyLine { exchange, line }
                if self.capa.binary_search(exchange).is_ok() && rewrite::is_stls(line) =>
            {
                self.fed.stls_line = true
            }
            _ => {}
        }
    }
}

impl Seen<'_> {
    fn ended(&mut self, exchange: u32) {
        *self.challenged = false;
        self.open.remove(&exchange);
        if let Ok(i) = self.capa.binary_search(&exchange) {
            self.capa.remove(i);
        }
    }
}

impl Judge {
    pub(crate) fn new(config: Config, observer: Box<dyn Observer>) -> Judge {
        Judge {
            offer_stls: config.client_stls_offer == Some(true),
            client_leg_tls: config.client_leg_tls == Some(true),
            engine: Engine::new(config),
            observer,
            start: std::time::Instant::now(),
            findings: Vec::new(),
            findings_left_out: 0,
            stls_refused: 0,
            stls_accepted: 0,
            client_cert_shown: false,
            upgrade: Upgrade::None,
            dropped_behind_stls: 0,
            after_upgrade: Vec::new(),
            relay_first: Vec::new(),
            tls: None,
            client: ClientLines::default(),
            capa: CapaReplies::default(),
            open: BTreeSet::new(),
            deferred: VecDeque::new(),
            ready: Vec::new(),
            ready_answers: 0,
            challenged: false,
            closed: false,
            stls_fault: None,
        }
    }

    /// `--inject CASE`: the cases around the client's STLS are the proxy's to play, as it
    /// answers that STLS itself (the others are the upstream wrapper's, `super::inject`).
    pub(crate) fn with_fault(mut self, fault: Option<Fault>) -> Judge {
        self.stls_fault = fault
            .map(|f| f.case)
            .filter(|c| matches!(c, Case::StlsRefused | Case::StlsResponseInjection));
        self
    }

    fn now(&self) -> Time {
        Time(self.start.elapsed().as_micros() as u64)
    }

    pub(crate) fn state(&self) -> State {
        self.engine.state()
    }

    /// The session so far, and when the connection opened (its [`Time`] 0): what a later
    /// connection of the same client is judged against (CL-016).
    pub(crate) fn session(&self) -> (&popscope_core::Session, std::time::Instant) {
        (self.engine.session(), self.start)
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
                fed: Fed::default(),
            },
        )
    }

    /// Feeds the engine one piece of one direction.
    fn feed(&mut self, dir: Direction, bytes: &[u8]) -> Fed {
        if self.engine.state() == State::Closed || bytes.is_empty() {
            return Fed::default();
        }
        let at = self.now();
        self.observer.wire(at, dir, bytes);
        let (engine, mut seen) = self.seen(at);
        match dir {
            Direction::Client => engine.handle_client(at, bytes, &mut seen),
            Direction::Server => engine.handle_server(at, bytes, &mut seen),
        }
        let fed = seen.fed;
        self.observer.settled(at);
        fed
    }

    /// A read from the client: what goes to the server; its STLS lines are answered by the
    /// proxy, each after the replies to the commands before it. Behind an STLS the proxy
    /// accepts, nothing goes on (RFC 2595 §4): it is counted for the engine instead.
    pub(crate) fn client_bytes(&mut self, bytes: &[u8]) -> ClientOut {
        let sasl = self.engine.state() == State::Authorization(AuthStep::Sasl);
        let mut out = ClientOut::default();
        for piece in self.client.split(bytes, !sasl) {
            match piece {
                _ if self.upgrade != Upgrade::None => self.drop_behind_stls(piece.len()),
                ClientPiece::Forward(b) => {
                    self.feed(Direction::Client, &b);
                    out.forward.extend_from_slice(&b);
                }
                ClientPiece::Stls => {
                    let answer = self.stls_answer();
                    let after = self.engine.session().commands_sent;
                    if self.deferred.is_empty() && !self.waits(after) {
                        self.ready_answer(answer);
                        out.answered = true;
                    } else {
                        self.deferred.push_back((after, answer));
                    }
                }
            }
        }
        if self.upgrade != Upgrade::None {
            let held = self.client.take_held();
            self.drop_behind_stls(held.len());
            out.upgrade = true;
        }
        out.flooded = self.deferred.len() + self.ready_answers > MAX_ANSWERS;
        out
    }

    fn drop_behind_stls(&mut self, octets: usize) {
        let octets = u32::try_from(octets).unwrap_or(u32::MAX);
        self.dropped_behind_stls = self.dropped_behind_stls.saturating_add(octets);
    }

    /// The proxy's answer to the client's STLS: accepted only with `--offer-stls`, on a plain
    /// client leg, before login.
    fn stls_answer(&mut self) -> &'static [u8] {
        let before_login = matches!(self.engine.state(), State::Authorization(_));
        let answer = match (self.offer_stls, self.client_leg_tls || !before_login) {
            (false, _) => STLS_REFUSED,
            (true, true) => STLS_OUT_OF_PLACE,
            // stls-refused: STLS is listed, and refused when the client takes it.
            (true, false) if self.stls_fault == Some(Case::StlsRefused) => STLS_REFUSED,
            (true, false) => {
                self.upgrade = Upgrade::Accepted;
                return STLS_ACCEPTED;
            }
        };
        self.stls_refused += 1;
        // Where the STLS stood among the client's commands; the server never saw it.
        self.transport(TransportEvent::ClientStlsRefused);
        answer
    }

    fn ready_answer(&mut self, answer: &'static [u8]) {
        self.ready.extend_from_slice(answer);
        self.ready_answers += 1;
        if answer == STLS_ACCEPTED {
            self.upgrade = Upgrade::Answered;
            let mut ready = std::mem::take(&mut self.ready);
            self.behind_accepted(&mut ready);
            self.ready = ready;
        }
    }

    /// stls-response-injection: plaintext behind the `+OK` to STLS, in the same write, before
    /// the handshake (NO STARTTLS's response injection): a safe client discards it.
    fn behind_accepted(&self, out: &mut Vec<u8>) {
        if self.stls_fault == Some(Case::StlsResponseInjection) {
            out.extend_from_slice(INJECTED_AFTER_STLS);
        }
    }

    /// `--offer-stls`: the proxy answers the client's STLS itself.
    pub(crate) fn offers_stls(&self) -> bool {
        self.offer_stls
    }

    /// The `+OK` to the client's STLS is in what went to the client: the handshake is next.
    pub(crate) fn awaits_client_handshake(&self) -> bool {
        self.upgrade == Upgrade::Answered
    }

    /// The handshake with the client after its STLS ended (`established`: it completed;
    /// `client_cert`: the client presented one); the engine hears of it, with the octets
    /// dropped behind the STLS and the reply lines the proxy injected behind its `+OK` (never
    /// fed as the server's: the server sent none of them).
    pub(crate) fn client_leg_stls(&mut self, established: bool, client_cert: bool) {
        let dropped_octets = std::mem::take(&mut self.dropped_behind_stls);
        self.upgrade = Upgrade::None;
        if established {
            self.client_leg_tls = true;
            self.stls_accepted += 1;
            self.client_cert_shown |= client_cert;
        }
        let injected_replies = match self.stls_fault {
            Some(Case::StlsResponseInjection) => reply_lines(INJECTED_AFTER_STLS),
            _ => 0,
        };
        self.transport(TransportEvent::ClientLegStls {
            dropped_octets,
            established,
            client_cert,
            injected_replies,
        });
    }

    /// The TLS handshake with the client at the start of the connection (`--listen
    /// pop3s://`) completed: the engine hears whether the client presented a certificate.
    pub(crate) fn client_leg_tls(&mut self, client_cert: bool) {
        self.client_cert_shown = client_cert;
        self.transport(TransportEvent::ClientLegTls { client_cert });
    }

    /// The proxy's own exchange with the server (`--upstream-starttls`), fed as it stands: no
    /// rewrite, nothing relayed.
    pub(crate) fn feed_as_is(&mut self, dir: Direction, bytes: &[u8]) {
        self.feed(dir, bytes);
    }

    /// Octets the engine has judged, for the client first.
    pub(crate) fn relay_first(&mut self, bytes: Vec<u8>) {
        self.relay_first = bytes;
    }

    pub(crate) fn take_relay_first(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.relay_first)
    }

    /// Server octets held while the client's TLS was set up.
    pub(crate) fn take_after_upgrade(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.after_upgrade)
    }

    /// The server owes something: the greeting, or the reply to a command (not while a
    /// SASL challenge waits for the client). A silence then is the server's, and the engine
    /// judges it (GRT-003, ML-001, CAPA-009).
    pub(crate) fn server_owes(&self) -> bool {
        let state = self.engine.state();
        matches!(state, State::Greeting | State::TlsHandshake)
            || (!self.open.is_empty() && !self.challenged && state != State::Closed)
    }

    /// Commands whose reply has not ended.
    pub(crate) fn unanswered(&self) -> usize {
        self.open.len()
    }

    /// An answer placed after exchange `after` must still wait for its reply.
    fn waits(&self, after: u32) -> bool {
        self.open.first().is_some_and(|&e| e <= after)
    }

    /// The STLS answers due now.
    pub(crate) fn take_ready(&mut self) -> Vec<u8> {
        self.ready_answers = 0;
        std::mem::take(&mut self.ready)
    }

    /// Moves the deferred answers whose replies have all come into `out`.
    fn release(&mut self, out: &mut Vec<u8>) {
        while let Some(&(after, answer)) = self.deferred.front() {
            if self.waits(after) {
                break;
            }
            self.deferred.pop_front();
            out.extend_from_slice(answer);
            if answer == STLS_ACCEPTED {
                self.upgrade = Upgrade::Answered;
                self.behind_accepted(out);
                return;
            }
        }
    }

    /// A read from the server: what goes to the client (a CAPA reply without its STLS line,
    /// the proxy's STLS answers where they stand).
    pub(crate) fn server_bytes(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut forward = self.take_ready();
        if self.awaits_client_handshake() {
            self.after_upgrade.extend_from_slice(bytes);
            return forward;
        }
        if self.capa.open.is_empty() && self.capa.held.is_empty() && self.deferred.is_empty() {
            self.feed(Direction::Server, bytes);
            forward.extend_from_slice(bytes);
            return forward;
        }
        // A CAPA reply or the reply an STLS answer waits for may end in these octets: fed
        // line by line, to know where.
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            if self.awaits_client_handshake() {
                // Nothing goes to the client between the +OK and the handshake.
                self.after_upgrade.extend_from_slice(piece);
                continue;
            }
            let fed = self.feed(Direction::Server, piece);
            let stls = fed.stls_line;
            if fed.capa_end && self.offer_stls && !self.client_leg_tls {
                forward.extend_from_slice(STLS_CAPABILITY);
            }
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

/// Status-shaped lines in `octets` (`+…`, `-…`): the replies a client could take them for.
fn reply_lines(octets: &[u8]) -> u32 {
    let lines = octets
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| matches!(l.first(), Some(b'+' | b'-')))
        .count();
    u32::try_from(lines).unwrap_or(u32::MAX)
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
    fn a_refused_stls_reaches_the_client_rules_and_never_the_server_as_a_command() {
        let config = Config {
            judge_client: true,
            client_stls_offer: Some(false),
            client_leg_tls: Some(false),
            ..Config::default()
        };
        let mut j = Judge::new(config, Box::new(Nothing));
        j.server_bytes(b"+OK hi\r\n");
        j.client_bytes(b"CAPA\r\n");
        j.server_bytes(b"+OK\r\nUSER\r\nSTLS\r\n.\r\n");
        j.client_bytes(b"STLS\r\n");
        assert_eq!(j.take_ready(), STLS_REFUSED);
        assert_eq!(j.engine.session().commands_sent, 1);
        // The client was shown no STLS (the server's line was kept from it): CL-012.
        let rules: Vec<_> = j
            .findings
            .iter()
            .filter(|f| f.rule.judges_client())
            .map(|f| f.rule.id)
            .collect();
        assert_eq!(rules, ["CL-012"], "{:?}", j.findings);
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
        assert_eq!(j.stls_refused, 1);
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

    /// A judge of `--offer-stls` on a plain client leg.
    fn offering() -> Judge {
        let config = Config {
            judge_client: true,
            client_stls_offer: Some(true),
            client_leg_tls: Some(false),
            ..Config::default()
        };
        let mut j = Judge::new(config, Box::new(Nothing));
        assert_eq!(j.server_bytes(b"+OK hi\r\n"), b"+OK hi\r\n");
        j
    }

    #[test]
    fn with_offer_stls_capa_lists_the_proxys_stls_until_the_client_leg_is_tls() {
        let mut j = offering();
        j.client_bytes(b"CAPA\r\n");
        // The server's own STLS line goes; the proxy's comes before the end.
        let out = j.server_bytes(b"+OK\r\nSTLS\r\nTOP\r\n.\r\n");
        assert_eq!(out, b"+OK\r\nTOP\r\nSTLS\r\n.\r\n");
        j.client_leg_stls(true, false);
        j.client_bytes(b"CAPA\r\n");
        assert_eq!(
            j.server_bytes(b"+OK\r\nTOP\r\n.\r\n"),
            b"+OK\r\nTOP\r\n.\r\n"
        );
        // Once TLS, a second STLS is refused.
        j.client_bytes(b"STLS\r\n");
        assert_eq!(j.take_ready(), STLS_OUT_OF_PLACE);
    }

    #[test]
    fn behind_an_accepted_stls_nothing_goes_to_the_server_and_the_engine_hears_of_it() {
        let mut j = offering();
        let out = j.client_bytes(b"STLS\r\nUSER x\r\nPA");
        assert!(out.forward.is_empty() && out.upgrade && out.answered);
        assert_eq!(j.take_ready(), STLS_ACCEPTED);
        assert!(j.awaits_client_handshake());
        // The server says nothing to the client until its TLS is up.
        assert_eq!(j.server_bytes(b"+OK late\r\n"), b"");
        j.client_leg_stls(true, false);
        assert_eq!(j.take_after_upgrade(), b"+OK late\r\n");
        let cl006: Vec<_> = j
            .findings
            .iter()
            .filter(|f| f.rule.id == "CL-006")
            .collect();
        assert_eq!(cl006.len(), 1, "{:?}", j.findings);
        assert!(
            cl006[0].message.contains("10 octets"),
            "{}",
            cl006[0].message
        );
        assert_eq!(j.engine.session().commands_sent, 0);
    }

    #[test]
    fn an_stls_after_a_command_is_accepted_after_its_reply() {
        let mut j = offering();
        let out = j.client_bytes(b"NOOP\r\nSTLS\r\n");
        assert_eq!(out.forward, b"NOOP\r\n");
        assert!(out.upgrade && !out.answered && !j.awaits_client_handshake());
        let replies = j.server_bytes(b"+OK noop\r\n");
        assert_eq!(replies, [&b"+OK noop\r\n"[..], STLS_ACCEPTED].concat());
        assert!(j.awaits_client_handshake());
        j.client_leg_stls(true, false);
        assert!(
            j.findings.iter().all(|f| f.rule.id != "CL-006"),
            "{:?}",
            j.findings
        );
    }

    #[test]
    fn a_client_that_floods_stls_without_replies_is_told_to_end() {
        let mut j = judge();
        j.client_bytes(b"NOOP\r\n");
        let flood = b"STLS\r\n".repeat(MAX_ANSWERS + 1);
        assert!(j.client_bytes(&flood).flooded);
    }
}
