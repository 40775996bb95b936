//! The targets of a fleet run as the view holds them: a row per target from the moment its
//! check begins, what became of it once it ends, and its sessions (each connection of its
//! walk, a session view fed as it runs). Sessions are bounded as the proxy's connections
//! are: every target in flight keeps its own, and of the finished ones only the last
//! [`KEPT_FINISHED`]; an older one keeps its row and counts, and says its sessions went.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use popscope_core::Tally;

use crate::report::fleet::{TargetOutcome, fields};
use crate::tui::table::seen::Shared;

/// Finished targets whose sessions are kept (those in flight keep theirs).
pub const KEPT_FINISHED: usize = 200;

/// One connection of a target's walk.
pub struct Session {
    /// What it was for: "walk", "probe P2: PASS without USER".
    pub label: String,
    /// Where it went (a bare host's walks go to each of its transports).
    pub url: String,
    pub seen: Shared,
}

/// How a target stands.
#[derive(Clone, Debug)]
pub enum Status {
    /// Its check began at this instant.
    Checking(Instant),
    Done(Done),
}

/// What a finished target's outcome says, read once: the row keeps this, not the report.
#[derive(Clone, Debug, Default)]
pub struct Done {
    pub tally: Tally,
    /// The transports that answered: `pop3`, `pop3+STLS`, `pop3s`, joined by `,`.
    pub transports: String,
    /// The TLS version of the first walk over TLS.
    pub tls: Option<String>,
    /// Why it could not be checked.
    pub error: Option<String>,
    pub elapsed: Duration,
    /// Where its recording went (--record DIR).
    pub recording: Option<String>,
}

impl Done {
    pub(crate) fn of(o: &TargetOutcome) -> Done {
        let mut done = Done {
            error: o.error.as_ref().map(|e| e.message.clone()),
            elapsed: o.elapsed,
            recording: o.recording.clone(),
            ..Done::default()
        };
        if let Some(report) = &o.report {
            done.tally = Tally {
                violation: fields::count(report, "violation") as usize,
                warning: fields::count(report, "warning") as usize,
                info: fields::count(report, "info") as usize,
            };
            let walks = fields::walks(report);
            let names: Vec<&str> = walks
                .iter()
                .map(|w| match w["transport"].as_str() {
                    Some("plain") => "pop3",
                    Some("stls") => "pop3+STLS",
                    Some("implicit-tls") => "pop3s",
                    _ => "?",
                })
                .collect();
            done.transports = names.join(",");
            done.tls = walks
                .iter()
                .find_map(|w| w["tls"]["version"].as_str())
                .map(str::to_owned);
        }
        done
    }

    /// Failing: not checked, or a violation found (as the progress bar counts it).
    pub fn failing(&self) -> bool {
        self.error.is_some() || self.tally.violation > 0
    }
}

pub struct Row {
    /// Its line in the target file: what names it for the view.
    pub line: usize,
    /// The target as its line gave it.
    pub target: String,
    pub status: Status,
    pub sessions: Vec<Session>,
    /// Its sessions went, past [`KEPT_FINISHED`].
    pub dropped: bool,
}

impl Row {
    /// Its time so far at `now`, or its check's whole time.
    pub fn time(&self, now: Instant) -> Duration {
        match &self.status {
            Status::Checking(since) => now.saturating_duration_since(*since),
            Status::Done(d) => d.elapsed,
        }
    }

    pub fn done(&self) -> Option<&Done> {
        match &self.status {
            Status::Done(d) => Some(d),
            Status::Checking(_) => None,
        }
    }

    /// Worst first: failed, violations, warnings, in flight, clean.
    fn badness(&self) -> u8 {
        match self.done() {
            Some(d) if d.error.is_some() => 0,
            Some(d) if d.tally.violation > 0 => 1,
            Some(d) if d.tally.warning > 0 => 2,
            None => 3,
            Some(_) => 4,
        }
    }
}

/// What the table is sorted by; `s` goes to the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Line,
    /// The worst first.
    Status,
    /// The most first.
    Violations,
    /// The longest first.
    Time,
    Target,
}

impl Column {
    pub fn next(self) -> Column {
        match self {
            Column::Line => Column::Status,
            Column::Status => Column::Violations,
            Column::Violations => Column::Time,
            Column::Time => Column::Target,
            Column::Target => Column::Line,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Column::Line => "line",
            Column::Status => "status",
            Column::Violations => "violations",
            Column::Time => "time",
            Column::Target => "target",
        }
    }
}

#[derive(Default)]
pub struct Targets {
    rows: Vec<Row>,
    /// A row's index by its line.
    by_line: HashMap<usize, usize>,
    /// Finished targets that keep their sessions, oldest first.
    kept: VecDeque<usize>,
    /// Targets finished, and of those failing: counted as they come, for a header drawn
    /// every frame.
    done: usize,
    failing: usize,
}

