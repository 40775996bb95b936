//! `--junit FILE`: the fleet as JUnit XML for CI dashboards (GitLab's test report, Jenkins'
//! JUnit plugin, Azure DevOps). One `<testsuite>` per target, written as the target finishes
//! (nothing is held), inside one `<testsuites>` closed at the end.
//!
//! In a suite, one `<testcase>` per rule the target's findings name:
//! - a rule with a violation is a `<failure type="violation">`: what fails the run (exit 1)
//!   fails the CI test;
//! - a rule with warnings (or info only) is a passing testcase that carries its severity as a
//!   property and its messages in `<system-out>`. Both GitLab and Jenkins count every
//!   `<failure>` as a failed test (a red pipeline, an UNSTABLE build) whatever its `type`, so
//!   a warning as a failure would break CI on what `check` itself passes (exit 0); both show a
//!   passing test's output on its page, so the warning is still read where it is.
//!
//! A target with no finding is one passing testcase (`conformance`), so it is counted; a
//! target that could not be checked is one testcase with an `<error>` (GitLab and Jenkins show
//! errors apart from failures: the server was not judged).
//!
//! Every text is a server's or the user's: control characters (not even legal in XML 1.0) are
//! shown escaped first, then the five XML characters are escaped.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::{FleetSink, TargetOutcome};
use crate::private_file::{self, Existing};
use popscope_core::sanitize::is_invisible_or_reordering;

/// The messages kept per rule in one testcase: a rule that fired a thousand times on one
/// server is read from its first lines.
const MESSAGES_PER_RULE: usize = 20;

pub(crate) struct Junit<W: Write> {
    out: W,
}

impl Junit<std::io::BufWriter<std::fs::File>> {
    /// Creates `path` (0600, no symbolic link, no existing file unless `existing` says so) and
    /// writes the opening of the document.
    pub(crate) fn create(path: &Path, existing: Existing) -> std::io::Result<Self> {
        let file = private_file::open(path, existing)
            .map_err(|e| std::io::Error::new(e.kind(), private_file::explain(path, &e)))?;
        Junit::new(std::io::BufWriter::new(file))
    }
}

impl<W: Write> Junit<W> {
    pub(crate) fn new(mut out: W) -> std::io::Result<Self> {
        out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")?;
        out.write_all(b"<testsuites name=\"popscope check\">\n")?;
        Ok(Junit { out })
    }

    #[cfg(test)]
    pub(crate) fn into_inner(self) -> W {
        self.out
    }
}

/// One rule's findings on one target.
#[derive(Default)]
struct RuleCase<'a> {
    summary: &'a str,
    rfc: &'a str,
    worst: Worst,
    messages: Vec<&'a str>,
    count: usize,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Worst {
    #[default]
    Info,
    Warning,
    Violation,
}

impl Worst {
    fn of(severity: &str) -> Worst {
        match severity {
            "violation" => Worst::Violation,
            "warning" => Worst::Warning,
            _ => Worst::Info,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Worst::Info => "info",
            Worst::Warning => "warning",
            Worst::Violation => "violation",
        }
    }
}

fn cases(report: &Value) -> BTreeMap<&str, RuleCase<'_>> {
    let mut by_rule: BTreeMap<&str, RuleCase<'_>> = BTreeMap::new();
    for f in super::fields::findings(report) {
        let text = |k: &str| f[k].as_str().unwrap_or("");
        let case = by_rule.entry(text("rule")).or_default();
        case.summary = text("summary");
        case.rfc = text("rfc");
        case.worst = case.worst.max(Worst::of(text("severity")));
        case.count += 1;
        if case.messages.len() < MESSAGES_PER_RULE {
            case.messages.push(text("message"));
        }
    }
    by_rule
}

