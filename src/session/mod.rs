//! The async session driver: owns the connection and the engine, sends commands, and reports
//! wire bytes and engine events to an [`Observer`]. Every octet read goes through the engine;
//! the driver decides that a reply is complete only from the engine's events.
//!
//! Reads go into a buffer the driver owns and are fed to the engine at once, so a timeout or a
//! cancelled read loses nothing.
//!
//! Deadlines (`--timeout`, the `read_timeout` of [`ConnectOptions`]): a reply's status line
//! (and the greeting, and a whole single-line reply) must be complete within the timeout from
//! the moment the command was sent, however the octets trickle in. A multi-line body may take
//! longer while it flows: when a window of one timeout ends and at least [`BODY_PROGRESS`]
//! (64 KiB) of the body arrived in it, another window begins; so a body must come at 64 KiB
//! per timeout at least (a drip of an octet a second cannot keep it alive). Message bodies
//! (RETR, TOP) may go on like that as long as they flow (memory is bounded); LIST and UIDL
//! listings get at most [`LISTING_WINDOWS`] more windows; every other multi-line reply (CAPA,
//! LANG, the AUTH list, an unknown command's) must be whole within one timeout, so an endless
//! CAPA ends. The deadline is checked before every read, as data that is always ready would
//! never let a read time out. Every write has the same deadline: a server that stops reading
//! ends the session instead of blocking it.

pub mod login;
pub mod logins;
pub mod secure;
pub mod task;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::transport::{self, Scheme, Stream, Target, TlsDetails, TlsSettings, TransportError};
use popscope_core::{
    Command, Config, Direction, Engine, Event, EventSink, Keyword, Reply, Status, Time,
    TransportEvent,
};

/// How to reach the server.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub target: Target,
    pub scheme: Scheme,
    pub(crate) tls: TlsSettings,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) engine: Config,
}

/// Transport facts worth showing.
#[derive(Clone, Debug)]
pub enum Note {
    Connected {
        addr: String,
    },
    Tls(Box<TlsDetails>),
    Transport(TransportEvent),
    /// Something the user should know before it happens (one line, no server bytes): a
    /// password about to go in the clear ([`login::login`]).
    Warning(String),
}

/// Sees everything the session does, in order.
pub trait Observer: Send {
    /// Octets as they crossed the wire (client octets include secrets: redact before showing).
    fn wire(&mut self, _at: Time, _dir: Direction, _bytes: &[u8]) {}
    fn note(&mut self, _at: Time, _note: &Note) {}
    fn event(&mut self, _at: Time, _event: &Event<'_>) {}
    /// The engine has processed everything handed to it so far (called after each read and
    /// each write), so every event for those octets has been seen.
    fn settled(&mut self, _at: Time) {}
}

/// Several observers, each seeing everything in order.
pub(crate) struct Tee(pub Vec<Box<dyn Observer>>);

impl Observer for Tee {
    fn wire(&mut self, at: Time, dir: Direction, bytes: &[u8]) {
        for o in &mut self.0 {
            o.wire(at, dir, bytes);
        }
    }
    fn note(&mut self, at: Time, note: &Note) {
        for o in &mut self.0 {
            o.note(at, note);
        }
    }
    fn event(&mut self, at: Time, ev: &Event<'_>) {
        for o in &mut self.0 {
            o.event(at, ev);
        }
    }
    fn settled(&mut self, at: Time) {
        for o in &mut self.0 {
            o.settled(at);
        }
    }
}

/// What one exchange produced.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub exchange: u32,
    pub reply: Option<Reply>,
    /// A SASL challenge's base64 payload, when the server asked for more.
    pub(crate) challenge: Option<Vec<u8>>,
    /// Data lines, up to the limit asked for.
    pub(crate) lines: Vec<Vec<u8>>,
    pub(crate) line_count: u64,
    pub(crate) octets: u64,
    /// The multi-line reply ended with its terminator.
    pub(crate) complete: bool,
    pub(crate) timed_out: bool,
    pub(crate) closed: bool,
    /// Why a bearer token was refused, when the server said it in an error challenge (the
    /// line [`login::login`] also gives the observer as a warning).
    pub(crate) token_refusal: Option<String>,
    /// Octets read while waiting for this exchange, and the first of them (to say what
    /// arrived when the answer was not whole in time).
    pub(crate) received: u64,
    pub(crate) received_start: Vec<u8>,
    /// How long the wait lasted, when it timed out (a flowing body gets more than one window).
    pub(crate) waited: Duration,
}