impl Targets {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter()
    }

    pub fn get(&self, line: usize) -> Option<&Row> {
        self.by_line.get(&line).map(|&i| &self.rows[i])
    }

    pub fn in_flight(&self) -> usize {
        self.rows.len() - self.done
    }

    pub fn done(&self) -> usize {
        self.done
    }

    pub fn failing(&self) -> usize {
        self.failing
    }

    fn row(&mut self, line: usize, target: &str, now: Instant) -> &mut Row {
        let i = *self.by_line.entry(line).or_insert_with(|| {
            self.rows.push(Row {
                line,
                target: target.to_owned(),
                status: Status::Checking(now),
                sessions: Vec::new(),
                dropped: false,
            });
            self.rows.len() - 1
        });
        &mut self.rows[i]
    }

    /// The check of `line` began (a session of it may have come first: the two travel apart).
    pub fn started(&mut self, line: usize, target: &str, now: Instant) {
        let row = self.row(line, target, now);
        if row.target.is_empty() {
            target.clone_into(&mut row.target);
        }
    }

    /// A connection of `line`'s walk opened.
    pub fn session(&mut self, line: usize, session: Session, now: Instant) {
        let row = self.row(line, "", now);
        if !row.dropped {
            row.sessions.push(session);
        }
    }

    /// A target finished; past [`KEPT_FINISHED`] the oldest finished lose their sessions,
    /// except `keep` (the one opened).
    pub fn finished(
        &mut self,
        line: usize,
        target: &str,
        done: Done,
        keep: Option<usize>,
        now: Instant,
    ) {
        let row = self.row(line, target, now);
        if row.done().is_some() {
            return;
        }
        let failing = done.failing();
        row.status = Status::Done(done);
        self.done += 1;
        self.failing += usize::from(failing);
        self.kept.push_back(line);
        while self.kept.len() > KEPT_FINISHED {
            let Some(at) = self.kept.iter().position(|&l| Some(l) != keep) else {
                break;
            };
            let Some(line) = self.kept.remove(at) else {
                break;
            };
            if let Some(&i) = self.by_line.get(&line) {
                let row = &mut self.rows[i];
                row.sessions = Vec::new();
                row.dropped = true;
            }
        }
    }

    /// The rows in the order `by` (and `reversed`) puts them, at `now`: indices into
    /// [`Self::iter`]. Ties go by line.
    pub fn order(&self, by: Column, reversed: bool, now: Instant) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        let r = &self.rows;
        order.sort_by(|&a, &b| {
            let (a, b) = (&r[a], &r[b]);
            let first = match by {
                Column::Line => a.line.cmp(&b.line),
                Column::Status => a.badness().cmp(&b.badness()),
                Column::Violations => {
                    let v = |r: &Row| r.done().map_or(0, |d| d.tally.violation);
                    v(b).cmp(&v(a))
                }
                Column::Time => b.time(now).cmp(&a.time(now)),
                Column::Target => a.target.cmp(&b.target),
            };
            let first = if reversed { first.reverse() } else { first };
            first.then(a.line.cmp(&b.line))
        });
        order
    }

    /// The row at index `i` of [`Self::iter`].
    pub fn at(&self, i: usize) -> &Row {
        &self.rows[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fleet::TargetError;
    use serde_json::json;

    fn outcome(report: Option<serde_json::Value>, error: Option<&str>) -> TargetOutcome {
        TargetOutcome {
            target: "mail.example.net".into(),
            line: 1,
            report,
            error: error.map(|m| TargetError {
                exit: 3,
                message: m.into(),
            }),
            elapsed: Duration::from_millis(1500),
            recording: None,
        }
    }

    #[test]
    fn a_bare_host_names_the_transports_that_answered_and_its_tls() {
        let report = json!({
            "summary": {"violation": 2, "warning": 1, "info": 0},
            "transports": [
                {"transport": "plain", "error": "refused"},
                {"transport": "stls", "error": null, "tls": {"version": "TLS 1.2"}},
                {"transport": "implicit-tls", "error": null, "tls": {"version": "TLS 1.3"}},
            ],
        });
        let d = Done::of(&outcome(Some(report), None));
        assert_eq!(d.transports, "pop3+STLS,pop3s");
        assert_eq!(d.tls.as_deref(), Some("TLS 1.2"));
        assert_eq!((d.tally.violation, d.tally.warning), (2, 1));
        assert!(d.failing());
        let url = Done::of(&outcome(Some(json!({"transport": "plain"})), None));
        assert_eq!(
            (url.transports.as_str(), url.tls.as_deref()),
            ("pop3", None)
        );
        assert!(!url.failing());
        let failed = Done::of(&outcome(None, Some("refused")));
        assert_eq!(failed.error.as_deref(), Some("refused"));
        assert!(failed.failing() && failed.transports.is_empty());
    }
}
