//! Runs the engine over a transcript, as if the session were happening now.

use std::collections::VecDeque;

use popscope_core::{Config, Direction, Engine, Event, Finding, Session, Time, Transition};

use super::text::{Entry, Item};

/// A finding and the transcript line it points at.
#[derive(Clone, Debug)]
pub struct LocatedFinding {
    pub finding: Finding,
    /// The file line of the offending bytes (or of the entry being fed when it was found).
    pub line: usize,
    /// The start of that file line as it was read (text transcripts), for quoting.
    pub quote: Option<Vec<u8>>,
}

/// What the engine made of a transcript.
#[derive(Debug)]
pub struct Replayed {
    pub findings: Vec<LocatedFinding>,
    pub transitions: Vec<Transition>,
    pub session: Session,
    /// How many entries were fed (0: an empty transcript, nothing was checked).
    pub entries: u64,
    /// How many of them were client or server data (0: only events, nothing to check).
    pub data: u64,
}

/// How many recent entry starts each direction keeps to locate findings: a finding points at
/// bytes just fed, or at the status line of the reply in progress (kept apart), so a bounded
/// window locates them all while memory stays bounded whatever the transcript's length.
const WINDOW: usize = 16 << 10;
/// How many reply starts are kept (pipelined replies whose findings are still to come).
const PINNED: usize = 4096;
/// Octets of a raw line kept for quoting it.
const QUOTE: usize = 256;

/// Where an entry's bytes begin in its direction's stream: (offset, file line, quote).
type Start = (u64, usize, Option<Box<[u8]>>);

/// Where each entry's bytes begin in its direction's stream.
#[derive(Default)]
struct Starts {
    /// Recent entries, oldest first.
    recent: VecDeque<Start>,
    /// Starts of the entries that held a reply's status line.
    pinned: VecDeque<Start>,
    total: u64,
}

impl Starts {
    fn push(&mut self, line: usize, len: usize, quote: Option<&[u8]>) {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        let quote = quote.map(|q| q[..q.len().min(QUOTE)].into());
        self.recent.push_back((self.total, line, quote));
        self.total += len as u64;
    }

    fn pin_last(&mut self) {
        if let Some(last) = self.recent.back().cloned() {
            if self.pinned.back().map(|p| p.0) == Some(last.0) {
                return;
            }
            if self.pinned.len() == PINNED {
                self.pinned.pop_front();
            }
            self.pinned.push_back(last);
        }
    }

    /// The entry holding `offset`, if still known.
    fn find(&self, offset: u64) -> Option<&Start> {
        if offset >= self.total {
            return None;
        }
        let v = match self.recent.front() {
            Some((first, _, _)) if *first <= offset => &self.recent,
            _ => &self.pinned,
        };
        match v.partition_point(|(off, _, _)| *off <= offset) {
            0 => None,
            i => v.get(i - 1),
        }
    }
}

/// Feeds entries one at a time (a recording can be checked as it is read, in bounded memory).
pub struct Replayer {
    engine: Engine,
    now: Time,
    out: Collector,
}

impl Replayer {
    pub fn new(config: Config) -> Self {
        Replayer {
            engine: Engine::new(config),
            now: Time::default(),
            out: Collector::default(),
        }
    }

    /// Time advances to the entry's own time, or by 1 ms, plus `-- idle`.
    pub fn feed(&mut self, entry: &Entry) {
        self.feed_line(entry, None);
    }

    /// Like [`Replayer::feed`], with the file line the entry came from, for quoting it.
    pub fn feed_line(&mut self, entry: &Entry, raw: Option<&[u8]>) {
        self.now = entry.at.unwrap_or(Time(self.now.0.saturating_add(1_000)));
        let now = self.now;
        self.out.entries += 1;
        self.out.current = (entry.line, raw.map(|r| r[..r.len().min(QUOTE)].to_vec()));
        match &entry.item {
            Item::Client(bytes) => {
                self.out.data += 1;
                self.out.client.push(entry.line, bytes.len(), raw);
                self.engine.handle_client(now, bytes, &mut self.out);
            }
            Item::Server(bytes) => {
                self.out.data += 1;
                self.out.server.push(entry.line, bytes.len(), raw);
                self.engine.handle_server(now, bytes, &mut self.out);
            }
            Item::Transport(ev) => self.engine.handle_transport(now, *ev, &mut self.out),
            Item::Idle { seconds } => self.now = Time(now.0.saturating_add((seconds * 1e6) as u64)),
        }
    }

    pub fn finish(self) -> Replayed {
        Replayed {
            findings: self.out.findings,
            transitions: self.out.transitions,
            session: self.engine.session().clone(),
            entries: self.out.entries,
            data: self.out.data,
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
    /// The entry being fed: its line and quote.
    current: (usize, Option<Vec<u8>>),
    client: Starts,
    server: Starts,
    entries: u64,
    data: u64,
    findings: Vec<LocatedFinding>,
    transitions: Vec<Transition>,
}

impl Collector {
    /// The line of the offending bytes; offsets past the end of a stream (a close, a timeout)
    /// point at no bytes, and then the entry being fed is the place.
    fn locate(&self, f: &Finding) -> (usize, Option<Vec<u8>>) {
        let starts = match f.at.direction {
            Some(Direction::Client) => &self.client,
            Some(Direction::Server) => &self.server,
            None => return self.current.clone(),
        };
        match starts.find(f.at.offset) {
            Some((_, line, quote)) if *line <= self.current.0 => {
                (*line, quote.as_ref().map(|q| q.to_vec()))
            }
            _ => self.current.clone(),
        }
    }
}

impl popscope_core::EventSink for Collector {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Finding(f) => {
                let (line, quote) = self.locate(&f);
                self.findings.push(LocatedFinding {
                    finding: *f,
                    line,
                    quote,
                });
            }
            Event::StateChange(t) => self.transitions.push(*t),
            Event::Reply(_) => self.server.pin_last(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_after_a_long_body_still_points_at_its_status_line() {
        // RETR says 10 octets, the body holds far more lines than the window: the octet-count
        // finding comes at the terminator and points back at the status line.
        let mut t = String::from(
            "S: +OK ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\nC: RETR 1\nS: +OK 10 octets\n",
        );
        for _ in 0..(WINDOW + 100) {
            t.push_str("S: line\n");
        }
        t.push_str("S: .\n");
        let mut r = Replayer::new(Config::default());
        let mut most = 0;
        super::super::text::stream(t.as_bytes(), |e, raw| {
            r.feed_line(&e, Some(raw));
            most = most.max(r.out.server.recent.len());
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(most <= WINDOW);
        let done = r.finish();
        let status = done
            .findings
            .iter()
            .find(|f| f.line == 7)
            .unwrap_or_else(|| panic!("{:?}", done.findings));
        assert_eq!(status.quote.as_deref(), Some(&b"S: +OK 10 octets"[..]));
    }
}