impl Outcome {
    pub(crate) fn ok(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.status == Status::Ok)
    }
    pub(crate) fn text(&self) -> String {
        self.reply
            .as_ref()
            .map(|r| popscope_core::sanitize::display(&r.text, 200))
            .unwrap_or_default()
    }

    /// The error for a wait that timed out: what was awaited, and what arrived so far.
    pub(crate) fn timeout_error(
        &self,
        what: impl Into<String>,
        secs: u64,
        hint: &str,
    ) -> TransportError {
        let secs = secs.max(self.waited.as_secs_f64().round() as u64);
        TransportError::late(what, secs, self.received, &self.received_start, hint)
    }

    fn took(&mut self, bytes: &[u8]) {
        self.received += bytes.len() as u64;
        let room = SAMPLE.saturating_sub(self.received_start.len());
        self.received_start
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// How many of the first octets of an incomplete answer are kept to show.
const SAMPLE: usize = 64;

/// Octets of a multi-line body that must arrive in a window for another window to begin.
pub(crate) const BODY_PROGRESS: u64 = 64 * 1024;

/// How many more windows a LIST or UIDL listing may get.
pub(crate) const LISTING_WINDOWS: u32 = 10;

/// How many more windows a reply may get while its body flows.
fn restarts(keyword: Keyword) -> u32 {
    match keyword {
        Keyword::Retr | Keyword::Top => u32::MAX,
        Keyword::List | Keyword::Uidl => LISTING_WINDOWS,
        _ => 0,
    }
}

/// One live POP3 connection and the engine that judges it: every octet written or read goes
/// through the engine (and to the observer) before a caller sees the outcome. A reply is
/// awaited no longer than the read timeout, extended while a body keeps arriving
/// ([`BODY_PROGRESS`]). Once the server closes, a write fails or TLS breaks, the engine has
/// been told and [`Connection::is_closed`] is true. [`Connection::quit`] ends the session
/// politely; [`Connection::close`] ends it from our side and tells the engine.
pub struct Connection {
    stream: Option<Stream>,
    engine: Engine,
    observer: Box<dyn Observer>,
    start: Instant,
    read_timeout: Duration,
    host: String,
    /// The server's port (OAUTHBEARER's `port=`).
    pub(crate) port: u16,
    /// The URL as the user gave it (scheme, host, port), for messages.
    url: String,
    tls_settings: TlsSettings,
    pub(crate) tls: Option<TlsDetails>,
    closed: bool,
    chunk: Vec<u8>,
    /// The last command sent with [`Connection::command`]: its exchange and keyword (how
    /// long its reply may take).
    sent: Option<(u32, Keyword)>,
    pub(crate) timings: Timings,
}

/// How long the steps of one connection took: what a monitoring system graphs (`check
/// --nagios` performance data). A step not taken stays `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timings {
    pub connect: Option<Duration>,
    /// The handshake: at once on pop3s, after STLS otherwise.
    pub tls: Option<Duration>,
    /// From connected (and TLS on pop3s) to the whole greeting.
    pub greeting: Option<Duration>,
    /// The login's commands, to TRANSACTION or its refusal (the walk measures it).
    pub login: Option<Duration>,
}

/// Passes engine events to the observer and watches for the end of one exchange.
struct Watch<'a> {
    observer: &'a mut dyn Observer,
    at: Time,
    want: u32,
    collect: usize,
    out: &'a mut Outcome,
    done: &'a mut bool,
}

