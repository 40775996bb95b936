//! Every rule fires on a transcript made to break it and stays silent on one that does not.
//!
//! Fixtures live in `tests/fixtures/rules/*.trace` (the text format of `popscope check
//! --transcript`) and state what they expect in comment lines:
//!   `# expect: ST-009 violation`  the rule fires at least once with that severity
//!   `# silent: ST-009`            the rule does not fire at all
//!   `# silent: CAPA-001 violation` the rule does not fire with that severity

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use popscope::transcript::{replay, text};
use popscope_core::rules::{CATALOG, Scope};
use popscope_core::{Config, Severity};

struct Expectation {
    rule: String,
    severity: Option<Severity>,
    fires: bool,
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "trace"));
    files.sort();
    files
}

fn expectations(src: &str, path: &Path) -> Vec<Expectation> {
    let mut v = Vec::new();
    for line in src.lines() {
        let (fires, rest) = if let Some(r) = line.strip_prefix("# expect:") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("# silent:") {
            (false, r)
        } else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let rule = words.next().unwrap_or_default().to_owned();
        assert!(
            popscope_core::rules::find(&rule).is_some(),
            "{}: unknown rule {rule}",
            path.display()
        );
        let severity = words.next().map(|w| {
            Severity::parse(w).unwrap_or_else(|| panic!("{}: bad severity {w}", path.display()))
        });
        assert!(
            !fires || severity.is_some(),
            "{}: '# expect: {rule}' needs a severity",
            path.display()
        );
        v.push(Expectation {
            rule,
            severity,
            fires,
        });
    }
    v
}

#[test]
fn every_fixture_meets_its_expectations() {
    let files = fixtures();
    assert!(files.len() > 100, "fixtures missing: found {}", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let src = std::fs::read(path).unwrap_or_default();
        let entries = match text::parse(&src) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let exp = expectations(&String::from_utf8_lossy(&src), path);
        assert!(!exp.is_empty(), "{} states no expectation", path.display());
        let got = replay(&entries, Config::default());
        let seen: Vec<(String, Severity)> = got
            .findings
            .iter()
            .map(|f| (f.finding.rule.id.to_owned(), f.finding.severity))
            .collect();
        for e in exp {
            let hit = seen
                .iter()
                .any(|(id, sev)| *id == e.rule && e.severity.is_none_or(|s| s == *sev));
            if hit != e.fires {
                failures.push(format!(
                    "{}: {} {}{} — findings: {:?}",
                    path.file_name()
                        .map(|n| n.to_string_lossy())
                        .unwrap_or_default(),
                    if e.fires {
                        "expected"
                    } else {
                        "did not expect"
                    },
                    e.rule,
                    e.severity
                        .map(|s| format!(" {}", s.as_str()))
                        .unwrap_or_default(),
                    seen
                ));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_passive_rule_has_a_firing_and_a_silent_fixture() {
    let mut fire = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for path in fixtures() {
        let src = std::fs::read_to_string(&path).unwrap_or_default();
        for e in expectations(&src, &path) {
            if e.fires {
                fire.insert(e.rule);
            } else {
                silent.insert(e.rule);
            }
        }
    }
    let mut missing = Vec::new();
    for r in CATALOG {
        if matches!(r.scope, Scope::Passive | Scope::PassiveAndProbe) {
            if !fire.contains(r.id) {
                missing.push(format!("{} has no firing fixture", r.id));
            }
            if !silent.contains(r.id) {
                missing.push(format!("{} has no silent fixture", r.id));
            }
        }
    }
    assert!(missing.is_empty(), "\n{}", missing.join("\n"));
}

/// The findings of one fixture replayed with `config`: (rule, severity, message).
fn replayed(name: &str, config: Config) -> Vec<(String, Severity, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rules")
        .join(name);
    let src = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let entries = text::parse(&src).unwrap_or_else(|e| panic!("{name}: {e}"));
    replay(&entries, config)
        .findings
        .iter()
        .map(|f| {
            (
                f.finding.rule.id.to_owned(),
                f.finding.severity,
                f.finding.message.clone(),
            )
        })
        .collect()
}

fn message_of(found: &[(String, Severity, String)], rule: &str) -> String {
    found
        .iter()
        .find(|(id, _, _)| id == rule)
        .map(|(_, _, m)| m.clone())
        .unwrap_or_else(|| panic!("no {rule} in {found:?}"))
}

#[test]
fn the_made_up_keyword_is_a_violation_only_when_popscope_probes() {
    let passive = replayed("gen-006.passive.trace", Config::default());
    assert!(
        passive
            .iter()
            .any(|(id, s, _)| id == "GEN-006" && *s == Severity::Warning),
        "{passive:?}"
    );
    let active = replayed(
        "gen-006.passive.trace",
        Config {
            active_probes: true,
            ..Config::default()
        },
    );
    assert!(
        active
            .iter()
            .any(|(id, s, _)| id == "GEN-006" && *s == Severity::Violation),
        "{active:?}"
    );
}

#[test]
fn capa_messages_say_what_the_server_did() {
    let m = message_of(
        &replayed("capa-001.answered.trace", Config::default()),
        "CAPA-001",
    );
    assert!(!m.contains("not implemented"), "{m}");
    assert!(m.contains("answered +OK earlier"), "{m}");
    let m = message_of(
        &replayed("capa-002.misspelled.trace", Config::default()),
        "CAPA-002",
    );
    assert!(m.contains("EXPIRENEVER (meant: EXPIRE NEVER)"), "{m}");
    assert!(m.contains("PIPELINNING (meant: PIPELINING)"), "{m}");
    let m = message_of(
        &replayed("capa-006.unlisted.trace", Config::default()),
        "CAPA-006",
    );
    assert!(m.contains("TOP works but CAPA before login"), "{m}");
    let m = message_of(
        &replayed("sasl-010.fire.trace", Config::default()),
        "CAPA-003",
    );
    assert!(m.contains("drops SASL"), "{m}");
}
