//! The async session driver: owns the connection and the engine, sends commands, and reports
//! wire bytes and engine events to an [`Observer`]. Every octet read goes through the engine;
//! the driver decides that a reply is complete only from the engine's events.
//!
//! Reads go into a buffer the driver owns and are fed to the engine at once, so a timeout or a
//! cancelled read loses nothing.

pub mod login;
pub mod task;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use crate::protocol::{
    Config, Direction, Engine, Event, EventSink, Reply, Status, Time, TlsFailure, TransportEvent,
};
use crate::transport::{self, Scheme, Stream, Target, TlsDetails, TlsSettings, TransportError};

/// How to reach the server.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub target: Target,
    pub scheme: Scheme,
    pub tls: TlsSettings,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub engine: Config,
}

/// Transport facts worth showing.
#[derive(Clone, Debug)]
pub enum Note {
    Connected { addr: String },
    Tls(Box<TlsDetails>),
    Transport(TransportEvent),
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
pub struct Tee(pub Vec<Box<dyn Observer>>);

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

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// What one exchange produced.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub exchange: u32,
    pub reply: Option<Reply>,
    /// A SASL challenge's base64 payload, when the server asked for more.
    pub challenge: Option<Vec<u8>>,
    /// Data lines, up to the limit asked for.
    pub lines: Vec<Vec<u8>>,
    pub line_count: u64,
    pub octets: u64,
    /// The multi-line reply ended with its terminator.
    pub complete: bool,
    pub timed_out: bool,
    pub closed: bool,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.status == Status::Ok)
    }
    pub fn text(&self) -> String {
        self.reply
            .as_ref()
            .map(|r| crate::sanitize::display(&r.text, 200))
            .unwrap_or_default()
    }
}

