//! `--nagios`: one status line and the exit code a monitoring system (Nagios, Icinga, Zabbix
//! agents running plugins) reads, so popscope replaces `check_pop`/`check_spop`.
//!
//! The plugin contract: exit 0/1/2/3 = OK/WARNING/CRITICAL/UNKNOWN, exactly one line on
//! stdout, `TEXT | perfdata` with perfdata `label=value[unit];warn;crit;min;max`. Violations,
//! an unreachable target and a certificate within `--crit-days` are CRITICAL; warnings and a
//! certificate within `--warn-days` are WARNING; a target that could not even be tried (bad
//! usage) is UNKNOWN. The verdict is folded one target at a time: a fleet keeps counts, the
//! first few problems and the nearest certificate expiry, never the targets.

use std::fmt::Write as _;

use serde_json::Value;

use super::fields::{self, walks};
use super::{FleetSink, TargetOutcome};
use popscope_core::sanitize::display;

/// A Nagios plugin's states, worst last (so `max` is the worse of two).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl Status {
    /// The plugin's exit code.
    pub(crate) fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// UNKNOWN is not "worse" than CRITICAL to an operator: a fleet with one broken server
    /// and one bad target line is CRITICAL.
    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }
}

/// Days before a certificate's end that make it a warning, then critical.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Thresholds {
    pub(crate) warn_days: u32,
    pub(crate) crit_days: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            warn_days: 30,
            crit_days: 7,
        }
    }
}

/// The problems named in the status line: the rest are counted.
const NAMED_PROBLEMS: usize = 3;

/// The status line of a check (one target) or a fleet, folded from their outcomes.
pub(crate) struct Nagios {
    thresholds: Thresholds,
    /// Seconds since the Unix epoch: the clock the certificate days are counted from.
    now: i64,
    targets: usize,
    /// Targets per status, in [`Status::code`] order.
    per_status: [usize; 4],
    worst: Status,
    problems: Vec<String>,
    /// The one target's verdict (its text and timings), while there is one target.
    single: Option<Judged>,
    nearest_cert_days: Option<i64>,
}

/// One target judged.
#[derive(Clone, Debug)]
struct Judged {
    status: Status,
    text: String,
    perf: Perf,
}

/// A target's performance data: seconds, and days left on its certificate.
#[derive(Clone, Debug, Default, PartialEq)]
struct Perf {
    connect: Option<f64>,
    tls: Option<f64>,
    greeting: Option<f64>,
    login: Option<f64>,
    cert_days: Option<i64>,
}

impl Nagios {
    pub(crate) fn new(thresholds: Thresholds, now: i64) -> Self {
        Nagios {
            thresholds,
            now,
            targets: 0,
            per_status: [0; 4],
            worst: Status::Ok,
            problems: Vec::new(),
            single: None,
            nearest_cert_days: None,
        }
    }

    /// The status, and its one line (no line break in it, whatever the servers said).
    pub(crate) fn verdict(&self) -> (Status, String) {
        if self.targets == 0 {
            return (
                Status::Unknown,
                "POP3 UNKNOWN - no target was checked".into(),
            );
        }
        let status = self.worst;
        let line = match (&self.single, self.targets) {
            (Some(one), 1) => {
                let perf = perfdata(&one.perf, self.thresholds);
                let sep = if perf.is_empty() { "" } else { " | " };
                format!("POP3 {} - {}{sep}{perf}", status.label(), one.text)
            }
            _ => self.fleet_line(),
        };
        (status, line)
    }

    fn fleet_line(&self) -> String {
        let [ok, warning, critical, unknown] = self.per_status;
        let mut text = format!(
            "POP3 {} - {} targets: {critical} critical, {warning} warning, {unknown} unknown, {ok} ok",
            self.worst.label(),
            self.targets
        );
        for p in &self.problems {
            let _ = write!(text, "; {p}");
        }
        let named = self.problems.len();
        let problems = critical + warning + unknown;
        if problems > named {
            let _ = write!(text, "; {} more", problems - named);
        }
        let _ = write!(
            text,
            " | targets={};;;0 critical={critical};;;0 warning={warning};;;0 unknown={unknown};;;0 ok={ok};;;0",
            self.targets
        );
        if let Some(days) = self.nearest_cert_days {
            let _ = write!(text, " {}", cert_perf(days, self.thresholds));
        }
        text
    }
}

