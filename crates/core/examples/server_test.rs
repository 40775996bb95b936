//! How a POP3 server's own test suite can use popscope-core: play a session against the
//! server, feed both directions to an [`Engine`], and fail on any violation.
//!
//! The server here is a tiny in-process one, so the example runs on its own. Against a real
//! server, the driver is the same: write each command to the socket, read the reply, and hand
//! the engine the bytes of both directions as they went (the engine does no I/O itself).
//!
//! Part 1 checks a correct session and exits non-zero if the engine finds any violation.
//! Part 2 runs the same session against servers with a bug each, and shows what a finding
//! tells you: its rule ID (stable: safe to assert on), the RFC section, and a message.
//!
//! Run it with `cargo run -p popscope-core --example server_test`.

use std::process::ExitCode;

use popscope_core::sanitize::display;
use popscope_core::{Config, Engine, Event, Finding, Severity, Time, TransportEvent, plural};

/// The session a client plays: greeting, CAPA, login, STAT, LIST, RETR, QUIT.
const SCRIPT: &[&str] = &[
    "CAPA",
    "STAT",
    "USER alice",
    "PASS wonderland",
    "STAT",
    "LIST",
    "RETR 1",
    "QUIT",
];

/// The maildrop, with `\r\n` line ends. Message 1 has lines starting with `.`: on the wire
/// they must be dot-stuffed (RFC 1939 §3).
const MESSAGES: &[&str] = &[
    "From: bob@example.org\r\nSubject: dots\r\n\r\n.signature follows\r\n.\r\n-- \r\nbob\r\n",
    "From: carol@example.org\r\nSubject: hello\r\n\r\nHi Alice.\r\n",
];

/// A deliberate mistake for part 2.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bug {
    None,
    /// Answers TRANSACTION commands before login.
    StatBeforeLogin,
    /// Sends message lines starting with `.` as they are.
    NoDotStuffing,
}

/// A minimal POP3 server: just enough of RFC 1939 for [`SCRIPT`].
struct TinyServer {
    bug: Bug,
    user_ok: bool,
    logged_in: bool,
}

/// What the server does with one command line.
struct Reply {
    bytes: Vec<u8>,
    /// The server closes the connection after sending `bytes`.
    close: bool,
}

impl TinyServer {
    fn new(bug: Bug) -> Self {
        TinyServer {
            bug,
            user_ok: false,
            logged_in: false,
        }
    }

    fn greeting(&self) -> Vec<u8> {
        b"+OK tiny POP3 server ready\r\n".to_vec()
    }

    fn respond(&mut self, line: &str) -> Reply {
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        let transaction = self.logged_in || self.bug == Bug::StatBeforeLogin;
        let text = match verb.to_ascii_uppercase().as_str() {
            "CAPA" => "+OK capability list follows\r\nUSER\r\nUIDL\r\n.\r\n".to_owned(),
            "USER" if !self.logged_in => {
                self.user_ok = arg == "alice";
                if self.user_ok {
                    "+OK send PASS\r\n".to_owned()
                } else {
                    "-ERR unknown user\r\n".to_owned()
                }
            }
            "PASS" if self.user_ok && !self.logged_in => {
                self.logged_in = arg == "wonderland";
                if self.logged_in {
                    "+OK maildrop locked and ready\r\n".to_owned()
                } else {
                    "-ERR invalid password\r\n".to_owned()
                }
            }
            "STAT" if transaction => {
                let octets: usize = MESSAGES.iter().map(|m| m.len()).sum();
                format!("+OK {} {octets}\r\n", MESSAGES.len())
            }
            "LIST" if transaction => {
                let mut s = format!("+OK {} messages\r\n", MESSAGES.len());
                for (n, m) in (1..).zip(MESSAGES) {
                    s.push_str(&format!("{n} {}\r\n", m.len()));
                }
                s + ".\r\n"
            }
            "RETR" if transaction => match arg
                .parse::<usize>()
                .ok()
                .and_then(|n| n.checked_sub(1).and_then(|i| MESSAGES.get(i)))
            {
                Some(message) => {
                    let mut s = format!("+OK {} octets\r\n", message.len());
                    for l in message.split_inclusive("\r\n") {
                        if l.starts_with('.') && self.bug != Bug::NoDotStuffing {
                            s.push('.');
                        }
                        s.push_str(l);
                    }
                    s + ".\r\n"
                }
                None => "-ERR no such message\r\n".to_owned(),
            },
            "QUIT" => {
                return Reply {
                    bytes: b"+OK bye\r\n".to_vec(),
                    close: true,
                };
            }
            _ => "-ERR command not valid now\r\n".to_owned(),
        };
        Reply {
            bytes: text.into_bytes(),
            close: false,
        }
    }
}

/// Plays [`SCRIPT`] against `server`, feeding both directions to an engine as a test
/// harness would, and returns every finding.
fn check(server: &mut TinyServer) -> Vec<Finding> {
    let mut engine = Engine::new(Config::default());
    let mut findings = Vec::new();
    // Only findings are kept here; a harness could also assert on replies or transitions.
    let mut sink = |event: Event<'_>| {
        if let Event::Finding(f) = event {
            findings.push(*f);
        }
    };
    // The engine reads no clock: the harness says when each thing happened.
    let mut clock = (0u64..).map(|ms| Time(ms * 1000));
    let mut now = || clock.next().unwrap_or_default();

    engine.handle_server(now(), &server.greeting(), &mut sink);
    for line in SCRIPT {
        engine.handle_client(now(), format!("{line}\r\n").as_bytes(), &mut sink);
        let reply = server.respond(line);
        engine.handle_server(now(), &reply.bytes, &mut sink);
        if reply.close {
            let closed = TransportEvent::ServerClosed {
                close_notify: false,
            };
            engine.handle_transport(now(), closed, &mut sink);
            break;
        }
    }
    findings
}

/// One finding as a person reads it. The message may quote server bytes: it goes through
/// the sanitizer like anything else from the network.
fn show(f: &Finding) {
    println!(
        "  {} {} {} ({}, exchange {}): {}",
        f.severity.marker(),
        f.severity.as_str(),
        f.rule.id,
        f.rule.rfc,
        f.at.exchange,
        display(f.message.as_bytes(), 400)
    );
}

fn main() -> ExitCode {
    // Part 1: what a server's test asserts, no violation in a normal session.
    println!("A correct server:");
    let findings = check(&mut TinyServer::new(Bug::None));
    findings.iter().for_each(show);
    let violations = findings
        .iter()
        .filter(|f| f.severity == Severity::Violation)
        .count();
    if violations > 0 {
        println!("FAIL: {violations} violation(s)");
        return ExitCode::FAILURE;
    }
    println!(
        "  no violation ({} in all)\n",
        plural(findings.len(), "finding")
    );

    // Part 2: the same check catches a broken server, by rule ID.
    let broken = [
        (Bug::StatBeforeLogin, "answers STAT before login", "ST-001"),
        (Bug::NoDotStuffing, "does not dot-stuff RETR", "ML-002"),
    ];
    for (bug, what, rule) in broken {
        println!("A server that {what}:");
        let findings = check(&mut TinyServer::new(bug));
        let caught: Vec<&Finding> = findings.iter().filter(|f| f.rule.id == rule).collect();
        caught.iter().copied().for_each(show);
        if !caught.iter().any(|f| f.severity == Severity::Violation) {
            println!("FAIL: expected a {rule} violation");
            return ExitCode::FAILURE;
        }
        println!();
    }
    println!("ok");
    ExitCode::SUCCESS
}
