//! Every rule fires on a transcript made to break it and stays silent on one that does not.
//!
//! Fixtures live in `tests/fixtures/rules/*.trace` (the text format of `popscope check
//! --transcript`) and state what they expect in comment lines:
//!   `# expect: ST-009 violation`  the rule fires at least once with that severity
//!   `# silent: ST-009`            the rule does not fire at all
//!   `# silent: CAPA-001 violation` the rule does not fire with that severity
//!   `# after: FILE SECONDS`       a second connection of the same client, opened SECONDS after
//!                                 the one FILE holds: the rules judged across connections
//!                                 (CL-016) compare the two
//!
//! Fixtures are replayed as `check --transcript` replays a file: the client is judged too
//! (`Config::judge_client`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use popscope::transcript::{Replayed, replay, text};
use popscope_core::rules::{CATALOG, Scope, cross};
use popscope_core::{Config, Finding, Severity, Time};

/// The engine's settings for a fixture: a transcript's client may be anyone, so it is judged.
fn judging_client() -> Config {
    Config {
        judge_client: true,
        ..Config::default()
    }
}

/// A fixture replayed as `check --transcript` would.
fn replay_file(path: &Path) -> Result<Replayed, String> {
    let src = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let entries = text::parse(&src).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(replay(&entries, judging_client()))
}

/// The findings across connections a fixture's `# after: FILE SECONDS` line asks for: FILE
/// replayed as the client's earlier connection, `later` opened SECONDS after it.
fn across_connections(src: &str, dir: &Path, later: &Replayed) -> Result<Vec<Finding>, String> {
    let Some(line) = src.lines().find_map(|l| l.strip_prefix("# after:")) else {
        return Ok(Vec::new());
    };
    let mut words = line.split_whitespace();
    let (Some(file), Some(secs)) = (
        words.next(),
        words.next().and_then(|w| w.parse::<u64>().ok()),
    ) else {
        return Err(format!("'# after:{line}' wants FILE SECONDS"));
    };
    let earlier = replay_file(&dir.join(file))?;
    let opened = Time(secs * 1_000_000);
    Ok(cross::login_delay(&earlier.session, &later.session, opened)
        .into_iter()
        .collect())
}

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
        let got = replay(&entries, judging_client());
        let text = String::from_utf8_lossy(&src);
        let dir = path.parent().unwrap_or(Path::new("."));
        let across = match across_connections(&text, dir, &got) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let seen: Vec<(String, Severity)> = got
            .findings
            .iter()
            .map(|f| &f.finding)
            .chain(&across)
            .map(|f| (f.rule.id.to_owned(), f.severity))
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

#[test]
fn oauth_messages_say_what_the_server_did() {
    let m = message_of(
        &replayed("oauth-003.google.trace", Config::default()),
        "OAUTH-003",
    );
    assert!(
        m.contains("status 400: the token was refused (Gmail sends 400 for an expired, revoked or wrong-scope token"),
        "{m}"
    );
    assert!(!m.contains("found the request malformed"), "{m}");
    // `auth=Bearer` and blanks is no login (live and redacted alike: the redaction test).
    let m = message_of(
        &replayed("oauth-003.blank-token.trace", Config::default()),
        "OAUTH-003",
    );
    assert!(
        m.starts_with("The server's error challenge to AUTH OAUTHBEARER"),
        "{m}"
    );
}

/// `trace` with every secret in its client lines masked as a recording keeps them
/// (`popscope_core::redact::client_line`): the engine walks beside it to know which client
/// lines answer a SASL challenge, and of which mechanism.
fn redacted(trace: &str) -> String {
    use popscope_core::{Engine, Event, Time, TransportEvent};
    let mut engine = Engine::new(Config::default());
    let (mut mechanism, mut sasl): (Option<String>, Option<String>) = (None, None);
    let mut out = String::new();
    for (i, line) in trace.lines().enumerate() {
        let now = Time(i as u64 * 1000);
        let mut events = Vec::new();
        if let Some(content) = line.strip_prefix("C: ") {
            let shown = popscope_core::redact::client_line(content.as_bytes(), sasl.as_deref())
                .unwrap_or_else(|| content.as_bytes().to_vec());
            out.push_str("C: ");
            out.push_str(&String::from_utf8_lossy(&shown));
            out.push('\n');
            sasl = None;
            events = engine.feed_client(now, format!("{content}\r\n").as_bytes());
        } else {
            out.push_str(line);
            out.push('\n');
            if let Some(content) = line.strip_prefix("S: ") {
                events = engine.feed_server(now, format!("{content}\r\n").as_bytes());
            } else if line == "-- tls" {
                let tls = TransportEvent::TlsEstablished {
                    cert_requested: false,
                    client_cert: false,
                };
                events = engine.feed_transport(now, tls);
            }
        }
        for e in events {
            match e {
                Event::Command { command, .. } => mechanism = command.mechanism(),
                Event::Challenge { .. } => sasl = mechanism.clone(),
                _ => {}
            }
        }
    }
    out
}

/// Client lines of `trace` whose base64 (on the AUTH line or alone) holds a fixture's token.
fn tokens_in(trace: &str) -> usize {
    trace
        .lines()
        .filter_map(|l| l.strip_prefix("C: "))
        .filter(|l| {
            let b64 = l.rsplit(' ').next().unwrap_or(l);
            let raw = popscope_core::auth::b64decode(b64.as_bytes()).unwrap_or_default();
            let raw = String::from_utf8_lossy(&raw);
            raw.contains("ya29") || raw.contains("eyJ0eXAi")
        })
        .count()
}

#[test]
fn a_redacted_oauth_recording_gives_the_findings_of_the_live_session() {
    let mut checked = 0;
    for path in fixtures() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !(name.starts_with("oauth-") || name.starts_with("cl-015")) {
            continue;
        }
        let live = std::fs::read_to_string(&path).unwrap_or_default();
        let recorded = redacted(&live);
        let findings = |trace: &str| -> Vec<(String, Severity, String)> {
            let entries = text::parse(trace.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
            replay(&entries, judging_client())
                .findings
                .iter()
                .map(|f| {
                    let f = &f.finding;
                    (f.rule.id.to_owned(), f.severity, f.message.clone())
                })
                .collect()
        };
        assert_eq!(findings(&recorded), findings(&live), "{name}");
        assert_eq!(
            tokens_in(&recorded),
            0,
            "{name}: a token left in\n{recorded}"
        );
        if tokens_in(&live) > 0 {
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} OAuth fixtures carry a token");
}
