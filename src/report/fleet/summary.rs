//! The summary printed at the end of a fleet run (on a terminal and in text mode): how many
//! targets, how many failing, the worst targets by severity counts, the rules that broke the
//! most targets, the certificates that end within 30 days and the targets that could not be
//! checked. Memory is bounded whatever the fleet's size: the lists keep their top
//! [`SHOWN`] entries and count the rest; the rules are keyed by the catalog's IDs (a few
//! hundred at most).

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use super::fields;
use super::{FleetSink, TargetOutcome};
use popscope_core::sanitize::display;

/// The entries each list shows.
pub(crate) const SHOWN: usize = 10;

/// Certificates that end within this many days are listed.
const EXPIRY_DAYS: i64 = 30;

/// A key that ranks the largest first in a [`Top`].
type MostFirst<T> = Reverse<T>;

/// Rules with violations first, then those on the most targets, then by ID.
type RuleRank<'a> = (MostFirst<(bool, usize)>, &'a str);

/// A bounded list of the best-ranked `T`s (lowest key first): inserting is O(SHOWN).
struct Top<K: Ord, T> {
    kept: Vec<(K, T)>,
    seen: usize,
}

impl<K: Ord, T> Default for Top<K, T> {
    fn default() -> Self {
        Top {
            kept: Vec::new(),
            seen: 0,
        }
    }
}

impl<K: Ord, T> Top<K, T> {
    fn offer(&mut self, key: K, item: T) {
        self.seen += 1;
        if self.kept.len() == SHOWN && self.kept.last().is_some_and(|(k, _)| *k <= key) {
            return;
        }
        let at = self.kept.partition_point(|(k, _)| *k <= key);
        self.kept.insert(at, (key, item));
        self.kept.truncate(SHOWN);
    }

    fn more(&self) -> usize {
        self.seen - self.kept.len()
    }
}

struct Counts {
    target: String,
    violations: u64,
    warnings: u64,
    info: u64,
}

/// A rule over the fleet: the targets it was found on, at its worst severity there.
#[derive(Default)]
struct RuleSeen {
    targets: usize,
    violation: bool,
    summary: String,
}

pub(crate) struct Summary {
    now: i64,
    done: usize,
    with_violations: usize,
    /// Worst first: most violations, then most warnings, then the file's order.
    worst: Top<(MostFirst<(u64, u64)>, usize), Counts>,
    rules: BTreeMap<String, RuleSeen>,
    /// Nearest end first.
    expiring: Top<(i64, usize), (String, String)>,
    /// The file's order.
    failed: Top<usize, (String, String)>,
}

impl Summary {
    /// `now`: seconds since the Unix epoch, what certificate days count from.
    pub(crate) fn new(now: i64) -> Self {
        Summary {
            now,
            done: 0,
            with_violations: 0,
            worst: Top::default(),
            rules: BTreeMap::new(),
            expiring: Top::default(),
            failed: Top::default(),
        }
    }

    /// Targets with a violation or that could not be checked.
    pub(crate) fn failing(&self) -> usize {
        self.with_violations + self.failed.seen
    }