impl EventSink for Watch<'_> {
    fn event(&mut self, ev: Event<'_>) {
        self.observer.event(self.at, &ev);
        match &ev {
            Event::Reply(r) if r.exchange == self.want => {
                self.out.reply = Some((**r).clone());
                if !r.multiline {
                    *self.done = true;
                }
            }
            Event::Challenge { exchange, payload } if *exchange == self.want => {
                self.out.challenge = Some(payload.clone());
                *self.done = true;
            }
            Event::BodyLine { exchange, line } if *exchange == self.want => {
                self.out.line_count += 1;
                if self.out.lines.len() < self.collect {
                    self.out.lines.push(line.to_vec());
                }
            }
            Event::BodyEnd(end) if end.exchange == self.want => {
                self.out.octets = end.octets;
                self.out.complete = end.complete;
                *self.done = true;
            }
            _ => {}
        }
    }
}

impl Connection {
    /// Connects (with the TLS handshake for pop3s) and reads the greeting.
    pub async fn open(
        opts: &ConnectOptions,
        observer: Box<dyn Observer>,
    ) -> Result<(Connection, Outcome), TransportError> {
        let implicit = opts.scheme == Scheme::Pop3s;
        let port = opts.target.port_or_default(opts.scheme);
        let mut engine_cfg = opts.engine.clone();
        engine_cfg.implicit_tls = implicit;
        let mut c = Connection {
            stream: None,
            engine: Engine::new(engine_cfg),
            observer,
            start: Instant::now(),
            read_timeout: opts.read_timeout,
            host: opts.target.host.clone(),
            port,
            url: opts.target.url(opts.scheme),
            tls_settings: opts.tls.clone(),
            tls: None,
            closed: false,
            chunk: vec![0u8; 64 * 1024],
            sent: None,
            timings: Timings::default(),
        };
        let started = Instant::now();
        let tcp = transport::connect_tcp(&opts.target, port, opts.connect_timeout).await?;
        c.timings.connect = Some(started.elapsed());
        let addr = opts.target.socket_addr(port);
        c.observer.note(c.now(), &Note::Connected { addr });
        let stream = if implicit {
            let started = Instant::now();
            match transport::handshake(tcp, &c.host, &c.tls_settings, opts.connect_timeout).await {
                Ok((s, details)) => {
                    c.timings.tls = Some(started.elapsed());
                    c.tls_done(&details);
                    s
                }
                Err(e) => {
                    c.tls_failed(&e);
                    return Err(e);
                }
            }
        } else {
            Stream::Plain(tcp)
        };
        c.stream = Some(stream);
        let mut greeting = Outcome::default();
        let mut done = false;
        let greeting_started = Instant::now();
        let deadline = greeting_started + c.read_timeout;
        while !done {
            match c
                .read_until(deadline, 0, 0, &mut greeting, &mut done)
                .await?
            {
                ReadEnd::Data(_) => {}
                ReadEnd::Closed => {
                    return Err(TransportError::Closed {
                        context: "before sending a greeting".into(),
                    });
                }
                ReadEnd::TimedOut => {
                    // Silence, or a TLS record, on a plain connection: maybe a TLS port.
                    let tls_like = greeting.received_start.first() == Some(&0x16);
                    let hint = if !implicit && (greeting.received == 0 || tls_like) {
                        " (if this is a TLS port such as 995, use pop3s://)"
                    } else {
                        ""
                    };
                    return Err(greeting.timeout_error(
                        "waiting for the greeting",
                        c.read_timeout.as_secs(),
                        hint,
                    ));
                }
            }
        }
        c.timings.greeting = Some(greeting_started.elapsed());
        Ok((c, greeting))
    }

