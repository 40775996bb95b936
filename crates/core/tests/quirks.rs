//! Every quirk of the demo server against the checking engine, in one thread: the server's
//! sans-IO side and the [`Engine`] are paired (what one side writes, the other is fed), the
//! client's part is scripted from the quirk's row, time is a counter, and a TLS handshake is
//! both sides being told it happened. No socket, no TLS, no clock: each quirk takes
//! milliseconds, where `tests/live.rs` spends seconds on the few whose point is the transport.

use popscope_core::auth::b64encode;
use popscope_core::oauth::{Mechanism, oauthbearer_message, xoauth2_message};
use popscope_core::server::{
    Login, Output, QUIRKS, QuirkInfo, ServerConfig, ServerSession, Transport, maildrop,
};
use popscope_core::{Config, Engine, Event, Finding, Severity, Time, TransportEvent, probes};

const USER: &str = "demo";
const TOKEN: &str = "demo-token";
/// The port the simulated client connected to (OAUTHBEARER's `port=`).
const PORT: u16 = 1110;

/// The demo server and the engine watching its connection, wired back to back.
struct Pair {
    server: ServerSession,
    engine: Engine,
    /// Simulated microseconds: every delivery takes one millisecond.
    now: u64,
    client_cert: bool,
    tls: bool,
    closed: bool,
    findings: Vec<Finding>,
    /// What the server sent in answer to the client's last write.
    reply: Vec<u8>,
}

impl Pair {
    fn new(row: Option<&QuirkInfo>, transport: Transport, client_cert: bool) -> Pair {
        let server = ServerSession::new(
            ServerConfig {
                user: USER.into(),
                password: USER.into(),
                token: TOKEN.into(),
                port: Some(PORT),
                offer_stls: transport == Transport::Starttls,
                quirk: row.map(|r| r.quirk),
                timestamp: "<1.2@popscope.demo>".into(),
            },
            maildrop::sample(),
        );
        let engine = Engine::new(Config {
            implicit_tls: transport == Transport::Implicit,
            ..Config::default()
        });
        Pair {
            server,
            engine,
            now: 0,
            client_cert,
            tls: false,
            closed: false,
            findings: Vec::new(),
            reply: Vec::new(),
        }
    }

    fn tick(&mut self) -> Time {
        self.now += 1_000;
        Time(self.now)
    }