impl FleetSink for Nagios {
    fn add(&mut self, outcome: &TargetOutcome) -> std::io::Result<()> {
        let judged = judge(outcome, self.thresholds, self.now);
        self.targets += 1;
        if let Some(slot) = self.per_status.get_mut(usize::from(judged.status.code())) {
            *slot += 1;
        }
        if judged.status.rank() > self.worst.rank() {
            self.worst = judged.status;
        }
        if judged.status != Status::Ok && self.problems.len() < NAMED_PROBLEMS {
            self.problems.push(judged.text.clone());
        }
        if let Some(d) = judged.perf.cert_days {
            self.nearest_cert_days = Some(self.nearest_cert_days.map_or(d, |n| n.min(d)));
        }
        self.single = (self.targets == 1).then_some(judged);
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One line of status text: control characters shown escaped, and no `|` (it would start
/// the performance data).
fn one_line(text: &str) -> String {
    display(text.as_bytes(), 300).replace('|', "/")
}

fn judge(outcome: &TargetOutcome, thresholds: Thresholds, now: i64) -> Judged {
    let target = one_line(&outcome.target);
    let perf = outcome
        .report
        .as_ref()
        .map(|r| perf_of(r, now))
        .unwrap_or_default();
    if let Some(e) = &outcome.error {
        // Exit 2 is bad usage or input: the check was not tried, so nothing is known.
        let status = if e.exit == crate::exit::USAGE {
            Status::Unknown
        } else {
            Status::Critical
        };
        return Judged {
            status,
            text: format!("{target}: {}", one_line(&e.message)),
            perf,
        };
    }
    let Some(report) = &outcome.report else {
        return Judged {
            status: Status::Unknown,
            text: format!("{target}: no report"),
            perf,
        };
    };
    let count = |sev: &str| fields::count(report, sev);
    let (violations, warnings, info) = (count("violation"), count("warning"), count("info"));
    let mut status = Status::Ok;
    let mut parts = Vec::new();
    if violations > 0 {
        status = Status::Critical;
        parts.push(format!(
            "{violations} violation{} ({})",
            plural(violations),
            rules_of(report, "violation")
        ));
    }
    if warnings > 0 {
        status = status.max(Status::Warning);
        parts.push(format!(
            "{warnings} warning{} ({})",
            plural(warnings),
            rules_of(report, "warning")
        ));
    }
    if let Some(days) = perf.cert_days {
        let crit = i64::from(thresholds.crit_days);
        let warn = i64::from(thresholds.warn_days);
        if days < 0 {
            status = Status::Critical;
            let end = fields::nearest_cert_end(report, now).map_or("", |(_, date)| date);
            parts.push(format!("certificate expired ({})", one_line(end)));
        } else if days <= crit {
            status = Status::Critical;
            parts.push(format!("certificate expires in {days} days"));
        } else if days <= warn {
            status = status.max(Status::Warning);
            parts.push(format!("certificate expires in {days} days"));
        }
    }
    if parts.is_empty() {
        parts.push(format!("no violation, no warning, {info} info"));
    }
    Judged {
        status,
        text: format!("{target}: {}", parts.join(", ")),
        perf,
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The distinct rules at `severity`, in the order found, at most four named.
fn rules_of(report: &Value, severity: &str) -> String {
    let mut rules: Vec<&str> = Vec::new();
    let mut more = 0usize;
    for f in fields::findings(report) {
        let Some(rule) = f["rule"].as_str() else {
            continue;
        };
        if f["severity"] != severity || rules.contains(&rule) {
            continue;
        }
        if rules.len() < 4 {
            rules.push(rule);
        } else {
            more += 1;
        }
    }
    let mut s = one_line(&rules.join(" "));
    if more > 0 {
        let _ = write!(s, " +{more}");
    }
    s
}

fn perf_of(report: &Value, now: i64) -> Perf {
    let walks = walks(report);
    // The timings of the first walk that has them (a bare host: the first transport that
    // answered); the nearest certificate end of them all.
    let timing = |step: &str| walks.iter().find_map(|w| w["timings"][step].as_f64());
    let cert_days = fields::nearest_cert_end(report, now).map(|(d, _)| d);
    Perf {
        connect: timing("connect"),
        tls: timing("tls"),
        greeting: timing("greeting"),
        login: timing("login"),
        cert_days,
    }
}

fn perfdata(p: &Perf, t: Thresholds) -> String {
    let mut out: Vec<String> = [
        ("connect", p.connect),
        ("tls", p.tls),
        ("greeting", p.greeting),
        ("login", p.login),
    ]
    .into_iter()
    .filter_map(|(label, secs)| secs.map(|s| format!("{label}={s:.6}s;;;0")))
    .collect();
    if let Some(days) = p.cert_days {
        out.push(cert_perf(days, t));
    }
    out.join(" ")
}

/// Days left, with ranges in the plugin guidelines' syntax: `30:` alerts below 30 (a bare
/// `30` would alert above it).
fn cert_perf(days: i64, t: Thresholds) -> String {
    format!("cert_days={days};{}:;{}:;0", t.warn_days, t.crit_days)
}

#[cfg(test)]
mod tests {
    use super::super::TargetError;
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    /// 2026-12-02 00:00:00 UTC.
    const NOW: i64 = 1_796_169_600;

    fn outcome(report: Option<Value>, error: Option<(u8, &str)>) -> TargetOutcome {
        TargetOutcome {
            recording: None,
            target: "pop3s://mail.example.net".into(),
            line: 1,
            report,
            error: error.map(|(exit, m)| TargetError {
                exit,
                message: m.into(),
            }),
            elapsed: Duration::from_millis(40),
        }
    }

    fn report(violations: u64, warnings: u64, not_after: &str) -> Value {
        let mut findings = Vec::new();
        for _ in 0..violations {
            findings.push(json!({"rule": "ST-001", "severity": "violation"}));
        }
        for _ in 0..warnings {
            findings.push(json!({"rule": "GEN-006", "severity": "warning"}));
        }
        json!({
            "summary": {"violation": violations, "warning": warnings, "info": 2},
            "findings": findings,
            "tls": {"chain": [{"not_after": not_after}]},
            "timings": {"connect": 0.0012, "tls": 0.03, "greeting": 0.001, "login": null},
        })
    }

    fn verdict(outcomes: &[TargetOutcome]) -> (Status, String) {
        let mut n = Nagios::new(Thresholds::default(), NOW);
        for o in outcomes {
            let _ = n.add(o);
        }
        let _ = n.finish();
        n.verdict()
    }

    #[test]
    fn each_state_has_its_cause() {
        let far = "Jan  1 00:00:00 4096 +00:00";
        let (s, line) = verdict(&[outcome(Some(report(0, 0, far)), None)]);
        assert_eq!(s, Status::Ok, "{line}");
        assert!(line.starts_with("POP3 OK - pop3s://mail.example.net: no violation"));
        assert_eq!(
            verdict(&[outcome(Some(report(0, 1, far)), None)]).0,
            Status::Warning
        );
        let (s, line) = verdict(&[outcome(Some(report(2, 1, far)), None)]);
        assert_eq!(s, Status::Critical);
        assert!(
            line.contains("2 violations (ST-001), 1 warning (GEN-006)"),
            "{line}"
        );
        let refused = outcome(None, Some((3, "connection refused")));
        assert_eq!(verdict(&[refused]).0, Status::Critical);
        let bad = outcome(None, Some((2, "--sni needs a name")));
        assert_eq!(verdict(&[bad]).0, Status::Unknown);
        assert_eq!(verdict(&[]).0, Status::Unknown);
    }

    #[test]
    fn the_certificate_days_have_thresholds() {
        // An hour past whole days from NOW (2026-12-02 00:00 UTC).
        let status = |not_after: &str| verdict(&[outcome(Some(report(0, 0, not_after)), None)]);
        assert_eq!(status("Jan  2 01:00:00 2027 +00:00").0, Status::Ok);
        let (s, line) = status("Jan  1 01:00:00 2027 +00:00");
        assert_eq!(s, Status::Warning, "{line}");
        assert!(line.contains("certificate expires in 30 days"), "{line}");
        assert!(line.ends_with(" cert_days=30;30:;7:;0"), "{line}");
        assert_eq!(status("Dec 10 01:00:00 2026 +00:00").0, Status::Warning);
        assert_eq!(status("Dec  9 01:00:00 2026 +00:00").0, Status::Critical);
        let (s, line) = status("Nov 29 01:00:00 2026 +00:00");
        assert_eq!(s, Status::Critical);
        assert!(
            line.contains("certificate expired (Nov 29 01:00:00 2026 +00:00)"),
            "{line}"
        );
    }

    #[test]
    fn the_line_is_one_line_with_perfdata() {
        let mut r = report(1, 0, "Jan  1 00:00:00 4096 +00:00");
        r["findings"][0]["rule"] = json!("X|\n\u{1b}[2J");
        let (_, line) = verdict(&[outcome(Some(r), None)]);
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line:?}");
        let (text, perf) = line.split_once(" | ").unwrap_or_default();
        assert!(!text.contains('|'), "{text}");
        assert_eq!(
            perf,
            "connect=0.001200s;;;0 tls=0.030000s;;;0 greeting=0.001000s;;;0 cert_days=755717;30:;7:;0"
        );
    }

    #[test]
    fn a_fleet_names_its_first_problems_and_counts_the_rest() {
        let far = "Jan  1 00:00:00 4096 +00:00";
        let mut all = vec![outcome(Some(report(0, 0, far)), None)];
        for _ in 0..4 {
            all.push(outcome(Some(report(1, 0, far)), None));
        }
        all.push(outcome(None, Some((2, "bad line"))));
        all.push(outcome(
            Some(report(0, 0, "Dec 10 00:00:00 2026 +00:00")),
            None,
        ));
        let (s, line) = verdict(&all);
        assert_eq!(s, Status::Critical, "{line}");
        assert!(
            line.starts_with("POP3 CRITICAL - 7 targets: 4 critical, 1 warning, 1 unknown, 1 ok; "),
            "{line}"
        );
        assert!(
            line.contains("; 3 more | targets=7;;;0 critical=4;;;0 warning=1;;;0"),
            "{line}"
        );
        assert!(line.ends_with(" cert_days=8;30:;7:;0"), "{line}");
    }
}
