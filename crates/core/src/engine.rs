//! The engine: fed client bytes, server bytes and transport events, it emits commands, replies,
//! body lines, state transitions and findings. No sockets, no clock: time is passed in, so the
//! live session, replay and the tests all see the same thing.
//!
//! Contract: inputs are given in the order they happened. Bytes may be split anywhere; feeding
//! a session whole or one byte at a time gives the same events. No input makes it panic or
//! grow without bound: lines are capped, bodies stream through, the maildrop map is capped.

use std::collections::VecDeque;

use super::command::{Command, Keyword};
use super::event::{
    BodyEnd, Event, EventSink, Reply, SaslResponse, Time, TlsFailure, Transition, TransportEvent,
};
use super::exchange::{
    Body, BodyKind, Completed, Exchange, SaslClientLine, SaslExchange, client_at, server_at,
};
use super::framer::{Ending, Frame, Line, LineFramer};
use super::oauth::{ClientMessage, Mechanism};
use super::response::{Status, StatusLine};
use super::rules::{
    self, Answer, Area, Checker, ClientClose, Close, Ctx, DataLine, Severity, Side, Timeout,
    Unanswered,
};
use super::session::{Login, Refusal, Session};
use super::state::{AuthStep, Security, State};

/// Calls one hook on every rule area in order: `areas!(self, |area, cx| area.on_x(cx, ...))`.
/// A macro, not a method, so the hook's arguments may borrow other fields of the engine (the
/// body in progress, the queue) while the areas, the checker and the session are lent out.
macro_rules! areas {
    ($engine:ident, |$area:ident, $cx:ident| $hook:expr) => {{
        let mut $cx = Ctx {
            check: &mut $engine.checker,
            session: &mut $engine.session,
            now: $engine.now,
            last: $engine.last_completed,
        };
        // The server's areas judge an input before the client's (rules.md §3.18).
        rules::each_area!(&mut $engine.areas, Side::Server, |$area| $hook);
        if $cx.check.judges_client() {
            rules::each_area!(&mut $engine.areas, Side::Client, |$area| $hook);
        }
    }};
}

/// Engine settings, fixed for the engine's life. [`Config::default`] suits a plain-text
/// session on port 110 judged with the catalog's severities.
#[derive(Clone, Debug)]
pub struct Config {
    /// Longest line kept, in octets; longer lines are cut (with a finding) and the rest counted.
    pub max_line: usize,
    /// The connection starts with a TLS handshake (port 995): the engine starts in
    /// [`State::TlsHandshake`] and expects [`TransportEvent::TlsEstablished`] before the
    /// greeting.
    pub implicit_tls: bool,
    /// Severity overrides by rule ID (`("GEN-003", Severity::Info)`): every finding of that
    /// rule gets this severity instead. IDs are matched exactly, in upper case.
    pub severity_overrides: Vec<(&'static str, Severity)>,
    /// popscope's active probes run in this session (`check` without `--passive`): its made-up
    /// keyword answered +OK is then a violation (GEN-006); watched passively, a warning.
    pub active_probes: bool,
    /// Judge the client too: the `CL-` rules of rules.md §3.18 ([`RuleInfo::judges_client`]).
    /// Off by default, because the client is usually popscope itself (`send`, `check`, the
    /// UI), which breaks some of them on purpose (probe P8 pipelines plaintext behind STLS;
    /// `send pop3://` logs in without TLS when asked). On where the client may be anyone: a
    /// transcript re-checked from a file (`check --transcript`, `replay --headless`), the
    /// proxy, the demo server judging its clients. Ignored while
    /// [`active_probes`](Config::active_probes) is set: then the client is popscope's probes.
    ///
    /// [`RuleInfo::judges_client`]: crate::RuleInfo::judges_client
    pub judge_client: bool,
    /// What the client was shown of STLS, when that is not the server's CAPA: a proxy
    /// between them decides. `Some(false)`: the proxy keeps STLS from the client (it removes
    /// the line from CAPA toward it), so CL-008 does not blame a password in the clear on an
    /// STLS the client could not see; `Some(true)`: the proxy offers STLS itself (its CAPA
    /// toward the client lists it, whatever the server's says). `None`: the server's CAPA.
    pub client_stls_offer: Option<bool>,
    /// Whether the client's own leg is TLS, when that leg is not the session's: a proxy
    /// between the two ends the client's TLS itself, so the legs may differ (TLS toward the
    /// client and a plain upstream, or the other way round). The server rules judge the
    /// upstream leg ([`Session::security`](crate::Session), learnt from `implicit_tls` and
    /// [`TransportEvent::TlsEstablished`](crate::TransportEvent)); the client rules that ask
    /// whether the client's secrets travelled encrypted (CL-008) ask this instead. `None`:
    /// one connection, the session's security is the client's. A proxy that upgrades the
    /// client's leg itself starts with `Some(false)` and says when the client's TLS begins
    /// with [`TransportEvent::ClientLegStls`](crate::TransportEvent).
    pub client_leg_tls: Option<bool>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_line: 64 * 1024,
            implicit_tls: false,
            severity_overrides: Vec::new(),
            active_probes: false,
            judge_client: false,
            client_stls_offer: None,
            client_leg_tls: None,
        }
    }
}