    /// The summary as plain text (no colour, no terminal needed).
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} target{} checked: {} failing ({} with violations, {} not checked)",
            self.done,
            if self.done == 1 { "" } else { "s" },
            self.failing(),
            self.with_violations,
            self.failed.seen
        );
        self.worst_targets(&mut out);
        self.worst_rules(&mut out);
        if !self.expiring.kept.is_empty() {
            let _ = writeln!(out, "\ncertificates ending within {EXPIRY_DAYS} days:");
            for ((days, _), (target, date)) in &self.expiring.kept {
                // Rounded down, -1 is anything up to a day ago: the date says exactly.
                let when = if *days < 0 {
                    "expired".to_owned()
                } else {
                    format!("in {days} days")
                };
                let _ = writeln!(out, "  {target:<40} {when:<20} {date}");
            }
            more(&mut out, self.expiring.more());
        }
        if !self.failed.kept.is_empty() {
            let _ = writeln!(out, "\nnot checked:");
            for (_, (target, error)) in &self.failed.kept {
                let _ = writeln!(out, "  {target:<40} {error}");
            }
            more(&mut out, self.failed.more());
        }
        out
    }

    fn worst_targets(&self, out: &mut String) {
        let listed: Vec<&Counts> = self
            .worst
            .kept
            .iter()
            .map(|(_, c)| c)
            .filter(|c| c.violations + c.warnings > 0)
            .collect();
        if listed.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\n{:<42} {:>10} {:>9} {:>6}",
            "worst targets", "violations", "warnings", "info"
        );
        for c in &listed {
            let _ = writeln!(
                out,
                "  {:<40} {:>10} {:>9} {:>6}",
                c.target, c.violations, c.warnings, c.info
            );
        }
        more(out, self.worst.more());
    }

    fn worst_rules(&self, out: &mut String) {
        let mut rules: Top<RuleRank<'_>, &RuleSeen> = Top::default();
        for (id, seen) in &self.rules {
            rules.offer(
                (
                    std::cmp::Reverse((seen.violation, seen.targets)),
                    id.as_str(),
                ),
                seen,
            );
        }
        if rules.kept.is_empty() {
            return;
        }
        let _ = writeln!(out, "\nrules found on the most targets (violations first):");
        for ((_, id), seen) in &rules.kept {
            let severity = if seen.violation {
                "violation"
            } else {
                "warning"
            };
            let _ = writeln!(
                out,
                "  {id:<10} {severity:<9} {:>5} target{}  {}",
                seen.targets,
                if seen.targets == 1 { " " } else { "s" },
                seen.summary
            );
        }
        more(out, rules.more());
    }
}

fn more(out: &mut String, n: usize) {
    if n > 0 {
        let _ = writeln!(out, "  … and {n} more");
    }
}

/// A target shown in a column: cut to fit, however long its line was.
fn shown(target: &str, line: usize) -> String {
    let t = display(target.as_bytes(), 40);
    format!("{t} (line {line})")
}

