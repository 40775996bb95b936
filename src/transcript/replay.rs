//! Runs the engine over a transcript, as if the session were happening now.

use std::collections::VecDeque;

use popscope_core::{Config, Direction, Event, Finding, Session, Tally, Time, Transition};

use super::drive::{Drive, Driver, drive};
use super::text::{Entry, Item};

/// A finding and the transcript line it points at.
#[derive(Clone, Debug)]
pub struct LocatedFinding {
    pub finding: Finding,
    /// The file line of the offending bytes (or of the entry being fed when it was found).
    pub(crate) line: usize,
    /// The start of that file line as it was read (text transcripts), for quoting.
    pub(crate) quote: Option<Vec<u8>>,
}

/// At most this many findings, and as many state changes, are kept of one session; the rest
/// are counted ([`Replayed::left_out`]): a recording with a finding in every exchange held
/// them all (1.85 GB of RSS for the JSON of a 6.8 MB transcript).
pub(crate) const MAX_KEPT: usize = 10_000;

/// What a session's report leaves out beyond [`MAX_KEPT`].
#[derive(Clone, Copy, Debug, Default)]
pub struct LeftOut {
    /// The findings not kept, by severity.
    pub findings: Tally,
    pub transitions: usize,
}

/// What the engine made of a transcript.
#[derive(Debug)]
pub struct Replayed {
    /// The first [`MAX_KEPT`] findings.
    pub findings: Vec<LocatedFinding>,
    /// The first [`MAX_KEPT`] state changes.
    pub transitions: Vec<Transition>,
    pub left_out: LeftOut,
    pub session: Session,
    /// How many entries were fed (0: an empty transcript, nothing was checked).
    pub(crate) entries: u64,
    /// How many of them were client or server data (0: only events, nothing to check).
    pub(crate) data: u64,
}

/// How many recent entry starts each direction keeps to locate findings: a finding points at
/// bytes just fed, or at the status line of the reply in progress (kept apart), so a bounded
/// window locates them all while memory stays bounded whatever the transcript's length.
const WINDOW: usize = 16 << 10;
/// How many reply starts are kept (pipelined replies whose findings are still to come).
const PINNED: usize = 4096;
/// Octets of a raw line kept for quoting it.
const QUOTE: usize = 256;
/// Octets of a raw client line masked before the quote is cut from it: a cut OAuth message
/// no longer has the grammar's shape, and would be masked whole.
const MASKED_WHOLE: usize = 64 * 1024;

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
pub(crate) struct Replayer {
    driver: Driver,
    out: Collector,
}

impl Replayer {
    pub(crate) fn new(config: Config) -> Self {
        Replayer {
            driver: Driver::new(config),
            out: Collector::default(),
        }
    }

    /// Feeds one entry at its time (the [`Driver`] keeps the clock).
    pub(crate) fn feed(&mut self, entry: &Entry) {
        self.feed_line(entry, None);
    }

    /// Like [`Replayer::feed`], with the file line the entry came from, for quoting it.
    pub(crate) fn feed_line(&mut self, entry: &Entry, raw: Option<&[u8]>) {
        self.out.raw = raw.map(|r| r[..r.len().min(MASKED_WHOLE)].to_vec());
        self.driver.feed(entry, &mut self.out);
    }

    pub(crate) fn finish(mut self) -> Replayed {
        let session = self.driver.finish(&mut self.out);
        self.out.into_replayed(session)
    }
}

/// Feeds every entry in order and returns what the engine made of it.
pub fn replay(entries: &[Entry], config: Config) -> Replayed {
    let mut out = Collector::default();
    let session = drive(entries, config, &mut out);
    out.into_replayed(session)
}

#[derive(Default)]
struct Collector {
    /// The quote of the entry about to be fed (text transcripts), taken by [`Drive::entry`].
    raw: Option<Vec<u8>>,
    /// The entry being fed: its line and quote.
    current: (usize, Option<Vec<u8>>),
    client: Starts,
    server: Starts,
    entries: u64,
    data: u64,
    findings: Vec<LocatedFinding>,
    transitions: Vec<Transition>,
    left_out: LeftOut,
    /// Which client line is a SASL response: quotes of client lines are masked as a
    /// recording masks them, whatever the input file holds.
    sasl: super::sasl::SaslWatch,
}

/// A quoted client file line (`C: …`, cut at [`QUOTE`] octets) with its secret masked, as
/// [`popscope_core::redact::client_line`] masks it in recordings; a cut SASL payload is no
/// base64 and is masked whole.
fn masked_quote(raw: &[u8], sasl: Option<&str>) -> Vec<u8> {
    let Some(at) = memchr::memmem::find(raw, b"C:") else {
        return raw.to_vec();
    };
    let start = at + 2 + usize::from(raw.get(at + 2) == Some(&b' '));
    let (content, end) = match raw[start..].strip_suffix(b"\r") {
        Some(c) => (c, &b"\r"[..]),
        None => (&raw[start..], &b""[..]),
    };
    match popscope_core::redact::client_line(content, sasl) {
        Some(masked) => [&raw[..start], &masked[..], end].concat(),
        None => raw.to_vec(),
    }
}

impl Replayed {
    /// The counts of every finding, those left out included.
    pub fn tally(&self) -> Tally {
        Tally::of(self.findings.iter().map(|lf| &lf.finding)).and(&self.left_out.findings)
    }
}

impl Collector {
    fn into_replayed(self, session: Session) -> Replayed {
        Replayed {
            findings: self.findings,
            transitions: self.transitions,
            left_out: self.left_out,
            session,
            entries: self.entries,
            data: self.data,
        }
    }

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

impl Drive for Collector {
    fn entry(&mut self, _: Time, entry: &Entry) {
        self.entries += 1;
        self.current = (entry.line, self.raw.take());
        let quote = self.current.1.as_deref();
        match &entry.item {
            Item::Client(bytes) => {
                self.data += 1;
                let masked = quote.map(|q| masked_quote(q, self.sasl.responding()));
                self.client.push(entry.line, bytes.len(), masked.as_deref());
                if let Some(m) = masked {
                    self.current.1 = Some(m);
                }
            }
            Item::Server(bytes) => {
                self.data += 1;
                self.server.push(entry.line, bytes.len(), quote);
            }
            Item::Transport(_) | Item::Idle { .. } => {}
        }
        if let Some(quote) = &mut self.current.1 {
            quote.truncate(QUOTE);
        }
    }

    fn event(&mut self, _: Time, event: Event<'_>) {
        self.sasl.event(&event);
        match event {
            Event::Finding(f) if self.findings.len() >= MAX_KEPT => {
                self.left_out.findings.add(f.severity);
            }
            Event::Finding(f) => {
                let (line, quote) = self.locate(&f);
                self.findings.push(LocatedFinding {
                    finding: *f,
                    line,
                    quote,
                });
            }
            Event::StateChange(_) if self.transitions.len() >= MAX_KEPT => {
                self.left_out.transitions += 1;
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