pub struct Connection {
    stream: Option<Stream>,
    engine: Engine,
    observer: Box<dyn Observer>,
    start: Instant,
    read_timeout: Duration,
    host: String,
    tls_settings: TlsSettings,
    pub tls: Option<TlsDetails>,
    closed: bool,
    chunk: Vec<u8>,
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
            Event::BodyEnd {
                exchange,
                octets,
                complete,
                ..
            } if *exchange == self.want => {
                self.out.octets = *octets;
                self.out.complete = *complete;
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
            tls_settings: opts.tls.clone(),
            tls: None,
            closed: false,
            chunk: vec![0u8; 64 * 1024],
        };
        let tcp = transport::connect_tcp(&opts.target, port, opts.connect_timeout).await?;
        let addr = opts.target.socket_addr(port);
        c.observer.note(c.now(), &Note::Connected { addr });
        let stream = if implicit {
            match transport::handshake(tcp, &c.host, &c.tls_settings, opts.connect_timeout).await {
                Ok((s, details)) => {
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
        while !done {
            match c.read_some(0, 0, &mut greeting, &mut done).await? {
                ReadEnd::Data => {}
                ReadEnd::Closed => {
                    return Err(TransportError::Closed {
                        context: "before sending a greeting".into(),
                    });
                }
                ReadEnd::TimedOut => {
                    let hint = if implicit {
                        String::new()
                    } else {
                        " (if this is a TLS port such as 995, use pop3s://)".to_owned()
                    };
                    return Err(TransportError::ReadTimeout {
                        what: "waiting for the greeting".into(),
                        secs: c.read_timeout.as_secs(),
                        hint,
                    });
                }
            }
        }
        Ok((c, greeting))
    }

    fn now(&self) -> Time {
        Time(self.start.elapsed().as_micros() as u64)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn is_closed(&self) -> bool {
        self.closed
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
        let reason = match e {
            TransportError::PlaintextOnTlsPort { .. } => TlsFailure::PlaintextFromServer,
            TransportError::Certificate(_) => TlsFailure::ClientAborted,
            _ => TlsFailure::ServerAlert,
        };
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
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
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
        stream
            .write_all(bytes)
            .await
            .map_err(|e| TransportError::io("sending", e))?;
        stream
            .flush()
            .await
            .map_err(|e| TransportError::io("sending", e))
    }

    /// Sends one command line (CRLF appended) and waits for its whole reply.
    pub async fn command(
        &mut self,
        line: &[u8],
        collect: usize,
    ) -> Result<Outcome, TransportError> {
        let mut bytes = line.to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.send_raw(&bytes).await?;
        let id = self.engine.session().commands_sent;
        self.await_exchange(id, collect).await
    }

    /// Sends a line inside a SASL exchange (a response, not a command) and waits for the reply.
    pub async fn sasl_response(
        &mut self,
        exchange: u32,
        line: &[u8],
    ) -> Result<Outcome, TransportError> {
        let mut bytes = line.to_vec();
        bytes.extend_from_slice(b"\r\n");
        self.send_raw(&bytes).await?;
        self.await_exchange(exchange, 0).await
    }

    /// Reads until exchange `id` is answered, the server closes, or the read timeout passes.
    pub async fn await_exchange(
        &mut self,
        id: u32,
        collect: usize,
    ) -> Result<Outcome, TransportError> {
        let mut out = Outcome {
            exchange: id,
            ..Outcome::default()
        };
        let mut done = false;
        while !done {
            match self.read_some(id, collect, &mut out, &mut done).await? {
                ReadEnd::Data => {}
                ReadEnd::Closed => {
                    out.closed = true;
                    break;
                }
                ReadEnd::TimedOut => {
                    out.timed_out = true;
                    self.transport_event(TransportEvent::Timeout);
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Waits up to `wait` for unsolicited server data (probes), feeding whatever comes.
    pub async fn linger(&mut self, wait: Duration) -> Result<bool, TransportError> {
        let saved = self.read_timeout;
        self.read_timeout = wait;
        let mut out = Outcome::default();
        let mut done = false;
        let r = self.read_some(u32::MAX, 0, &mut out, &mut done).await;
        self.read_timeout = saved;
        Ok(matches!(r?, ReadEnd::Data))
    }

    /// Reads what the server sends while no command is outstanding: an unsolicited line, a
    /// parting line, a flood after QUIT, the close. Returns false once the connection is
    /// closed. Cancel-safe (the read is the only await), so a UI can drop it to send a command.
    pub async fn read_idle(&mut self) -> Result<bool, TransportError> {
        let mut out = Outcome::default();
        let mut done = false;
        match self
            .read_some_within(IDLE_WAIT, u32::MAX, 0, &mut out, &mut done)
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

    async fn read_some(
        &mut self,
        want: u32,
        collect: usize,
        out: &mut Outcome,
        done: &mut bool,
    ) -> Result<ReadEnd, TransportError> {
        self.read_some_within(self.read_timeout, want, collect, out, done)
            .await
    }

    async fn read_some_within(
        &mut self,
        wait: Duration,
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
        let read = tokio::time::timeout(wait, stream.read(&mut self.chunk)).await;
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
        Ok(ReadEnd::Data)
    }

    fn server_closed(&mut self, clean: bool) {
        self.closed = true;
        self.transport_event(TransportEvent::ServerClosed {
            close_notify: clean,
        });
    }

    /// STLS, then the handshake. Plaintext the server sends after its `+OK` is read for a
    /// moment and handed to the engine (which drops it and reports TLS-003), never to TLS.
    pub async fn starttls(&mut self) -> Result<Outcome, TransportError> {
        let out = self.command(b"STLS", 0).await?;
        if !out.ok() {
            return Ok(out);
        }
        self.upgrade().await?;
        Ok(out)
    }

    /// The handshake after an accepted STLS (or after a probe sent STLS itself).
    pub async fn upgrade(&mut self) -> Result<(), TransportError> {
        self.linger(Duration::from_millis(50)).await?;
        let Some(Stream::Plain(tcp)) = self.stream.take() else {
            return Err(TransportError::StartTls(
                "the connection is not plaintext".into(),
            ));
        };
        match transport::handshake(tcp, &self.host, &self.tls_settings, self.read_timeout).await {
            Ok((s, details)) => {
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
    pub async fn quit(&mut self) -> Result<Outcome, TransportError> {
        let out = self.command(b"QUIT", 0).await?;
        if !self.closed {
            let saved = self.read_timeout;
            self.read_timeout = saved.min(Duration::from_secs(5));
            let mut o = Outcome::default();
            let mut done = false;
            while !self.closed {
                match self.read_some(u32::MAX, 0, &mut o, &mut done).await {
                    Ok(ReadEnd::Data) => {}
                    Ok(ReadEnd::TimedOut) => {
                        self.transport_event(TransportEvent::Timeout);
                        break;
                    }
                    _ => break,
                }
            }
            self.read_timeout = saved;
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

/// How long an idle read waits before it is simply started again (no timeout is reported:
/// silence between commands is normal).
const IDLE_WAIT: Duration = Duration::from_secs(3600);

enum ReadEnd {
    Data,
    Closed,
    TimedOut,
}
