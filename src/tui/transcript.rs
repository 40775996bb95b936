//! The transcript the TUI shows: one row per client line, server status line, transport note
//! or state change. A multi-line reply is one row with a fold that keeps its first lines and
//! counts the rest. Views ask for rows by index, so drawing a screen costs the same however
//! long the session is. An index moves when the oldest rows are dropped; a [`RowId`] does not,
//! so whatever must find a row again later (a finding) keeps its id.

use popscope_core::{Severity, Time};

/// Rows kept; the oldest are dropped past this (a marker row says so).
pub(crate) const MAX_ROWS: usize = 2_000_000;

/// A row's identity for the whole session: ids are handed out in order and never reused, so a
/// row dropped past the cap is known to be gone instead of being mistaken for its successor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowId(pub u64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    Client,
    Server,
    /// Connection, TLS, close, timeout.
    Note,
    /// A state transition.
    Transition,
    /// What popscope makes of the row above it (a decoded OAuth error challenge).
    Annotation,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fold {
    /// The first lines of the body (at most what the session forwards,
    /// [`crate::session::task::FORWARD_BODY_LINES`]).
    pub lines: Vec<String>,
    pub total_lines: u64,
    pub octets: u64,
    /// The terminator came (false while receiving, or when cut short).
    pub complete: bool,
    pub done: bool,
    pub expanded: bool,
}

impl Fold {
    pub(crate) fn summary(&self) -> String {
        let state = match (self.done, self.complete) {
            (false, _) => ", receiving…",
            (true, false) => ", cut short",
            (true, true) => "",
        };
        let kept = if self.total_lines as usize > self.lines.len() {
            format!(", first {} kept", self.lines.len())
        } else {
            String::new()
        };
        format!(
            "{} {}, {}{kept}{state}",
            if self.expanded { "▾" } else { "▸" },
            popscope_core::plural(self.total_lines, "line"),
            popscope_core::plural(self.octets, "octet")
        )
    }
}

/// What is unusual about a row: a label after its text, and whether it is alarming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tag {
    /// The one row that counts a flood's unsolicited lines instead of showing each.
    Flood,
    /// A command sent on purpose where it is not allowed (a probe, or the user's own choice).
    Deliberate,
    /// A server line no command asked for.
    Unsolicited,
    /// Plaintext sent after the STLS `+OK`, which the TLS layer discards.
    DiscardedBeforeTls,
    /// A state change the RFC does not allow.
    Unlawful,
}

impl Tag {
    /// The label people see.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Tag::Flood => "flood",
            Tag::Deliberate => "deliberate",
            Tag::Unsolicited => "unsolicited",
            Tag::DiscardedBeforeTls => "plaintext before TLS, discarded",
            Tag::Unlawful => "unlawful",
        }
    }

    /// Whether the label is drawn as a breach rather than dimmed.
    pub(crate) fn alarms(self) -> bool {
        matches!(self, Tag::Unlawful | Tag::DiscardedBeforeTls)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub time: Time,
    pub(crate) kind: RowKind,
    /// Display text, already sanitized.
    pub text: String,
    /// What is unusual about the row, shown after its text.
    pub(crate) tag: Option<Tag>,
    pub(crate) exchange: u32,
    pub(crate) latency_us: Option<u64>,
    /// The worst finding on this row, and the rule IDs.
    pub severity: Option<Severity>,
    pub rules: Vec<&'static str>,
    pub fold: Option<Box<Fold>>,
}

impl Row {
    pub fn new(time: Time, kind: RowKind, text: String, exchange: u32) -> Row {
        Row {
            time,
            kind,
            text,
            tag: None,
            exchange,
            latency_us: None,
            severity: None,
            rules: Vec::new(),
            fold: None,
        }
    }

    /// Screen lines the row takes.
    pub fn height(&self) -> usize {
        match &self.fold {
            Some(f) if f.expanded => 2 + f.lines.len(),
            Some(_) => 2,
            None => 1,
        }
    }
}

#[derive(Debug)]
pub struct Transcript {
    rows: Vec<Row>,
    /// Rows dropped from the front so far: also the id of the first row kept.
    dropped: u64,
    cap: usize,
}

impl Default for Transcript {
    fn default() -> Transcript {
        Transcript::with_cap(MAX_ROWS)
    }
}

impl Transcript {
    /// A transcript that keeps at most `cap` rows (at least 10); past it the oldest tenth goes.
    pub(crate) fn with_cap(cap: usize) -> Transcript {
        Transcript {
            rows: Vec::new(),
            dropped: 0,
            cap: cap.max(10),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Row> {
        self.rows.get(i)
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Row> {
        self.rows.get_mut(i)
    }

    /// Rows dropped from the front to keep memory bounded.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Appends a row; the answer is its id. Past the cap the oldest rows go first, so every
    /// index held before may now name another row (ids stay right).
    pub(crate) fn push(&mut self, row: Row) -> RowId {
        if self.rows.len() >= self.cap {
            let cut = self.cap / 10;
            self.rows.drain(..cut);
            self.dropped += cut as u64;
        }
        self.rows.push(row);
        RowId(self.dropped + self.rows.len() as u64 - 1)
    }

    /// The id of the row at index `i` (whether or not such a row exists yet).
    pub(crate) fn id_at(&self, i: usize) -> RowId {
        RowId(self.dropped + i as u64)
    }

    /// Where the row `id` is now; None once it was dropped (or before it exists).
    pub fn index_of(&self, id: RowId) -> Option<usize> {
        let i = usize::try_from(id.0.checked_sub(self.dropped)?).ok()?;
        (i < self.rows.len()).then_some(i)
    }

    pub(crate) fn last_mut(&mut self) -> Option<&mut Row> {
        self.rows.last_mut()
    }

    /// The last row of `exchange` of the given kind, searching back from the end.
    pub(crate) fn find_back(&self, exchange: u32, kind: RowKind) -> Option<usize> {
        self.rows
            .iter()
            .enumerate()
            .rev()
            .take(4096)
            .find(|(_, r)| r.exchange == exchange && r.kind == kind)
            .map(|(i, _)| i)
    }

    /// The first row index to draw so that the rows up to `last` fill `height` lines.
    pub(crate) fn top_for_bottom(&self, last: usize, height: usize) -> usize {
        let mut used = 0;
        let mut i = last.min(self.rows.len().saturating_sub(1));
        loop {
            used += self.rows.get(i).map_or(1, Row::height);
            if used >= height || i == 0 {
                return if used > height && i < last { i + 1 } else { i };
            }
            i -= 1;
        }
    }
}