/// Server lines that answered no command, held until the next event tells whether they were a
/// farewell before a close (TMO-002) or unsolicited data (GEN-008).
#[derive(Debug)]
struct Held {
    exchange: u32,
    offset: u64,
    lines: u32,
}

#[derive(Debug)]
enum Mode {
    /// The next server line is a status line.
    Status,
    Body(Box<Body>),
    /// `+OK` to STLS came: until the handshake, server octets are plaintext to drop (TLS-003).
    AwaitHandshake {
        exchange: u32,
    },
}

/// The sans-IO POP3 engine for one connection: fed both directions of a session and what
/// the transport saw, it parses, follows the RFC 1939 state machine and judges every reply
/// against the rule catalog.
///
/// # Contract
///
/// - One engine per connection, from the connect on. It is not reset or reused: a new
///   connection gets a new engine.
/// - Feed each input once, in the order it happened, across the three `handle_*` calls:
///   what the client sent with [`handle_client`](Engine::handle_client), what the server
///   sent with [`handle_server`](Engine::handle_server), the rest with
///   [`handle_transport`](Engine::handle_transport). Under TLS, feed the decrypted bytes.
/// - Bytes may be split anywhere: feeding a session whole, line by line or one byte at a
///   time gives the same events. A line is acted on when its line end arrives (or at
///   [`TransportEvent::ServerClosed`]).
/// - There are no errors. Every input is accepted, nothing panics, memory stays bounded
///   (lines are cut at [`Config::max_line`], bodies stream through, the maildrop map is
///   capped); whatever is wrong with the input becomes a [`Finding`](crate::Finding).
/// - Some events oblige the driver to act: after `+OK` to `STLS` it runs the TLS handshake
///   and reports the outcome; after a [`Challenge`](Event::Challenge) the client's next
///   line is its SASL response; after the state becomes [`State::Closed`] (a close, a failed
///   handshake) it feeds nothing more. See [`Event`].
///
/// ```
/// use popscope_core::{Config, Engine, Event, State, Time, TransportEvent};
///
/// let mut engine = Engine::new(Config::default());
/// let mut events = engine.feed_server(Time(0), b"+OK POP3 ready\r\n");
/// events.extend(engine.feed_client(Time(1), b"STLS\r\n"));
/// events.extend(engine.feed_server(Time(2), b"+OK begin TLS\r\n"));
/// // The driver runs the handshake now, then says how it went.
/// assert!(matches!(engine.state(), State::Authorization(_)));
/// events.extend(engine.feed_transport(
///     Time(3),
///     TransportEvent::TlsEstablished { cert_requested: false, client_cert: false },
/// ));
/// assert!(engine.session().security.is_tls());
/// assert!(!events.iter().any(|e| matches!(e, Event::Finding(_))));
/// ```
pub struct Engine {
    session: Session,
    checker: Checker,
    /// The rule areas, with what they remember of the session.
    areas: rules::Areas,
    client: LineFramer,
    server: LineFramer,
    queue: VecDeque<Exchange>,
    /// How many STLS commands wait in `queue`: each command asks, and a scan of the queue
    /// would make n pipelined commands cost n² (a recording may hold any number).
    stls_queued: usize,
    mode: Mode,
    now: Time,
    last_completed: Option<Completed>,
    held: Option<Held>,
    /// Line ends of the plain lines taken last, kept to reuse the allocation.
    plain_ends: Vec<u32>,
}

impl Engine {
    /// An engine for a connection that has just opened: nothing seen yet, in
    /// [`State::Greeting`] (or [`State::TlsHandshake`] with [`Config::implicit_tls`]).
    pub fn new(config: Config) -> Self {
        Engine {
            session: Session::new(config.implicit_tls),
            checker: Checker::new(
                config.severity_overrides.clone(),
                config.active_probes,
                config.judge_client,
            )
            .with_client_stls_offer(config.client_stls_offer)
            .with_client_leg_tls(config.client_leg_tls),
            areas: rules::Areas::default(),
            client: LineFramer::new(config.max_line),
            server: LineFramer::new(config.max_line),
            queue: VecDeque::new(),
            stls_queued: 0,
            mode: Mode::Status,
            now: Time::default(),
            last_completed: None,
            held: None,
            plain_ends: Vec::new(),
        }
    }

    /// What the engine knows of the session: state, capabilities, the maildrop. Up to date
    /// with every input fed so far.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The session as the inputs left it, for a caller done feeding: no copy of the maildrop.
    pub fn into_session(self) -> Session {
        self.session
    }