    fn keep(findings: &mut Vec<Finding>) -> impl FnMut(Event<'_>) + '_ {
        |e| {
            if let Event::Finding(f) = e {
                findings.push(*f);
            }
        }
    }

    fn transport_event(&mut self, event: TransportEvent) {
        let now = self.tick();
        self.engine
            .handle_transport(now, event, &mut Self::keep(&mut self.findings));
    }

    /// Carries out the server's outputs; true when it asked for the TLS handshake.
    fn deliver(&mut self, outputs: Vec<Output>) -> bool {
        let mut start_tls = false;
        for output in outputs {
            match output {
                Output::Send(bytes) => {
                    self.reply.extend_from_slice(&bytes);
                    let now = self.tick();
                    self.engine
                        .handle_server(now, &bytes, &mut Self::keep(&mut self.findings));
                }
                Output::StartTls => start_tls = true,
                Output::Commit(_) => {}
                Output::Close => {
                    self.closed = true;
                    // rustls sends close_notify when the demo shuts a TLS connection down.
                    let close_notify = self.tls;
                    self.transport_event(TransportEvent::ServerClosed { close_notify });
                }
            }
        }
        start_tls
    }

    /// The handshake completed on both sides (the demo always asks for a client certificate);
    /// the server's answers to what came behind STLS, if it answers, go to the engine.
    fn handshake(&mut self) {
        self.tls = true;
        let cn = self.client_cert.then(|| USER.to_owned());
        let behind_stls = self.server.on_tls(cn);
        self.transport_event(TransportEvent::TlsEstablished {
            cert_requested: true,
            client_cert: self.client_cert,
        });
        self.deliver(behind_stls);
    }

    fn greet(&mut self) {
        let greeting = self.server.greeting();
        self.deliver(vec![Output::Send(greeting)]);
    }

    /// The client writes `bytes` in one go; both the engine and the server get them.
    fn write(&mut self, bytes: &[u8]) {
        if self.closed {
            return;
        }
        let now = self.tick();
        self.reply.clear();
        self.engine
            .handle_client(now, bytes, &mut Self::keep(&mut self.findings));
        let outputs = self.server.receive(bytes);
        if self.deliver(outputs) {
            self.handshake();
        }
    }

    fn send(&mut self, command: &str) {
        self.write(format!("{command}\r\n").as_bytes());
    }

    fn replied(&self, start: &str) -> bool {
        self.reply.starts_with(start.as_bytes())
    }
}

/// A bearer-token client message in base64: `token` for `mechanism`, or with an empty token
/// the request for the error challenge.
fn token_response(mechanism: Mechanism, token: &str) -> String {
    let raw = match mechanism {
        Mechanism::OauthBearer => {
            oauthbearer_message(USER.as_bytes(), b"127.0.0.1", PORT, token.as_bytes())
        }
        Mechanism::XOauth2 => xoauth2_message(USER.as_bytes(), token.as_bytes()),
    };
    b64encode(&raw.unwrap_or_else(|e| panic!("{e}")))
}

/// Probe P24 as rules.md §4 has it: for each mechanism, a message with an empty `auth=` (RFC
/// 7628 §4.3: how a client asks for the scope) and, after a challenge, the dummy response.
fn p24_scope_request(p: &mut Pair) {
    for mechanism in [Mechanism::OauthBearer, Mechanism::XOauth2] {
        let request = token_response(mechanism, "");
        p.send(&format!("AUTH {} {request}", mechanism.name()));
        if p.replied("+ ") {
            p.send(mechanism.dummy_line());
        }
    }
}

/// The demo token by OAUTHBEARER in the two-line form and, if that is refused, on the AUTH
/// line: probe P25's two forms, on one connection (the walk gives each its own; the engine
/// judges a refused two-line form from that connection alone).
fn token_login(p: &mut Pair) {
    let response = token_response(Mechanism::OauthBearer, TOKEN);
    p.send("AUTH OAUTHBEARER");
    if p.replied("+ ") {
        p.send(&response);
    }
    if !p.replied("+OK") {
        p.send(&format!("AUTH OAUTHBEARER {response}"));
    }
    assert!(p.replied("+OK"), "{}", String::from_utf8_lossy(&p.reply));
}

/// One connection as the walk goes: TLS as the row says, CAPA, STLS (the P8 injection for the
/// quirk it shows), probe P1 before the login, the row's login, the transaction commands, the
/// row's extra commands, RSET and QUIT. The rule IDs of every finding, with their severity.
fn session(row: Option<&QuirkInfo>, transport: Transport) -> Vec<(&'static str, Severity)> {
    session_logging_in(row, transport, row.map_or(Login::Password, |r| r.login))
}

/// [`session`], logging in by `login`.
fn session_logging_in(
    row: Option<&QuirkInfo>,
    transport: Transport,
    login: Login,
) -> Vec<(&'static str, Severity)> {
    let client_cert = row.is_some_and(|r| r.client_cert);
    let mut p = Pair::new(row, transport, client_cert);
    if transport == Transport::Implicit {
        p.handshake();
    }
    p.greet();
    p.send("CAPA");
    if transport == Transport::Starttls {
        if row.is_some_and(|r| r.injection_probe) {
            p.write(probes::P8_INJECTION);
        } else {
            p.send("STLS");
        }
        // RFC 2595 §4: the capabilities are asked again under TLS, as the walk does.
        p.send("CAPA");
    }
    let offers_tokens = p.replied("+OK") && p.reply.windows(11).any(|w| w == b"OAUTHBEARER");
    for command in probes::P1_BEFORE_LOGIN {
        p.send(command);
    }
    if p.tls && offers_tokens {
        p24_scope_request(&mut p);
    }
    match login {
        Login::Password => {
            p.send(&format!("USER {USER}"));
            p.send(&format!("PASS {USER}"));
        }
        Login::External => p.send("AUTH EXTERNAL ="),
        Login::Token => token_login(&mut p),
    }
    for command in ["CAPA", "STAT", "LIST", "UIDL"]
        .into_iter()
        .chain(probes::P13_COMPARE)
        .chain(["RETR 1", "RETR 2", "RETR 3", "NOOP"])
        .chain(row.map_or(&[][..], |r| r.extra).iter().copied())
        .chain(["RSET", "QUIT"])
    {
        p.send(command);
    }
    // The walk is popscope's own client, whose probes break client rules on purpose (P1 is
    // CL-002): only the server is judged here.
    let mut ids: Vec<_> = p
        .findings
        .iter()
        .filter(|f| !f.rule.judges_client())
        .map(|f| (f.rule.id, f.severity))
        .collect();
    ids.sort_unstable_by_key(|(id, _)| *id);
    ids.dedup();
    ids
}

#[test]
fn every_quirk_fires_its_rules_against_the_paired_engine() {
    let mut missed = Vec::new();
    for row in QUIRKS {
        let fired = session(Some(row), row.transport);
        for rule in row.expected_rules {
            if !fired.iter().any(|(id, _)| id == rule) {
                missed.push(format!("{}: expected {rule}, got {fired:?}", row.name));
            }
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// No violation and no warning (info findings describe the server, they do not fault it).
#[test]
fn the_conformant_server_fires_nothing_on_any_transport() {
    let faults = |transport| -> Vec<_> {
        session(None, transport)
            .into_iter()
            .filter(|(_, severity)| *severity != Severity::Info)
            .collect()
    };
    for transport in [Transport::Starttls, Transport::Implicit] {
        assert_eq!(faults(transport), [], "{transport:?}");
    }
    // Without TLS the one fault is that passwords are offered in the clear.
    assert_eq!(faults(Transport::Plain), [("USR-002", Severity::Warning)]);
}

/// Under TLS the demo token logs in on its own line, and nothing is faulted.
#[test]
fn a_token_login_to_the_conformant_server_fires_nothing() {
    for transport in [Transport::Starttls, Transport::Implicit] {
        let faults: Vec<_> = session_logging_in(None, transport, Login::Token)
            .into_iter()
            .filter(|(_, severity)| *severity != Severity::Info)
            .collect();
        assert_eq!(faults, [], "{transport:?}");
    }
}
