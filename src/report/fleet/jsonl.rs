//! `check --targets … --json`: JSON Lines on stdout, one object per target as it finishes (the
//! object `check --json` prints for it, plus `target`, `line`, `elapsed_ms` and `error`), then
//! one summary object (`"summary": true`). The shards of a split run concatenate into one
//! result: every line stands alone, and the summaries are told apart by `"summary": true`.

use std::io::Write;
use std::time::Instant;

use popscope_core::Tally;
use serde_json::{Value, json};

use super::{FleetSink, TargetOutcome};

/// Writes each outcome as one line, flushed, and keeps only counts.
pub struct JsonLines<W: Write> {
    out: W,
    started: Instant,
    targets: usize,
    failed: usize,
    tally: Tally,
}

impl<W: Write> JsonLines<W> {
    pub fn new(out: W) -> JsonLines<W> {
        JsonLines {
            out,
            started: Instant::now(),
            targets: 0,
            failed: 0,
            tally: Tally::default(),
        }
    }

    fn line(&mut self, value: &Value) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        self.out.write_all(b"\n")?;
        // A line at a time: a reader (jq, a dashboard) sees each target as it finishes.
        self.out.flush()
    }
}

/// The JSON Lines object of one outcome.
pub fn outcome_json(outcome: &TargetOutcome) -> Value {
    let mut value = match &outcome.report {
        Some(report @ Value::Object(_)) => report.clone(),
        _ => json!({}),
    };
    let error = outcome
        .error
        .as_ref()
        .map(|e| json!({ "message": e.message, "exit": e.exit }));
    if let Some(o) = value.as_object_mut() {
        o.insert("target".into(), json!(outcome.target));
        o.insert("line".into(), json!(outcome.line));
        o.insert(
            "elapsed_ms".into(),
            json!(u64::try_from(outcome.elapsed.as_millis()).unwrap_or(u64::MAX)),
        );
        o.insert("error".into(), error.unwrap_or(Value::Null));
        if let Some(r) = &outcome.recording {
            o.insert("recording".into(), json!(r));
        }
    }
    value
}

/// The severity counts a report's `summary` gives (`check --json`'s, for one URL or a host).
fn report_tally(report: Option<&Value>) -> Tally {
    let count = |name: &str| {
        report
            .map(|r| super::fields::count(r, name))
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
    };
    Tally {
        violation: count("violation"),
        warning: count("warning"),
        info: count("info"),
    }
}

impl<W: Write> FleetSink for JsonLines<W> {
    fn add(&mut self, outcome: &TargetOutcome) -> std::io::Result<()> {
        self.targets += 1;
        self.failed += usize::from(outcome.error.is_some());
        let t = report_tally(outcome.report.as_ref());
        self.tally.violation += t.violation;
        self.tally.warning += t.warning;
        self.tally.info += t.info;
        self.line(&outcome_json(outcome))
    }

    fn finish(&mut self) -> std::io::Result<()> {
        let summary = json!({
            "summary": true,
            "popscope": env!("CARGO_PKG_VERSION"),
            "targets": self.targets,
            "checked": self.targets - self.failed,
            "failed": self.failed,
            "findings": self.tally,
            "elapsed_ms": u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        self.line(&summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fleet::TargetError;
    use std::time::Duration;

    fn outcome(line: usize, report: Option<Value>, error: Option<TargetError>) -> TargetOutcome {
        TargetOutcome {
            recording: None,
            target: format!("pop3://h{line}:110"),
            line,
            report,
            error,
            elapsed: Duration::from_millis(1500),
        }
    }

    #[test]
    fn one_line_per_target_then_a_summary() {
        let mut out = Vec::new();
        let mut sink = JsonLines::new(&mut out);
        let report = json!({
            "popscope": "x", "target": "pop3://127.0.0.1:110",
            "summary": { "violation": 2, "warning": 1, "info": 3 },
            "findings": [{ "rule": "RESP-001" }],
        });
        let refused = TargetError {
            exit: 3,
            message: "connection refused".into(),
        };
        for o in [
            outcome(1, Some(report), None),
            outcome(4, None, Some(refused)),
        ] {
            sink.add(&o).unwrap_or_else(|e| panic!("{e}"));
        }
        sink.finish().unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(out).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["target"], "pop3://h1:110");
        assert_eq!(lines[0]["line"], 1);
        assert_eq!(lines[0]["elapsed_ms"], 1500);
        assert_eq!(lines[0]["error"], Value::Null);
        assert_eq!(lines[0]["findings"][0]["rule"], "RESP-001");
        assert_eq!(lines[1]["error"]["exit"], 3);
        assert_eq!(lines[1]["error"]["message"], "connection refused");
        let s = &lines[2];
        assert_eq!(s["summary"], true);
        assert_eq!(
            (
                s["targets"].as_u64(),
                s["checked"].as_u64(),
                s["failed"].as_u64()
            ),
            (Some(2), Some(1), Some(1))
        );
        assert_eq!(
            s["findings"],
            json!({ "violation": 2, "warning": 1, "info": 3 })
        );
    }
}