    /// The current state, as the last [`Event::StateChange`] left it.
    pub fn state(&self) -> State {
        self.session.state
    }

    /// Bytes the client sent, any amount, at time `now`. Each complete line becomes an
    /// [`Event::Command`] (or an [`Event::SaslResponse`] while a SASL challenge is
    /// unanswered), followed by the findings it revealed, all passed to `out` before this
    /// returns; a partial line waits for the rest.
    pub fn handle_client(&mut self, now: Time, bytes: &[u8], out: &mut dyn EventSink) {
        self.now = now;
        let mut framer = std::mem::replace(&mut self.client, LineFramer::new(8));
        framer.push(bytes, |frame| {
            if let Frame::Line(line) = frame {
                self.client_line(&line, out);
            }
        });
        self.client = framer;
    }

    /// Bytes the server sent, any amount, at time `now`: status lines become
    /// [`Event::Reply`], data lines [`Event::BodyLine`] (borrowing from `bytes` where they
    /// can), each followed by the findings and state changes it caused, all passed to `out`
    /// before this returns. A partial line waits for the rest.
    pub fn handle_server(&mut self, now: Time, bytes: &[u8], out: &mut dyn EventSink) {
        self.now = now;
        self.session.last_server_activity = now;
        let mut framer = std::mem::replace(&mut self.server, LineFramer::new(8));
        let mut input = bytes;
        while !input.is_empty() {
            if framer.at_line_start() && self.in_message() {
                let taken = self.plain_lines(input, framer.offset(), framer.cap(), out);
                framer.skip(taken);
                input = &input[taken..];
            }
            // Line by line until a message body may go on in bulk again.
            let used = framer.push_until(input, |frame| {
                match frame {
                    Frame::Line(line) => self.server_line(&line, out),
                    Frame::Overflow { offset } => self.server_overflow(offset, out),
                }
                !self.in_message()
            });
            input = &input[used..];
        }
        self.server = framer;
    }

    /// Something happened on the transport at time `now`; report it after all the bytes that
    /// came before it. The events it causes (findings, state changes; at a server close, those
    /// of a last line without a line end) go to `out` before this returns.
    pub fn handle_transport(&mut self, now: Time, event: TransportEvent, out: &mut dyn EventSink) {
        self.now = now;
        match event {
            TransportEvent::TlsEstablished {
                cert_requested,
                client_cert,
            } => self.tls_established(cert_requested, client_cert, out),
            TransportEvent::TlsFailed { reason } => self.tls_failed(reason, out),
            TransportEvent::ServerClosed { close_notify } => self.server_closed(close_notify, out),
            TransportEvent::ClientClosed => {
                self.flush_held_as_unsolicited();
                self.client_closed();
                self.transition(
                    self.session.commands_sent,
                    State::Closed,
                    "popscope closed the connection",
                    true,
                    out,
                );
            }
            TransportEvent::Timeout => self.timeout(out),
            TransportEvent::ClientLegStls {
                dropped_octets,
                established,
                client_cert,
                injected_replies,
            } => self.client_leg_stls(crate::rules::ClientStls {
                dropped_octets,
                established,
                client_cert,
                injected_replies,
            }),
            TransportEvent::ClientLegTls { client_cert } => {
                self.checker.client_leg_upgraded(client_cert)
            }
            TransportEvent::ClientStlsRefused => {
                let at = client_at(self.session.commands_sent, self.client.offset());
                areas!(self, |area, cx| area.on_client_stls_refused(&mut cx, at));
            }
        }
        self.flush(out);
    }

