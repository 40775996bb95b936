//! `--max-body`: the server's octets wait until the engine has said what each line was, then
//! bodies (and floods of unsolicited lines) are cut to the limit and a `truncated` record says
//! how much was left out.

use std::collections::VecDeque;

use popscope_core::{Direction, Event, Time};

use super::records::{Record, secs};

/// Which event a received line turned out to be (for `--max-body`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineKind {
    /// A status line, challenge, discarded line or a body's terminator: always kept (and the
    /// end of a capped run).
    Kept,
    /// A data line of the body of this exchange, or an unsolicited line after it (a flood
    /// after QUIT is capped like a body).
    Body(u32),
}

/// `--max-body` state: server octets wait until the engine has said what each line was.
#[derive(Default)]
pub(super) struct BodyCap {
    limit: u64,
    pending: Vec<u8>,
    /// `pending[..scanned]` holds no line end beyond the lines already released: a line that
    /// arrives in a thousand reads is scanned once, not a thousand times.
    scanned: usize,
    /// The engine is inside the data block of this exchange: a partial line at the end of
    /// `pending` is body.
    in_body: Option<u32>,
    kinds: VecDeque<LineKind>,
    /// Octets kept and dropped of the current body (or run of unsolicited lines).
    kept: u64,
    dropped: u64,
    /// The exchange the dropped octets belong to.
    dropped_in: u32,
}

impl BodyCap {
    /// Keeps at most `limit` octets of each body.
    pub(super) fn new(limit: u64) -> BodyCap {
        BodyCap {
            limit,
            ..BodyCap::default()
        }
    }

    /// Server octets, held until the engine has classified their lines.
    pub(super) fn hold(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// How many octets are held.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.pending.len()
    }

    /// Learns from an event of the engine what the next line held is.
    pub(super) fn classify(&mut self, ev: &Event<'_>) {
        match ev {
            Event::Reply(r) => {
                self.kinds.push_back(LineKind::Kept);
                self.in_body = r.multiline.then_some(r.exchange);
            }
            Event::Unsolicited { exchange, .. } => self.kinds.push_back(LineKind::Body(*exchange)),
            Event::Challenge { .. } | Event::Discarded { .. } => {
                self.kinds.push_back(LineKind::Kept)
            }
            Event::BodyLine { exchange, .. } => self.kinds.push_back(LineKind::Body(*exchange)),
            Event::BodyEnd(end) => {
                // Only a complete body has a terminator line.
                if end.complete {
                    self.kinds.push_back(LineKind::Kept);
                }
                self.in_body = None;
            }
            _ => {}
        }
    }

    /// The records for the held octets whose lines the engine has classified (all of them
    /// when `everything`), bodies cut.
    pub(super) fn release(&mut self, at: Time, everything: bool) -> Vec<Record> {
        let mut kept = Vec::new();
        let mut records: Vec<Record> = Vec::new();
        let mut pending = std::mem::take(&mut self.pending);
        let mut consumed = 0;
        while let Some(nl) = memchr::memchr(b'\n', &pending[self.scanned.max(consumed)..]) {
            let end = self.scanned.max(consumed) + nl + 1;
            let line = &pending[consumed..end];
            consumed = end;
            match self.kinds.pop_front().unwrap_or(LineKind::Kept) {
                LineKind::Body(exchange) => self.take(line, exchange, &mut kept),
                LineKind::Kept => {
                    self.close_run(at, &mut kept, &mut records);
                    kept.extend_from_slice(line);
                }
            }
        }
        pending.drain(..consumed);
        self.scanned = pending.len();
        // At a close, or when a line has no end in sight, its start is released now (capped
        // like the rest of the body), so memory stays bounded however long the line runs.
        if everything || pending.len() > PARTIAL_LINE_FLUSH {
            match self.in_body {
                Some(exchange) => self.take(&pending, exchange, &mut kept),
                None => kept.extend_from_slice(&pending),
            }
            pending.clear();
            self.scanned = 0;
        }
        if everything {
            self.close_run(at, &mut kept, &mut records);
        }
        self.pending = pending;
        if !kept.is_empty() {
            records.push(Record::data(secs(at), Direction::Server, &kept, false));
        }
        records
    }

    /// Keeps `line` if the budget allows, else counts it as left out.
    fn take(&mut self, line: &[u8], exchange: u32, kept: &mut Vec<u8>) {
        if self.kept + line.len() as u64 <= self.limit {
            self.kept += line.len() as u64;
            kept.extend_from_slice(line);
        } else {
            self.dropped += line.len() as u64;
            self.dropped_in = exchange;
        }
    }

    /// Ends a capped run: what was kept, then the marker for what was not.
    fn close_run(&mut self, at: Time, kept: &mut Vec<u8>, records: &mut Vec<Record>) {
        if self.dropped > 0 {
            records.push(Record::data(
                secs(at),
                Direction::Server,
                &std::mem::take(kept),
                false,
            ));
            records.push(Record::Truncated {
                t: secs(at),
                exchange: self.dropped_in,
                octets: self.dropped,
            });
        }
        self.kept = 0;
        self.dropped = 0;
    }
}

/// Past this many octets without a line end, `--max-body` releases a partial line.
pub(super) const PARTIAL_LINE_FLUSH: usize = 64 << 10;
