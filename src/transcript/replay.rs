//! Runs the engine over a transcript, as if the session were happening now.

use crate::protocol::{Config, Direction, Engine, Event, Finding, Session, Time, Transition};

use super::text::{Entry, Item};

/// A finding and the transcript line it points at.
#[derive(Clone, Debug)]
pub struct LocatedFinding {
    pub finding: Finding,
    /// The file line of the offending bytes (or of the entry being fed when it was found).
    pub line: usize,
}

/// What the engine made of a transcript.
#[derive(Debug)]
pub struct Replayed {
    pub findings: Vec<LocatedFinding>,
    pub transitions: Vec<Transition>,
    pub session: Session,
}

/// Feeds entries one at a time (a recording can be checked as it is read, in bounded memory).
pub struct Replayer {
    engine: Engine,
    // Start offset of each entry's bytes in its direction's stream, with the entry's line.
    client_starts: Vec<(u64, usize)>,
    server_starts: Vec<(u64, usize)>,
    client_off: u64,
    server_off: u64,
    now: Time,
    out: Collector,
}

impl Replayer {
    pub fn new(config: Config) -> Self {
        Replayer {
            engine: Engine::new(config),
            client_starts: Vec::new(),
            server_starts: Vec::new(),
            client_off: 0,
            server_off: 0,
            now: Time::default(),
            out: Collector::default(),
        }
    }

    /// Time advances to the entry's own time, or by 1 ms, plus `-- idle`.
    pub fn feed(&mut self, entry: &Entry) {
        self.now = entry.at.unwrap_or(Time(self.now.0 + 1_000));
        let now = self.now;
        self.out.current_line = entry.line;
        match &entry.item {
            Item::Client(bytes) => {
                self.client_starts.push((self.client_off, entry.line));
                self.client_off += bytes.len() as u64;
                self.engine.handle_client(now, bytes, &mut self.out);
            }
            Item::Server(bytes) => {
                self.server_starts.push((self.server_off, entry.line));
                self.server_off += bytes.len() as u64;
                self.engine.handle_server(now, bytes, &mut self.out);
            }
            Item::Transport(ev) => self.engine.handle_transport(now, *ev, &mut self.out),
            Item::Idle { seconds } => self.now = Time(now.0 + (seconds * 1e6) as u64),
        }
    }

    pub fn finish(self) -> Replayed {
        let (client_starts, server_starts) = (&self.client_starts, &self.server_starts);
        let (client_off, server_off) = (self.client_off, self.server_off);
        // Offsets past the end of a stream (a close, a timeout) point at no bytes: use the
        // entry that was being fed instead.
        let locate = |f: &Finding, fallback: usize| -> usize {
            let (starts, total) = match f.at.direction {
                Some(Direction::Client) => (client_starts, client_off),
                Some(Direction::Server) => (server_starts, server_off),
                None => return fallback,
            };
            if f.at.offset >= total {
                return fallback;
            }
            match starts.partition_point(|(off, _)| *off <= f.at.offset) {
                0 => fallback,
                i => starts[i - 1].1,
            }
        };
        let findings = self
            .out
            .findings
            .into_iter()
            .map(|(finding, fallback)| {
                let line = locate(&finding, fallback).min(fallback);
                LocatedFinding { finding, line }
            })
            .collect();
        Replayed {
            findings,
            transitions: self.out.transitions,
            session: self.engine.session().clone(),
        }
    }
}

/// Feeds every entry in order and returns what the engine made of it.
pub fn replay(entries: &[Entry], config: Config) -> Replayed {
    let mut r = Replayer::new(config);
    for e in entries {
        r.feed(e);
    }
    r.finish()
}

#[derive(Default)]
struct Collector {
    current_line: usize,
    findings: Vec<(Finding, usize)>,
    transitions: Vec<Transition>,
}

impl crate::protocol::EventSink for Collector {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Finding(f) => self.findings.push((*f, self.current_line)),
            Event::StateChange(t) => self.transitions.push(*t),
            _ => {}
        }
    }
}
