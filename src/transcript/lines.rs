//! Walking a transcript line by line with the engine beside it: which exchange each line
//! belongs to (for the numbers in an evidence bundle), and the line with its secrets masked
//! (PASS, APOP, AUTH and every SASL response), exactly as a recording would have kept it.

use std::borrow::Cow;

use popscope_core::{Config, Engine, Event, Time, TransportEvent};

/// The engine and the SASL state of a session being walked.
pub(crate) struct LineWalker {
    engine: Engine,
    now: Time,
    redact: bool,
    /// The exchange and mechanism of the AUTH command awaiting its reply.
    pending_mechanism: Option<(u32, String)>,
    /// The mechanism whose challenge is open: the next client line is a SASL response.
    sasl: Option<String>,
    exchange: u32,
}

/// One line as the walker shows it.
pub(crate) struct Shown<'a> {
    pub(crate) bytes: Cow<'a, [u8]>,
    /// The exchange it belongs to (0 is the greeting).
    pub(crate) exchange: u32,
    pub(crate) redacted: bool,
}

impl LineWalker {
    /// `redact`: mask secrets in client lines.
    pub(crate) fn new(redact: bool) -> LineWalker {
        LineWalker {
            engine: Engine::new(Config::default()),
            now: Time::default(),
            redact,
            pending_mechanism: None,
            sasl: None,
            exchange: 0,
        }
    }

    /// Feeds one line (with its line end, if any) from the client or the server.
    pub(crate) fn line<'a>(&mut self, client: bool, line: &'a [u8]) -> Shown<'a> {
        self.now = Time(self.now.0.saturating_add(1_000));
        let mut shown = Cow::Borrowed(line);
        let mut redacted = false;
        if client && self.redact {
            let (text, end) = split_end(line);
            if let Some(r) = popscope_core::redact::client_line(text, self.sasl.as_deref()) {
                let mut v = r;
                v.extend_from_slice(end);
                shown = Cow::Owned(v);
                redacted = true;
            }
            // Only the first line after a challenge is a SASL response.
            self.sasl = None;
        }
        let mut seen: Option<u32> = None;
        let mut events: Vec<Ev> = Vec::new();
        {
            let mut sink = |ev: Event<'_>| {
                if let Some(e) = Ev::of(&ev) {
                    events.push(e);
                }
                if let Some(x) = exchange_of(&ev) {
                    seen.get_or_insert(x);
                }
            };
            if client {
                self.engine.handle_client(self.now, line, &mut sink);
            } else {
                self.engine.handle_server(self.now, line, &mut sink);
            }
        }
        for e in events {
            match e {
                Ev::Command(x, Some(m)) => self.pending_mechanism = Some((x, m)),
                Ev::Command(..) => {}
                Ev::Challenge(x) => {
                    self.sasl = match &self.pending_mechanism {
                        Some((p, m)) if *p == x => Some(m.clone()),
                        _ => None,
                    }
                }
                Ev::SaslResponse => self.sasl = None,
                // A reply to another (pipelined) command leaves the AUTH exchange open.
                Ev::Reply(x) => {
                    self.sasl = None;
                    if self
                        .pending_mechanism
                        .as_ref()
                        .is_some_and(|(p, _)| *p == x)
                    {
                        self.pending_mechanism = None;
                    }
                }
            }
        }
        if let Some(x) = seen {
            self.exchange = x;
        }
        Shown {
            bytes: shown,
            exchange: self.exchange,
            redacted,
        }
    }

    pub(crate) fn transport(&mut self, ev: TransportEvent) {
        self.now = Time(self.now.0.saturating_add(1_000));
        self.engine
            .handle_transport(self.now, ev, &mut |_: Event<'_>| {});
    }
}

/// What the walker needs of an event, owned.
enum Ev {
    Command(u32, Option<String>),
    Challenge(u32),
    SaslResponse,
    Reply(u32),
}

impl Ev {
    fn of(ev: &Event<'_>) -> Option<Ev> {
        Some(match ev {
            Event::Command { exchange, command } => Ev::Command(*exchange, command.mechanism()),
            Event::Challenge { exchange, .. } => Ev::Challenge(*exchange),
            Event::SaslResponse(_) => Ev::SaslResponse,
            Event::Reply(r) => Ev::Reply(r.exchange),
            _ => return None,
        })
    }
}

fn exchange_of(ev: &Event<'_>) -> Option<u32> {
    match ev {
        Event::Command { exchange, .. }
        | Event::Challenge { exchange, .. }
        | Event::BodyLine { exchange, .. }
        | Event::Unsolicited { exchange, .. } => Some(*exchange),
        Event::SaslResponse(r) => Some(r.exchange),
        Event::BodyEnd(end) => Some(end.exchange),
        Event::Reply(r) => Some(r.exchange),
        _ => None,
    }
}

/// A line and its line end (CRLF, LF or nothing).
pub(crate) fn split_end(piece: &[u8]) -> (&[u8], &[u8]) {
    if let Some(l) = piece.strip_suffix(b"\r\n") {
        (l, b"\r\n")
    } else if let Some(l) = piece.strip_suffix(b"\n") {
        (l, b"\n")
    } else {
        (piece, b"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_lines_numbered_by_exchange() {
        let mut w = LineWalker::new(true);
        let ir = popscope_core::auth::plain_response(b"", b"alice", b"s3cret");
        let steps: Vec<(bool, Vec<u8>)> = vec![
            (false, b"+OK ready\r\n".to_vec()),
            (true, b"USER demo\r\n".to_vec()),
            (false, b"+OK\r\n".to_vec()),
            (true, b"PASS hunter2\r\n".to_vec()),
            (false, b"-ERR no\r\n".to_vec()),
            (true, b"AUTH PLAIN\r\n".to_vec()),
            (false, b"+ \r\n".to_vec()),
            (true, format!("{ir}\r\n").into_bytes()),
            (false, b"+OK\r\n".to_vec()),
            (true, b"LIST\r\n".to_vec()),
            (false, b"+OK\r\n".to_vec()),
            (false, b"1 10\r\n".to_vec()),
            (false, b".\r\n".to_vec()),
        ];
        let shown: Vec<(String, u32)> = steps
            .iter()
            .map(|(c, l)| {
                let s = w.line(*c, l);
                (String::from_utf8_lossy(&s.bytes).into_owned(), s.exchange)
            })
            .collect();
        let all: String = shown.iter().map(|(s, _)| s.as_str()).collect();
        assert!(!all.contains("hunter2"), "{all}");
        assert!(!all.contains(&ir), "{all}");
        assert!(all.contains("PASS *******\r\n"), "{all}");
        let ex: Vec<u32> = shown.iter().map(|(_, x)| *x).collect();
        assert_eq!(ex, vec![0, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]);
    }
}
