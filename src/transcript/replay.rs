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
    /// Server octets and data lines seen (for the report's summary).
    pub server_octets: u64,
    pub body_lines: u64,
}

/// Feeds every entry in order. Time advances only with `Idle` entries (plus 1 ms per entry,
/// so latencies are not all zero).
pub fn replay(entries: &[Entry], config: Config) -> Replayed {
    let mut engine = Engine::new(config);
    // Start offset of each entry's bytes in its direction's stream, with the entry's line.
    let mut client_starts: Vec<(u64, usize)> = Vec::new();
    let mut server_starts: Vec<(u64, usize)> = Vec::new();
    let (mut client_off, mut server_off) = (0u64, 0u64);
    let mut now = Time::default();
    let mut out = Collector::default();
    for entry in entries {
        now = entry.at.unwrap_or(Time(now.0 + 1_000));
        out.current_line = entry.line;
        match &entry.item {
            Item::Client(bytes) => {
                client_starts.push((client_off, entry.line));
                client_off += bytes.len() as u64;
                engine.handle_client(now, bytes, &mut out);
            }
            Item::Server(bytes) => {
                server_starts.push((server_off, entry.line));
                server_off += bytes.len() as u64;
                engine.handle_server(now, bytes, &mut out);
            }
            Item::Transport(ev) => engine.handle_transport(now, *ev, &mut out),
            Item::Idle { seconds } => now = Time(now.0 + (seconds * 1e6) as u64),
        }
    }
    // Offsets past the end of a stream (a close, a timeout) point at no bytes: use the entry
    // that was being fed instead.
    let locate = |f: &Finding, fallback: usize| -> usize {
        let (starts, total) = match f.at.direction {
            Some(Direction::Client) => (&client_starts, client_off),
            Some(Direction::Server) => (&server_starts, server_off),
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
    let findings = out
        .findings
        .into_iter()
        .map(|(finding, fallback)| {
            let line = locate(&finding, fallback).min(fallback);
            LocatedFinding { finding, line }
        })
        .collect();
    Replayed {
        findings,
        transitions: out.transitions,
        session: engine.session().clone(),
        server_octets: server_off,
        body_lines: out.body_lines,
    }
}

#[derive(Default)]
struct Collector {
    current_line: usize,
    findings: Vec<(Finding, usize)>,
    transitions: Vec<Transition>,
    body_lines: u64,
}

impl crate::protocol::EventSink for Collector {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Finding(f) => self.findings.push((*f, self.current_line)),
            Event::StateChange(t) => self.transitions.push(*t),
            Event::BodyLine { .. } => self.body_lines += 1,
            _ => {}
        }
    }
}
