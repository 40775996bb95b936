//! `check --targets` without `--json`: one line per target as it finishes (what it found, or
//! why it could not be checked), for a terminal or a log.

use std::io::Write;

use super::progress::AboveBar;
use super::{FleetSink, TargetOutcome};

pub struct Lines<W: Write> {
    out: W,
    /// The progress bar on the same terminal, if any.
    above: Option<AboveBar>,
}

impl<W: Write> Lines<W> {
    pub fn new(out: W) -> Lines<W> {
        Lines { out, above: None }
    }

    /// Each line written past the progress bar.
    pub(crate) fn above(self, bar: AboveBar) -> Lines<W> {
        Lines {
            above: Some(bar),
            ..self
        }
    }
}

/// `TARGET  2 violations, 1 warning, 0 info  (1.2 s)` or `TARGET  error: WHY  (10.0 s)`.
pub fn outcome_line(outcome: &TargetOutcome) -> String {
    let what = match (&outcome.error, &outcome.report) {
        (Some(e), _) => format!("error: {}", e.message),
        (None, Some(report)) => {
            let n = |name: &str| super::fields::count(report, name);
            let plural = |k: u64, one: &str| {
                if k == 1 {
                    one.to_owned()
                } else {
                    format!("{one}s")
                }
            };
            format!(
                "{} {}, {} {}, {} info",
                n("violation"),
                plural(n("violation"), "violation"),
                n("warning"),
                plural(n("warning"), "warning"),
                n("info")
            )
        }
        (None, None) => "no report".to_owned(),
    };
    format!(
        "{}  {what}  ({:.1} s)",
        outcome.target,
        outcome.elapsed.as_secs_f64()
    )
}

impl<W: Write> FleetSink for Lines<W> {
    fn add(&mut self, outcome: &TargetOutcome) -> std::io::Result<()> {
        let line = outcome_line(outcome);
        let out = &mut self.out;
        let mut write = move || {
            writeln!(out, "{line}")?;
            out.flush()
        };
        match &self.above {
            Some(bar) => bar.write(write),
            None => write(),
        }
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