impl<W: Write> FleetSink for Junit<W> {
    fn add(&mut self, outcome: &TargetOutcome) -> std::io::Result<()> {
        let target = attr(&outcome.target);
        let time = outcome.elapsed.as_secs_f64();
        let mut body = String::new();
        let (tests, failures, errors) = match (&outcome.error, &outcome.report) {
            (Some(e), _) => {
                body.push_str(&format!(
                    "    <testcase classname=\"{target}\" name=\"check\" time=\"{time:.3}\">\n      <error type=\"exit {}\" message=\"{}\"/>\n    </testcase>\n",
                    e.exit,
                    attr(&e.message)
                ));
                (1, 0, 1)
            }
            (None, Some(report)) => {
                let cases = cases(report);
                let failures = cases
                    .values()
                    .filter(|c| c.worst == Worst::Violation)
                    .count();
                for (rule, case) in &cases {
                    testcase(&mut body, &target, rule, case);
                }
                if cases.is_empty() {
                    body.push_str(&format!(
                        "    <testcase classname=\"{target}\" name=\"conformance\"/>\n"
                    ));
                }
                (cases.len().max(1), failures, 0)
            }
            (None, None) => {
                body.push_str(&format!(
                    "    <testcase classname=\"{target}\" name=\"check\">\n      <error message=\"no report\"/>\n    </testcase>\n"
                ));
                (1, 0, 1)
            }
        };
        write!(
            self.out,
            "  <testsuite name=\"{target}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time:.3}\">\n    <properties><property name=\"line\" value=\"{}\"/></properties>\n{body}  </testsuite>\n",
            outcome.line
        )?;
        // Each suite reaches the file as its target finishes: a dashboard polling the file,
        // or a run killed midway, has every finished target.
        self.out.flush()
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.out.write_all(b"</testsuites>\n")?;
        self.out.flush()
    }
}

fn testcase(body: &mut String, target: &str, rule: &str, case: &RuleCase<'_>) {
    let name = attr(&format!("{rule}: {}", case.summary));
    body.push_str(&format!(
        "    <testcase classname=\"{target}\" name=\"{name}\">\n      <properties><property name=\"severity\" value=\"{}\"/><property name=\"rfc\" value=\"{}\"/><property name=\"findings\" value=\"{}\"/></properties>\n",
        case.worst.name(),
        attr(case.rfc),
        case.count
    ));
    let mut out = case
        .messages
        .iter()
        .map(|m| format!("{}: {m}", rule))
        .collect::<Vec<_>>()
        .join("\n");
    if case.count > case.messages.len() {
        out.push_str(&format!("\n… {} more", case.count - case.messages.len()));
    }
    if case.worst == Worst::Violation {
        let first = case.messages.first().copied().unwrap_or("");
        body.push_str(&format!(
            "      <failure type=\"violation\" message=\"{}\">{}</failure>\n",
            attr(first),
            text(&out)
        ));
    } else {
        body.push_str(&format!("      <system-out>{}</system-out>\n", text(&out)));
    }
    body.push_str("    </testcase>\n");
}