    /// [`handle_client`](Engine::handle_client), returning the events as owned values
    /// (body lines copied): for tests and small drivers.
    pub fn feed_client(&mut self, now: Time, bytes: &[u8]) -> Vec<Event<'static>> {
        let mut v: Vec<Event<'static>> = Vec::new();
        self.handle_client(now, bytes, &mut v);
        v
    }

    /// [`handle_server`](Engine::handle_server), returning the events as owned values (body
    /// lines copied). A driver that streams large messages should use `handle_server`.
    pub fn feed_server(&mut self, now: Time, bytes: &[u8]) -> Vec<Event<'static>> {
        let mut v: Vec<Event<'static>> = Vec::new();
        self.handle_server(now, bytes, &mut v);
        v
    }

    /// [`handle_transport`](Engine::handle_transport), returning the events as owned values.
    pub fn feed_transport(&mut self, now: Time, event: TransportEvent) -> Vec<Event<'static>> {
        let mut v: Vec<Event<'static>> = Vec::new();
        self.handle_transport(now, event, &mut v);
        v
    }

    // ---------------------------------------------------------------- client side

    fn client_line(&mut self, line: &Line<'_>, out: &mut dyn EventSink) {
        let wire_len = line.wire_len as usize + if line.ending == Ending::CrLf { 2 } else { 1 };
        self.session.last_client_activity = self.now;
        if let Some(ex) = self.queue.front_mut()
            && let Some(sasl) = ex.sasl.as_mut()
            && sasl.awaiting_client
        {
            let cancel = line.content == b"*";
            let valid_base64 = cancel || rules::sasl::is_base64(line.content);
            let oauth = sasl
                .oauth
                .filter(|_| !cancel)
                .map(|m| ClientMessage::read(m, line.content));
            sasl.awaiting_client = false;
            sasl.last_client = Some(SaslClientLine {
                cancel,
                valid_base64,
                oauth,
                after_token_message: sasl.token_message.is_some(),
            });
            if sasl.token_message.is_none() {
                sasl.token_message = oauth;
            }
            out.event(Event::SaslResponse(SaslResponse {
                exchange: ex.id,
                cancel,
                octets: line.content.len(),
                valid_base64,
            }));
            let ex = &*ex;
            let at = client_at(ex.id, line.offset);
            areas!(self, |area, cx| area.on_sasl_response(&mut cx, ex, at));
            self.flush(out);
            return;
        }
        // Held server lines are judged by what the server does next, not by the client's next
        // command (which may have crossed the server's parting line on the wire).
        // Commands the server never answered before the first command inside TLS were plaintext
        // sent after STLS; a server that is right ignores them.
        if self.session.commands_since_tls == 0 && self.session.security == Security::Stls {
            self.queue.retain(|e| !e.injected);
            self.stls_queued = self.queued(Keyword::Stls);
        }
        self.session.commands_sent += 1;
        self.session.commands_since_tls += 1;
        let id = self.session.commands_sent;
        let cmd = Command::parse(line.content, wire_len);
        let stls_outstanding = self.stls_queued > 0;
        let sasl = cmd.mechanism().map(|mechanism| {
            let oauth = Mechanism::parse(&mechanism);
            SaslExchange {
                initial_response: cmd.secret.is_some(),
                challenges: 0,
                awaiting_client: false,
                last_client: None,
                oauth,
                token_message: oauth
                    .zip(cmd.secret.as_ref())
                    .map(|(m, s)| ClientMessage::read(m, s.expose())),
                mechanism,
            }
        });
        let ex = Exchange {
            id,
            pipelined: !self.queue.is_empty() || matches!(self.mode, Mode::Body(_)),
            ahead_of_reply: !self.queue.is_empty(),
            injected: stls_outstanding,
            state_at_send: self.session.state,
            line_end: line.ending,
            offset: line.offset,
            sasl,
            cmd,
        };
        out.event(Event::Command {
            exchange: id,
            command: Box::new(ex.cmd.clone()),
        });
        areas!(self, |area, cx| area.on_command(&mut cx, &ex));
        self.stls_queued += usize::from(ex.keyword() == Keyword::Stls);
        self.queue.push_back(ex);
        self.flush(out);
    }

    // ---------------------------------------------------------------- server side

    fn server_line(&mut self, line: &Line<'_>, out: &mut dyn EventSink) {
        match &self.mode {
            Mode::AwaitHandshake { exchange } => {
                let at = server_at(*exchange, line.offset);
                areas!(self, |area, cx| area
                    .on_plaintext_before_handshake(&mut cx, at, line));
                out.event(Event::Discarded {
                    line: line.content.to_vec(),
                });
            }
            Mode::Body(_) => self.body_line(line, out),
            Mode::Status => self.status_line(line, out),
        }
        self.flush(out);
    }

    fn server_overflow(&mut self, offset: u64, out: &mut dyn EventSink) {
        let (exchange, in_body) = match &self.mode {
            Mode::Body(b) => (b.ex.id, Some(b.kind)),
            _ => (self.current_exchange(), None),
        };
        let at = server_at(exchange, offset);
        areas!(self, |area, cx| area.on_overflow(&mut cx, at, in_body));
        self.flush(out);
    }

    /// How many commands with `keyword` wait for their reply.
    fn queued(&self, keyword: Keyword) -> usize {
        self.queue.iter().filter(|e| e.keyword() == keyword).count()
    }

    /// The exchange a server line belongs to: the oldest unanswered command, else the last one.
    fn current_exchange(&self) -> u32 {
        self.queue
            .front()
            .map(|e| e.id)
            .unwrap_or(self.session.commands_sent)
    }

    fn status_line(&mut self, line: &Line<'_>, out: &mut dyn EventSink) {
        if self.session.greeting.is_none()
            && matches!(self.session.state, State::Greeting | State::TlsHandshake)
        {
            self.greeting(line, out);
            return;
        }
        if line.content == b"." {
            // A terminator where a status line belongs: a single-line reply carried data (ML-003).
            let exchange = self.last_completed.map_or(0, |c| c.id);
            areas!(self, |area, cx| area
                .on_stray_terminator(&mut cx, exchange, line));
            self.held = None;
            out.event(Event::Unsolicited {
                exchange,
                line: line.content.to_vec(),
            });
            return;
        }
        let Some(front) = self.queue.front() else {
            self.unsolicited(line, out);
            return;
        };
        let is_challenge = front.sasl.is_some() && rules::sasl::is_continuation(line.content);
        self.flush_held_as_unsolicited();
        if is_challenge {
            self.challenge(line, out);
            return;
        }
        let Some(ex) = self.queue.pop_front() else {
            return;
        };
        if ex.keyword() == Keyword::Stls {
            self.stls_queued = self.stls_queued.saturating_sub(1);
        }
        let st = StatusLine::parse(line.content);
        let at = server_at(ex.id, line.offset);
        let multiline = st.status == Status::Ok && ex.cmd.expects_multiline();
        let reply = Answer {
            ex: &ex,
            at,
            line,
            status: &st,
        };
        areas!(self, |area, cx| area.on_reply(&mut cx, &reply));
        out.event(Event::Reply(Box::new(Reply {
            exchange: ex.id,
            status: st.status,
            code: st.code.clone(),
            text: st.text.to_vec(),
            multiline,
            raw: line.content.to_vec(),
        })));
        self.flush(out);
        self.apply_reply(&ex, &st, out);
        if multiline {
            let body = Body {
                kind: BodyKind::of(ex.keyword()),
                lines: 0,
                octets: 0,
                reply_offset: line.offset,
                ex,
            };
            areas!(self, |area, cx| area.on_body_start(&mut cx, &body, &st));
            self.mode = Mode::Body(Box::new(body));
        } else {
            self.last_completed = Some(Completed {
                id: ex.id,
                keyword: ex.keyword(),
                status: st.status,
                multiline: false,
            });
        }
    }

    fn greeting(&mut self, line: &Line<'_>, out: &mut dyn EventSink) {
        let st = StatusLine::parse(line.content);
        let at = server_at(0, line.offset);
        if self.session.state == State::TlsHandshake {
            // Plaintext where the implicit-TLS handshake belongs: the handshake failed so.
            let reason = TlsFailure::PlaintextFromServer;
            areas!(self, |area, cx| area.on_tls_failure(&mut cx, at, reason));
        }
        areas!(self, |area, cx| area.on_greeting(&mut cx, at, line, &st));
        self.session.greeting = Some(line.content.to_vec());
        self.session.apop_timestamp = rules::greeting::apop_timestamp(st.full_text);
        out.event(Event::Reply(Box::new(Reply {
            exchange: 0,
            status: st.status,
            code: st.code.clone(),
            text: st.text.to_vec(),
            multiline: false,
            raw: line.content.to_vec(),
        })));
        self.flush(out);
        let reason = match st.status {
            Status::Ok => "greeting +OK: the session is in AUTHORIZATION",
            _ => "the greeting was not +OK: the server is likely to close",
        };
        self.transition(0, State::Authorization(AuthStep::Idle), reason, true, out);
        self.last_completed = Some(Completed {
            id: 0,
            keyword: Keyword::Other,
            status: st.status,
            multiline: false,
        });
    }

    fn unsolicited(&mut self, line: &Line<'_>, out: &mut dyn EventSink) {
        let exchange = self.session.commands_sent;
        let at = server_at(exchange, line.offset);
        let after_quit = self
            .last_completed
            .is_some_and(|c| c.keyword == Keyword::Quit);
        let when = if self.session.commands_sent == 0 {
            Some(Unanswered::BeforeFirstCommand)
        } else if after_quit {
            Some(Unanswered::AfterQuit)
        } else if self.session.security == Security::Stls && self.session.commands_since_tls == 0 {
            Some(Unanswered::AfterHandshake)
        } else {
            None
        };
        if let Some(when) = when {
            areas!(self, |area, cx| area.on_unanswered(&mut cx, at, line, when));
        } else {
            match &mut self.held {
                Some(h) => h.lines += 1,
                None => {
                    self.held = Some(Held {
                        exchange,
                        offset: line.offset,
                        lines: 1,
                    })
                }
            }
        }
        out.event(Event::Unsolicited {
            exchange,
            line: line.content.to_vec(),
        });
    }

    fn flush_held_as_unsolicited(&mut self) {
        if let Some(h) = self.held.take() {
            let at = server_at(h.exchange, h.offset);
            areas!(self, |area, cx| area.on_unsolicited(&mut cx, at, h.lines));
        }
    }

    fn challenge(&mut self, line: &Line<'_>, out: &mut dyn EventSink) {
        let Some(ex) = self.queue.front_mut() else {
            return;
        };
        let at = server_at(ex.id, line.offset);
        areas!(self, |area, cx| area.on_challenge(&mut cx, ex, at, line));
        let Some(sasl) = ex.sasl.as_mut() else {
            return;
        };
        sasl.challenges += 1;
        sasl.awaiting_client = true;
        let id = ex.id;
        let payload = line.content.get(2..).unwrap_or_default().to_vec();
        out.event(Event::Challenge {
            exchange: id,
            payload,
        });
        self.flush(out);
        if self.session.state == State::Authorization(AuthStep::Idle) {
            self.transition(
                id,
                State::Authorization(AuthStep::Sasl),
                "the server sent a SASL challenge",
                true,
                out,
            );
        }
    }

    fn body_line(&mut self, line: &Line<'_>, out: &mut dyn EventSink) {
        let Mode::Body(body) = &mut self.mode else {
            return;
        };
        if line.content == b"." {
            if line.ending == Ending::Lf {
                let at = server_at(body.ex.id, line.offset);
                areas!(self, |area, cx| area.on_bare_lf(&mut cx, at, true));
            }
            self.finish_body(true, out);
            return;
        }
        if body.kind.is_listing() && StatusLine::looks_like_status(line.content) {
            areas!(self, |area, cx| area.on_status_in_listing(
                &mut cx,
                body,
                line.offset
            ));
            self.finish_body(false, out);
            self.flush(out);
            self.status_line(line, out);
            return;
        }
        let at = server_at(body.ex.id, line.offset);
        let content = match line.content.first() {
            Some(b'.') => {
                if line.content.get(1) == Some(&b'.') {
                    &line.content[1..]
                } else {
                    areas!(self, |area, cx| area.on_unstuffed_dot(
                        &mut cx,
                        at,
                        line.content
                    ));
                    line.content
                }
            }
            _ => line.content,
        };
        body.lines += 1;
        body.octets += (line.wire_len - (line.content.len() - content.len()) as u64) + 2;
        let data = DataLine { at, line, content };
        areas!(self, |area, cx| area.on_body_line(&mut cx, body, &data));
        if line.ending == Ending::Lf {
            areas!(self, |area, cx| area.on_bare_lf(&mut cx, at, true));
        }
        let exchange = body.ex.id;
        out.event(Event::BodyLine {
            exchange,
            line: std::borrow::Cow::Borrowed(content),
        });
    }

    /// In the data of a RETR or TOP, where most lines are plain text that only counts.
    fn in_message(&self) -> bool {
        matches!(&self.mode, Mode::Body(b) if matches!(b.kind, BodyKind::Retr | BodyKind::Top))
    }

    /// The plain data lines at the start of `input` ([`crate::framer::plain_lines`]), taken
    /// at once: what [`body_line`](Engine::body_line) does for each, without the tests that
    /// cannot fire on them. Returns the octets taken (0: the next line needs a look of its
    /// own, or is not complete).
    fn plain_lines(
        &mut self,
        input: &[u8],
        offset: u64,
        cap: usize,
        out: &mut dyn EventSink,
    ) -> usize {
        let Mode::Body(body) = &mut self.mode else {
            return 0;
        };
        let mut ends = std::mem::take(&mut self.plain_ends);
        let exchange = body.ex.id;
        // Each line goes out as it is found; the areas judge the run after, and their findings
        // (only the checker keeps them) follow its lines as they would if judged first.
        let taken = crate::framer::plain_lines(input, cap, &mut ends, |line| {
            out.event(Event::BodyLine {
                exchange,
                line: std::borrow::Cow::Borrowed(line),
            });
        });
        if taken > 0 {
            let bytes = &input[..taken];
            body.lines += ends.len() as u64;
            // No dot was unstuffed: the octets RETR delivered are the octets read.
            body.octets += taken as u64;
            let lines = rules::PlainLines {
                exchange,
                bytes,
                offset,
                ends: &ends,
            };
            areas!(self, |area, cx| area.on_plain_lines(&mut cx, body, &lines));
            self.flush(out);
        }
        self.plain_ends = ends;
        taken
    }

    fn finish_body(&mut self, complete: bool, out: &mut dyn EventSink) {
        let Mode::Body(body) = std::mem::replace(&mut self.mode, Mode::Status) else {
            return;
        };
        let body = *body;
        areas!(self, |area, cx| area.on_body_end(&mut cx, &body, complete));
        out.event(Event::BodyEnd(BodyEnd {
            exchange: body.ex.id,
            lines: body.lines,
            octets: body.octets,
            complete,
        }));
        self.last_completed = Some(Completed {
            id: body.ex.id,
            keyword: body.ex.keyword(),
            status: Status::Ok,
            multiline: true,
        });
        self.flush(out);
    }

    /// The session changes a reply causes (RFC 1939 §3-§6, rules.md §1.2).
    fn apply_reply(&mut self, ex: &Exchange, st: &StatusLine<'_>, out: &mut dyn EventSink) {
        let ok = st.status == Status::Ok;
        let state = self.session.state;
        let in_auth = state.is_authorization();
        let k = ex.keyword();
        match k {
            Keyword::User if in_auth || self.session.skipped_login => {
                if ok {
                    let back = self.session.skipped_login;
                    self.session.skipped_login = false;
                    let reason = if back {
                        "USER accepted: the server was in AUTHORIZATION after all"
                    } else {
                        "USER accepted: PASS must follow"
                    };
                    self.transition(
                        ex.id,
                        State::Authorization(AuthStep::UserOk),
                        reason,
                        true,
                        out,
                    );
                } else {
                    self.transition(
                        ex.id,
                        State::Authorization(AuthStep::Idle),
                        "USER refused",
                        true,
                        out,
                    );
                }
            }
            Keyword::Pass | Keyword::Apop | Keyword::Auth
                if (in_auth || self.session.skipped_login)
                    && !(k == Keyword::Auth && ex.cmd.arg_count() == 0) =>
            {
                let login = Login {
                    answered: self.now,
                    accepted: ok,
                    refusal: (!ok).then(|| Refusal::of(st.code.as_ref(), true)),
                };
                self.session.first_login.get_or_insert(login);
                if ok {
                    self.session.accepted_login = Some(login);
                    let lawful =
                        k != Keyword::Pass || state == State::Authorization(AuthStep::UserOk);
                    self.session.logged_in_by = Some(k);
                    self.session.auth_failed = false;
                    self.session.skipped_login = false;
                    self.session.sasl_done |= k == Keyword::Auth;
                    let reason = format!("{k} accepted: logged in");
                    self.transition(ex.id, State::Transaction, &reason, lawful, out);
                } else {
                    self.session.auth_failed = true;
                    let reason = format!("{k} refused: still in AUTHORIZATION");
                    self.transition(
                        ex.id,
                        State::Authorization(AuthStep::Idle),
                        &reason,
                        true,
                        out,
                    );
                }
            }
            Keyword::Stls if ok => {
                self.mode = Mode::AwaitHandshake { exchange: ex.id };
                if in_auth {
                    self.transition(
                        ex.id,
                        State::Authorization(AuthStep::StlsHandshake),
                        "STLS accepted: the TLS handshake starts",
                        true,
                        out,
                    );
                }
            }
            Keyword::Stls => self.session.stls_refused = true,
            Keyword::Utf8 if ok => self.session.utf8_mode = true,
            Keyword::Lang if ok && ex.cmd.arg_count() > 0 => self.session.lang_changed = true,
            Keyword::Quit if ok || state == State::Transaction => {
                if state == State::Transaction {
                    let reason = if ok {
                        "QUIT: the server removed the deleted messages"
                    } else {
                        "QUIT answered -ERR: some deleted messages may remain"
                    };
                    self.transition(ex.id, State::Update, reason, true, out);
                } else {
                    self.transition(
                        ex.id,
                        State::Closed,
                        "QUIT in AUTHORIZATION: no UPDATE",
                        true,
                        out,
                    );
                }
            }
            _ if k.is_transaction_only() && in_auth && ok => {
                self.session.skipped_login = true;
                let reason =
                    format!("{k} answered +OK before any login: the server skipped AUTHORIZATION");
                self.transition(ex.id, State::Transaction, &reason, false, out);
                areas!(self, |area, cx| area.after_reply(&mut cx, ex, st));
            }
            _ if in_auth
                && !matches!(k, Keyword::Quit)
                && state == State::Authorization(AuthStep::UserOk) =>
            {
                // Any command but PASS or QUIT ends the USER step (RFC 1939 §7).
                self.transition(
                    ex.id,
                    State::Authorization(AuthStep::Idle),
                    "USER step abandoned",
                    true,
                    out,
                );
            }
            _ => areas!(self, |area, cx| area.after_reply(&mut cx, ex, st)),
        }
    }

    // ---------------------------------------------------------------- transport

    fn tls_established(
        &mut self,
        cert_requested: bool,
        client_cert: bool,
        out: &mut dyn EventSink,
    ) {
        self.session.cert_requested |= cert_requested;
        self.session.client_cert |= client_cert;
        let stls = matches!(self.mode, Mode::AwaitHandshake { .. });
        if stls {
            self.mode = Mode::Status;
            self.upgraded_to_tls();
            if self.session.state == State::Authorization(AuthStep::StlsHandshake) {
                self.transition(
                    self.session.commands_sent,
                    State::Authorization(AuthStep::Idle),
                    "TLS handshake done: still AUTHORIZATION, no new greeting",
                    true,
                    out,
                );
            }
        } else if self.session.greeting.is_none() && self.session.commands_sent == 0 {
            self.session.security = Security::ImplicitTls;
            if self.session.state == State::TlsHandshake {
                self.transition(
                    0,
                    State::Greeting,
                    "TLS handshake done: waiting for the greeting",
                    true,
                    out,
                );
            }
        } else {
            let at = server_at(self.session.commands_sent, self.server.offset());
            areas!(self, |area, cx| area.on_unexpected_handshake(&mut cx, at));
            self.upgraded_to_tls();
        }
    }

    /// The client's side of the close, judged before the state becomes Closed: the client
    /// areas read the state it left the session in (CL-013) and a line it never ended (CL-011).
    fn client_closed(&mut self) {
        let close = ClientClose {
            at: client_at(self.session.commands_sent, self.client.offset()),
            unterminated: self
                .client
                .pending()
                .map(|(offset, octets)| (client_at(self.session.commands_sent, offset), octets)),
        };
        areas!(self, |area, cx| area.on_client_close(&mut cx, &close));
    }

    /// The client's STLS, answered by a proxy: nothing changes on the server's leg.
    fn client_leg_stls(&mut self, stls: crate::rules::ClientStls) {
        if stls.established {
            self.checker.client_leg_upgraded(stls.client_cert);
        }
        let at = client_at(self.session.commands_sent, self.client.offset());
        areas!(self, |area, cx| area.on_client_leg_stls(&mut cx, at, &stls));
    }

    fn tls_failed(&mut self, reason: TlsFailure, out: &mut dyn EventSink) {
        let at = server_at(self.current_exchange(), self.server.offset());
        areas!(self, |area, cx| area.on_tls_failure(&mut cx, at, reason));
        let why = match reason {
            TlsFailure::PlaintextFromServer => "TLS handshake failed: the server speaks plaintext",
            TlsFailure::ServerAlert => "TLS handshake failed: the server aborted it",
            TlsFailure::ClientAborted => "TLS handshake abandoned by popscope",
        };
        self.mode = Mode::Status;
        self.transition(self.session.commands_sent, State::Closed, why, true, out);
    }

    fn server_closed(&mut self, close_notify: bool, out: &mut dyn EventSink) {
        let mut framer = std::mem::replace(&mut self.server, LineFramer::new(8));
        framer.finish_eof(|frame| {
            if let Frame::Line(line) = frame {
                self.server_line(&line, out);
            }
        });
        self.server = framer;
        let at = server_at(self.current_exchange(), self.server.offset());
        if matches!(self.mode, Mode::Body(_)) {
            if let Mode::Body(body) = &self.mode {
                areas!(self, |area, cx| area.on_close_in_body(&mut cx, body, at));
            }
            self.finish_body(false, out);
        }
        let parted = self.held.is_some();
        if let Some(h) = self.held.take() {
            let at = server_at(h.exchange, h.offset);
            areas!(self, |area, cx| area.on_farewell(&mut cx, at, h.lines));
        }
        let close = Close {
            at,
            outstanding: self.queue.front(),
            parted,
            close_notify,
        };
        areas!(self, |area, cx| area.on_server_close(&mut cx, &close));
        self.queue.clear();
        self.stls_queued = 0;
        let exchange = self.session.commands_sent;
        let reason = match self.session.state {
            State::Update => "the server closed the connection after UPDATE",
            State::Transaction => {
                "the connection closed without QUIT: no UPDATE, nothing may be deleted"
            }
            _ => "the server closed the connection",
        };
        self.transition(exchange, State::Closed, reason, true, out);
    }

    fn timeout(&mut self, out: &mut dyn EventSink) {
        self.flush_held_as_unsolicited();
        let at = server_at(self.current_exchange(), self.server.offset());
        match &self.mode {
            Mode::Body(body) => areas!(self, |area, cx| area.on_timeout_in_body(&mut cx, body, at)),
            _ => {
                let timeout = Timeout {
                    at,
                    outstanding: self.queue.front(),
                    queued: self.queue.len(),
                };
                areas!(self, |area, cx| area.on_timeout(&mut cx, &timeout));
            }
        }
        self.flush(out);
    }

    // ---------------------------------------------------------------- helpers

    /// The connection is now under TLS after plaintext: capabilities seen so far belong to
    /// the plaintext context (RFC 2595 §4: the client must discard them).
    fn upgraded_to_tls(&mut self) {
        self.session.security = Security::Stls;
        self.session.commands_since_tls = 0;
        let caps = &mut self.session.caps;
        caps.pre_tls = caps.auth.take().or(caps.pre_tls.take());
    }

    fn transition(
        &mut self,
        exchange: u32,
        to: State,
        reason: &str,
        lawful: bool,
        out: &mut dyn EventSink,
    ) {
        let from = self.session.state;
        if from == to {
            return;
        }
        self.session.state = to;
        out.event(Event::StateChange(Box::new(Transition {
            from,
            to,
            reason: reason.to_owned(),
            lawful,
            exchange,
        })));
    }

    fn flush(&mut self, out: &mut dyn EventSink) {
        if self.checker.found.is_empty() {
            return;
        }
        for f in self.checker.found.drain(..) {
            out.event(Event::Finding(Box::new(f)));
        }
    }
}