    fn now(&self) -> Time {
        Time(self.start.elapsed().as_micros() as u64)
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// The URL this connection was opened with (`pop3://host:port`).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Tells the observer a [`Note::Warning`].
    pub(crate) fn warn(&mut self, text: String) {
        let at = self.now();
        self.observer.note(at, &Note::Warning(text));
    }

    fn tls_done(&mut self, d: &TlsDetails) {
        let at = self.now();
        self.observer.note(at, &Note::Tls(Box::new(d.clone())));
        let ev = TransportEvent::TlsEstablished {
            cert_requested: d.cert_requested,
            client_cert: d.client_cert_sent,
        };
        self.transport_event(ev);
        self.tls = Some(d.clone());
    }

    fn tls_failed(&mut self, e: &TransportError) {
        let reason = e.tls_failure();
        self.transport_event(TransportEvent::TlsFailed { reason });
        self.closed = true;
    }

    fn transport_event(&mut self, ev: TransportEvent) {
        let at = self.now();
        self.observer.note(at, &Note::Transport(ev));
        let observer = &mut self.observer;
        let mut sink = |e: Event<'_>| observer.event(at, &e);
        self.engine.handle_transport(at, ev, &mut sink);
    }

    /// Sends raw octets as the client (one write), feeding them to the engine.
    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let at = self.now();
        self.observer.wire(at, Direction::Client, bytes);
        {
            let observer = &mut self.observer;
            let mut sink = |e: Event<'_>| observer.event(at, &e);
            self.engine.handle_client(at, bytes, &mut sink);
            observer.settled(at);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(TransportError::Closed {
                context: "before the command could be sent".into(),
            });
        };
        let written = write_within(stream, bytes, self.read_timeout).await;
        if written.is_err() {
            // Part of a command may have gone: nothing more can be sent on this connection.
            self.stream = None;
            if !self.closed {
                self.closed = true;
                self.transport_event(TransportEvent::ClientClosed);
            }
        }
        written
    }

    /// Sends one command line (CRLF appended) and waits for its whole reply.
    pub(crate) async fn command(
        &mut self,
        line: &[u8],
        collect: usize,
    ) -> Result<Outcome, TransportError> {
        // A SASL response may be a credential: the copy is wiped too.
        let mut bytes = zeroize::Zeroizing::new(line.to_vec());
        bytes.extend_from_slice(b"\r\n");
        self.send_raw(&bytes).await?;
        let id = self.engine.session().commands_sent;
        self.sent = Some((id, Command::parse(line, 0).keyword));
        self.await_exchange(id, collect).await
    }

    /// Sends a line inside a SASL exchange (a response, not a command) and waits for the reply.
    pub(crate) async fn sasl_response(
        &mut self,
        exchange: u32,
        line: &[u8],
    ) -> Result<Outcome, TransportError> {
        let mut bytes = line.to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.send_raw(&bytes).await?;
        self.await_exchange(exchange, 0).await
    }

    /// Ends a SASL exchange the server still waits in (`+ ` challenge) with the cancel line `*`
    /// (RFC 5034 §4): the server answers `-ERR` and the session is back in AUTHORIZATION. A
    /// server that challenges again has left the protocol: the connection is closed (with a
    /// warning), or every later line would be taken for a SASL response, without end.
    pub(crate) async fn cancel_sasl(&mut self, exchange: u32) -> Result<Outcome, TransportError> {
        let out = self.sasl_response(exchange, b"*").await?;
        if out.challenge.is_some() && !self.closed {
            self.warn(
                "the server answered the SASL cancel '*' with another challenge instead of -ERR (RFC 5034 §4): the connection was closed".into(),
            );
            self.close().await;
        }
        Ok(out)
    }