/// A text made legal XML 1.0: every control character but the line feed (between lines of
/// element text), the invisible and reordering ones, and the noncharacters XML forbids,
/// shown as `\xNN` / `\u{NNNN}` as the sanitizer shows them; then the markup escaped.
fn xml_escape(s: &str, keep_newline: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if keep_newline => out.push('\n'),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_invisible_or_reordering(c) || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {
                out.push_str(&format!("\\u{{{:04X}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// An attribute value: a line break would be normalized to a space by the parser, so it is
/// shown escaped like any control.
fn attr(s: &str) -> String {
    xml_escape(s, false)
}

fn text(s: &str) -> String {
    xml_escape(s, true)
}

#[cfg(test)]
mod tests {
    use super::super::TargetError;
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn every_control_and_markup_character_is_escaped() {
        assert_eq!(attr("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(attr("\u{1b}[2J\u{0}\n"), "\\x1b[2J\\x00\\x0a");
        assert_eq!(text("one\ntwo\u{7}"), "one\ntwo\\x07");
        assert_eq!(attr("\u{202E}x\u{FFFF}"), "\\u{202E}x\\u{FFFF}");
        assert_eq!(attr("Grüße"), "Grüße");
    }

    #[test]
    fn a_failed_target_is_one_error() {
        let mut j = Junit::new(Vec::new()).unwrap_or_else(|e| panic!("{e}"));
        let outcome = TargetOutcome {
            target: "pop3://a".into(),
            line: 3,
            report: None,
            error: Some(TargetError {
                exit: 3,
                message: "refused".into(),
            }),
            elapsed: Duration::from_millis(5),
            recording: None,
        };
        j.add(&outcome).unwrap_or_else(|e| panic!("{e}"));
        let out = String::from_utf8(j.into_inner()).unwrap_or_default();
        assert!(
            out.contains("tests=\"1\" failures=\"0\" errors=\"1\""),
            "{out}"
        );
        assert!(
            out.contains("<error type=\"exit 3\" message=\"refused\"/>"),
            "{out}"
        );
        assert!(
            !out.contains("</testsuites>"),
            "closed before finish: {out}"
        );
    }

    fn checked(line: usize, findings: Value) -> TargetOutcome {
        let n = |sev: &str| {
            findings
                .as_array()
                .map_or(0, |a| a.iter().filter(|f| f["severity"] == sev).count())
        };
        TargetOutcome {
            target: format!("pop3s://mail{line}.example.net:995"),
            line,
            report: Some(json!({
                "summary": {"violation": n("violation"), "warning": n("warning"), "info": n("info")},
                "findings": findings,
            })),
            error: None,
            elapsed: Duration::from_millis(1234),
            recording: None,
        }
    }

    /// A server's text as it could reach the report: every C0 control, markup, a bidi
    /// override, and what looks like the end of the document.
    const HOSTILE: &str = "-ERR \u{1b}[2J <x>&amp;\"' ]]></failure></testsuites>\u{0}\u{8}\u{202E}";

    #[test]
    fn the_document_parses_and_counts_hold() {
        let mut j = Junit::new(Vec::new()).unwrap_or_else(|e| panic!("{e}"));
        let hostile: String = (0u8..32).map(char::from).collect::<String>() + HOSTILE;
        let outcomes = [
            checked(1, json!([])),
            checked(
                2,
                json!([
                    {"rule": "ST-001", "severity": "violation", "summary": "s", "rfc": "RFC 1939", "message": hostile},
                    {"rule": "ST-001", "severity": "violation", "summary": "s", "rfc": "RFC 1939", "message": "again"},
                    {"rule": "GEN-006", "severity": "warning", "summary": "w", "rfc": "RFC 2449", "message": "a warning"},
                    {"rule": "CAPA-012", "severity": "info", "summary": "i", "rfc": "RFC 2449", "message": "info"},
                ]),
            ),
            TargetOutcome {
                target: "pop3://down<&>.example.net".into(),
                line: 3,
                report: None,
                error: Some(TargetError {
                    exit: 4,
                    message: "TLS: certificate expired".into(),
                }),
                elapsed: Duration::from_secs(5),
                recording: None,
            },
        ];
        for o in &outcomes {
            j.add(o).unwrap_or_else(|e| panic!("{e}"));
        }
        j.finish().unwrap_or_else(|e| panic!("{e}"));
        let xml = String::from_utf8(j.into_inner()).unwrap_or_else(|e| panic!("{e}"));
        let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suites: Vec<_> = root
            .children()
            .filter(|n| n.has_tag_name("testsuite"))
            .collect();
        assert_eq!(suites.len(), 3);
        let attr = |n: &roxmltree::Node<'_, '_>, a: &str| n.attribute(a).unwrap_or("").to_owned();
        let cases = |n: &roxmltree::Node<'_, '_>| {
            n.children().filter(|c| c.has_tag_name("testcase")).count()
        };
        // The clean target: one passing testcase.
        assert_eq!(
            (attr(&suites[0], "tests"), cases(&suites[0])),
            ("1".into(), 1)
        );
        // Three rules, one failing; the warning passes with its text in system-out.
        assert_eq!(attr(&suites[1], "tests"), "3");
        assert_eq!(attr(&suites[1], "failures"), "1");
        assert_eq!(cases(&suites[1]), 3);
        let failures: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("failure"))
            .collect();
        assert_eq!(failures.len(), 1);
        let message = attr(&failures[0], "message");
        assert!(!message.chars().any(|c| c.is_control()), "{message:?}");
        assert!(
            message.ends_with("]]></failure></testsuites>\\x00\\x08\\u{202E}"),
            "{message}"
        );
        assert!(message.starts_with("\\x00\\x01"), "{message}");
        assert!(failures[0].text().unwrap_or("").contains("ST-001: again"));
        let out: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("system-out"))
            .filter_map(|n| n.text())
            .collect();
        assert_eq!(out, ["CAPA-012: info", "GEN-006: a warning"]);
        // The failed target: one error, its target name intact.
        assert_eq!(attr(&suites[2], "name"), "pop3://down<&>.example.net");
        assert_eq!(attr(&suites[2], "errors"), "1");
        let errors: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("error"))
            .collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(attr(&errors[0], "message"), "TLS: certificate expired");
        assert_eq!(attr(&errors[0], "type"), "exit 4");
    }

    #[test]
    fn rules_of_a_bare_host_are_gathered_over_its_transports() {
        let report = json!({"transports": [
            {"findings": [{"rule": "B-1", "severity": "warning", "message": "w"}]},
            {"findings": [{"rule": "B-1", "severity": "violation", "message": "v"},
                          {"rule": "A-1", "severity": "info", "message": "i"}]},
        ]});
        let c = cases(&report);
        assert_eq!(c.keys().copied().collect::<Vec<_>>(), ["A-1", "B-1"]);
        assert!(c["B-1"].worst == Worst::Violation && c["B-1"].count == 2);
    }
}