impl FleetSink for Summary {
    fn add(&mut self, outcome: &TargetOutcome) -> std::io::Result<()> {
        self.done += 1;
        let target = shown(&outcome.target, outcome.line);
        if let Some(e) = &outcome.error {
            self.failed.offer(
                outcome.line,
                (target.clone(), display(e.message.as_bytes(), 120)),
            );
        }
        let Some(report) = &outcome.report else {
            return Ok(());
        };
        let (violations, warnings, info) = (
            fields::count(report, "violation"),
            fields::count(report, "warning"),
            fields::count(report, "info"),
        );
        if violations > 0 {
            self.with_violations += 1;
        }
        if violations + warnings > 0 {
            self.worst.offer(
                (Reverse((violations, warnings)), outcome.line),
                Counts {
                    target: target.clone(),
                    violations,
                    warnings,
                    info,
                },
            );
        }
        // Each rule once per target, however often it was found there.
        let mut on_this_target = HashSet::new();
        for f in fields::findings(report) {
            let (Some(rule), Some(severity)) = (f["rule"].as_str(), f["severity"].as_str()) else {
                continue;
            };
            if severity == "info" {
                continue;
            }
            let seen = self.rules.entry(rule.to_owned()).or_default();
            if on_this_target.insert(rule) {
                seen.targets += 1;
            }
            seen.violation |= severity == "violation";
            if seen.summary.is_empty() {
                seen.summary = display(f["summary"].as_str().unwrap_or("").as_bytes(), 80);
            }
        }
        if let Some((days, date)) = fields::nearest_cert_end(report, self.now)
            && days <= EXPIRY_DAYS
        {
            self.expiring
                .offer((days, outcome.line), (target, display(date.as_bytes(), 40)));
        }
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::TargetError;
    use super::*;
    use serde_json::{Value, json};
    use std::time::Duration;

    /// 2026-12-02 00:00:00 UTC.
    const NOW: i64 = 1_796_169_600;

    fn checked(line: usize, rules: &[(&str, &str)], not_after: &str) -> TargetOutcome {
        let count = |s: &str| rules.iter().filter(|(_, sev)| *sev == s).count();
        let findings: Vec<Value> = rules
            .iter()
            .map(|(r, s)| json!({"rule": r, "severity": s, "summary": format!("what {r} says")}))
            .collect();
        TargetOutcome {
            recording: None,
            target: format!("pop3s://mail{line}.example.net"),
            line,
            report: Some(json!({
                "summary": {"violation": count("violation"), "warning": count("warning"), "info": count("info")},
                "findings": findings,
                "tls": {"chain": [{"not_after": not_after}]},
            })),
            error: None,
            elapsed: Duration::from_millis(30),
        }
    }

    fn failed(line: usize, message: &str) -> TargetOutcome {
        TargetOutcome {
            recording: None,
            target: format!("pop3://down{line}.example.net"),
            line,
            report: None,
            error: Some(TargetError {
                exit: 3,
                message: message.into(),
            }),
            elapsed: Duration::from_secs(5),
        }
    }

    const FAR: &str = "Jan  1 00:00:00 4096 +00:00";

    fn summary_of(outcomes: &[TargetOutcome]) -> Summary {
        let mut s = Summary::new(NOW);
        for o in outcomes {
            let _ = s.add(o);
        }
        let _ = s.finish();
        s
    }

    #[test]
    fn a_small_fleet() {
        let s = summary_of(&[
            checked(1, &[("CAPA-012", "info")], FAR),
            checked(
                2,
                &[
                    ("ST-001", "violation"),
                    ("ST-001", "violation"),
                    ("GEN-006", "warning"),
                ],
                "Dec 10 00:00:00 2026 +00:00",
            ),
            failed(
                3,
                "connection refused by 10.0.0.3:110: nothing listens there",
            ),
            checked(4, &[("GEN-006", "warning")], "Nov 30 12:00:00 2026 +00:00"),
            checked(5, &[("TLS-003", "violation"), ("GEN-006", "warning")], FAR),
        ]);
        assert_eq!(s.failing(), 3);
        insta::with_settings!({snapshot_path => "../../../tests/snapshots", prepend_module_to_snapshot => false}, {
            insta::assert_snapshot!("fleet_summary_small", s.text());
        });
    }

    #[test]
    fn a_clean_fleet_says_so_in_one_line() {
        let s = summary_of(&[
            checked(1, &[], FAR),
            checked(2, &[("CAPA-012", "info")], FAR),
        ]);
        assert_eq!(
            s.text(),
            "2 targets checked: 0 failing (0 with violations, 0 not checked)\n"
        );
    }

    #[test]
    fn a_large_fleet_keeps_the_top_and_counts_the_rest() {
        let mut s = Summary::new(NOW);
        for line in 1..=5000 {
            // Every 7th has violations, as many as its line's last digit.
            let o = if line % 7 == 0 {
                let v = vec![("ML-002", "violation"); line % 10 + 1];
                checked(line, &v, FAR)
            } else if line % 100 == 1 {
                failed(line, "timed out")
            } else {
                checked(line, &[("GEN-006", "warning")], FAR)
            };
            let _ = s.add(&o);
        }
        assert!(s.worst.kept.len() <= SHOWN && s.failed.kept.len() <= SHOWN);
        assert_eq!(s.failed.seen, 43);
        assert_eq!(s.with_violations, 714);
        assert_eq!(s.rules.len(), 2);
        let text = s.text();
        // The worst have 10 violations (line % 10 == 9), the earliest first.
        assert!(
            text.contains("pop3s://mail49.example.net (line 49)"),
            "{text}"
        );
        let worst: Vec<u64> = s.worst.kept.iter().map(|(_, c)| c.violations).collect();
        assert_eq!(worst, vec![10; SHOWN]);
        assert!(text.contains("… and 4947 more"), "{text}");
        assert!(
            text.contains("  ML-002     violation   714 targets"),
            "{text}"
        );
    }

    #[test]
    fn hostile_target_text_is_shown_escaped() {
        let mut o = failed(1, "reset\u{1b}[2J");
        o.target = "pop3://evil\u{1b}]0;x\u{7}".into();
        let text = summary_of(&[o]).text();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("\\x1b[2J"), "{text}");
    }
}