    /// Reads until exchange `id` is answered, the server closes, or its deadline passes (see
    /// the module documentation).
    pub(crate) async fn await_exchange(
        &mut self,
        id: u32,
        collect: usize,
    ) -> Result<Outcome, TransportError> {
        let mut out = Outcome {
            exchange: id,
            ..Outcome::default()
        };
        let mut restarts_left = match self.sent {
            Some((x, k)) if x == id => restarts(k),
            _ => 0,
        };
        let started = Instant::now();
        let mut deadline = started + self.read_timeout;
        let mut flowed = 0u64;
        let mut done = false;
        while !done {
            match self
                .read_until(deadline, id, collect, &mut out, &mut done)
                .await?
            {
                ReadEnd::Data(n) => {
                    // Only a body's flow counts: the status line has come.
                    if out.reply.as_ref().is_some_and(|r| r.multiline) {
                        flowed += n as u64;
                    }
                }
                ReadEnd::Closed => {
                    out.closed = true;
                    break;
                }
                // A window passed with the body flowing well enough: another window.
                ReadEnd::TimedOut if flowed >= BODY_PROGRESS && restarts_left > 0 => {
                    flowed = 0;
                    restarts_left -= 1;
                    deadline += self.read_timeout;
                }
                ReadEnd::TimedOut => {
                    out.timed_out = true;
                    out.waited = started.elapsed();
                    self.transport_event(TransportEvent::Timeout);
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Waits up to `wait` for unsolicited server data (probes), feeding whatever comes.
    pub(crate) async fn linger(&mut self, wait: Duration) -> Result<bool, TransportError> {
        let mut out = Outcome::default();
        let mut done = false;
        let r = self
            .read_until(Instant::now() + wait, u32::MAX, 0, &mut out, &mut done)
            .await;
        Ok(matches!(r?, ReadEnd::Data(_)))
    }

    /// Reads what the server sends while no command is outstanding: an unsolicited line, a
    /// parting line, a flood after QUIT, the close. Returns false once the connection is
    /// closed. Cancel-safe (the read is the only await), so a UI can drop it to send a command.
    pub(crate) async fn read_idle(&mut self) -> Result<bool, TransportError> {
        let mut out = Outcome::default();
        let mut done = false;
        match self
            .read_until(Instant::now() + IDLE_WAIT, u32::MAX, 0, &mut out, &mut done)
            .await
        {
            Ok(end) => Ok(!matches!(end, ReadEnd::Closed)),
            Err(e) => {
                // A broken connection is not read again.
                if !self.closed {
                    self.server_closed(false);
                }
                Err(e)
            }
        }
    }

    /// One read, given up at `deadline`.
    async fn read_until(
        &mut self,
        deadline: Instant,
        want: u32,
        collect: usize,
        out: &mut Outcome,
        done: &mut bool,
    ) -> Result<ReadEnd, TransportError> {
        if self.closed {
            return Ok(ReadEnd::Closed);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(ReadEnd::Closed);
        };
        let tls = stream.is_tls();
        // A timeout polls the read first: data that is always ready would never time out.
        if Instant::now() >= deadline {
            return Ok(ReadEnd::TimedOut);
        }
        let read = tokio::time::timeout_at(deadline, stream.read(&mut self.chunk)).await;
        let n = match read {
            Err(_) => return Ok(ReadEnd::TimedOut),
            Ok(Ok(n)) => n,
            Ok(Err(e)) if tls && e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.server_closed(false);
                return Ok(ReadEnd::Closed);
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                self.server_closed(false);
                return Ok(ReadEnd::Closed);
            }
            Ok(Err(e)) if tls && e.kind() == std::io::ErrorKind::InvalidData => {
                // The recording ends the way the connection did: no close_notify.
                self.server_closed(false);
                return Err(transport::explain_session_error(&e));
            }
            Ok(Err(e)) => return Err(TransportError::io("reading", e)),
        };
        if n == 0 {
            self.server_closed(true);
            return Ok(ReadEnd::Closed);
        }
        let at = self.now();
        let bytes = &self.chunk[..n];
        out.took(bytes);
        self.observer.wire(at, Direction::Server, bytes);
        let mut watch = Watch {
            observer: self.observer.as_mut(),
            at,
            want,
            collect,
            out,
            done,
        };
        self.engine.handle_server(at, bytes, &mut watch);
        self.observer.settled(at);
        Ok(ReadEnd::Data(n))
    }

    fn server_closed(&mut self, clean: bool) {
        self.closed = true;
        self.transport_event(TransportEvent::ServerClosed {
            close_notify: clean,
        });
    }

    /// STLS, then the handshake. Plaintext the server sends after its `+OK` is read for a
    /// moment and handed to the engine (which drops it and reports TLS-003), never to TLS.
    pub(crate) async fn starttls(&mut self) -> Result<Outcome, TransportError> {
        let out = self.command(b"STLS", 0).await?;
        if !out.ok() {
            return Ok(out);
        }
        self.upgrade().await?;
        Ok(out)
    }

    /// The handshake after an accepted STLS (or after a probe sent STLS itself).
    pub(crate) async fn upgrade(&mut self) -> Result<(), TransportError> {
        self.linger(Duration::from_millis(50)).await?;
        let Some(Stream::Plain(tcp)) = self.stream.take() else {
            return Err(TransportError::StartTls(
                "the connection is not plaintext".into(),
            ));
        };
        let started = Instant::now();
        match transport::handshake(tcp, &self.host, &self.tls_settings, self.read_timeout).await {
            Ok((s, details)) => {
                self.timings.tls = Some(started.elapsed());
                self.stream = Some(s);
                self.tls_done(&details);
                Ok(())
            }
            Err(e) => {
                self.tls_failed(&e);
                Err(e)
            }
        }
    }

    /// QUIT, then wait for the server to close.
    pub(crate) async fn quit(&mut self) -> Result<Outcome, TransportError> {
        let out = self.command(b"QUIT", 0).await?;
        // The close is awaited for at most 5 s in all (a flood or a drip cannot hold it).
        let deadline = Instant::now() + self.read_timeout.min(Duration::from_secs(5));
        let mut o = Outcome::default();
        let mut done = false;
        while !self.closed {
            match self
                .read_until(deadline, u32::MAX, 0, &mut o, &mut done)
                .await
            {
                Ok(ReadEnd::Data(_)) => {}
                Ok(ReadEnd::TimedOut) => {
                    self.transport_event(TransportEvent::Timeout);
                    break;
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Closes from our side.
    pub async fn close(&mut self) {
        if let Some(mut s) = self.stream.take() {
            let _ = s.shutdown().await;
        }
        if !self.closed {
            self.closed = true;
            self.transport_event(TransportEvent::ClientClosed);
        }
    }
}

/// Writes all of `bytes` and flushes, within `timeout` in all: a server that does not read
/// cannot block the session (the error says how much it took).
async fn write_within(
    stream: &mut Stream,
    bytes: &[u8],
    timeout: Duration,
) -> Result<(), TransportError> {
    let deadline = Instant::now() + timeout;
    let late = |sent: usize| TransportError::WriteTimeout {
        secs: timeout.as_secs(),
        sent: sent as u64,
        total: bytes.len() as u64,
    };
    let mut sent = 0;
    while sent < bytes.len() {
        match tokio::time::timeout_at(deadline, stream.write(&bytes[sent..])).await {
            Err(_) => return Err(late(sent)),
            Ok(Ok(0)) => {
                return Err(TransportError::io(
                    "sending",
                    std::io::ErrorKind::WriteZero.into(),
                ));
            }
            Ok(Ok(n)) => sent += n,
            Ok(Err(e)) => return Err(TransportError::io("sending", e)),
        }
    }
    match tokio::time::timeout_at(deadline, stream.flush()).await {
        Err(_) => Err(late(sent)),
        Ok(r) => r.map_err(|e| TransportError::io("sending", e)),
    }
}

/// How long an idle read waits before it is simply started again (no timeout is reported:
/// silence between commands is normal).
const IDLE_WAIT: Duration = Duration::from_secs(3600);

enum ReadEnd {
    /// This many octets came.
    Data(usize),
    Closed,
    TimedOut,
}
