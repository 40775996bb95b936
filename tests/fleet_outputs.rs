//! A fleet run's outputs as a user gets them from `check --targets`: the summary after the
//! text lines, `--junit FILE` read by a real XML parser, `--nagios` for a fleet (one line, the
//! plugin's exit code). The servers: the demo (clean, and with a violation quirk) and a port
//! nothing listens on.

mod common;

use common::fleet::{counting, dead_port, private};
use common::tmux::{Tmux, tmux_available};
use common::{popscope, runtime, start};
use popscope::server::TlsMode;
use popscope_core::server::Quirk;

/// `check --targets` over `targets` (written to a 0600 file) with `extra`, no credentials.
fn fleet(name: &str, targets: &str, extra: &[&str]) -> std::process::Output {
    let file = private(name, targets);
    let mut args = vec!["check", "--targets", &file, "--injection-wait", "0"];
    args.extend_from_slice(extra);
    popscope(&args)
}

#[test]
fn the_text_run_ends_with_the_summary_table() {
    let rt = runtime();
    let clean = start(&rt, TlsMode::None, None);
    let dead = dead_port();
    let targets = format!("{}\npop3://127.0.0.1:{dead}\n", clean.url());
    let o = fleet("outputs-text", &targets, &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{text}");
    // The per-target lines come first, the summary after them, naming the failed target.
    let summary = text
        .find("2 targets")
        .unwrap_or_else(|| panic!("no summary: {text}"));
    assert!(text[..summary].contains(&clean.url()), "{text}");
    assert!(
        text[summary..].contains(&format!("127.0.0.1:{dead}")),
        "{text}"
    );
}

#[test]
fn junit_has_a_testsuite_per_target_violations_as_failures_and_failed_targets_as_errors() {
    let rt = runtime();
    let clean = start(&rt, TlsMode::None, None);
    let broken = start(&rt, TlsMode::None, Some(Quirk::LowercaseStatus));
    let dead = dead_port();
    let targets = format!(
        "# a clean server, a broken one and nothing\n{}\n{}\npop3://127.0.0.1:{dead}\n",
        clean.url(),
        broken.url()
    );
    let junit = common::scratch_path("outputs.junit.xml");
    let _ = std::fs::remove_file(&junit);
    let path = junit.display().to_string();
    let o = fleet("outputs-junit", &targets, &["--json", "--junit", &path]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    // The file is not replaced without --force.
    let again = fleet(
        "outputs-junit-again",
        &targets,
        &["--json", "--junit", &path],
    );
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("{e}"));
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let suites: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 3, "{xml}");
    let of = |url: &str| {
        suites
            .iter()
            .find(|s| s.attribute("name").is_some_and(|n| n.contains(url)))
            .unwrap_or_else(|| panic!("no suite for {url}: {xml}"))
    };
    let count =
        |s: &roxmltree::Node, tag: &str| s.descendants().filter(|n| n.has_tag_name(tag)).count();
    let (clean_suite, broken_suite) = (of(&clean.url()), of(&broken.url()));
    let dead_suite = of(&format!("127.0.0.1:{dead}"));
    assert_eq!(count(clean_suite, "failure"), 0, "{xml}");
    assert!(count(broken_suite, "failure") >= 1, "{xml}");
    let failed_rules: Vec<&str> = broken_suite
        .descendants()
        .filter(|n| n.has_tag_name("testcase") && n.children().any(|c| c.has_tag_name("failure")))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert!(
        failed_rules.iter().any(|r| r.contains("GEN-002")),
        "{failed_rules:?}"
    );
    assert_eq!(count(dead_suite, "error"), 1, "{xml}");
    // Private, as every file popscope writes.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&junit).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
}

#[test]
fn nagios_for_a_fleet_is_one_line_and_the_worst_status() {
    let rt = runtime();
    let clean = start(&rt, TlsMode::None, None);
    let broken = start(&rt, TlsMode::None, Some(Quirk::LowercaseStatus));
    let line = |o: &std::process::Output| {
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.contains(" | targets="), "perfdata: {out}");
        out
    };
    // The plain demo offers passwords in the clear (USR-002, a warning); over implicit TLS it
    // has nothing above info.
    let tls = start(&rt, TlsMode::Implicit, None);
    let ca = tls.certs.ca.display().to_string();
    let tls_twice = format!("{}\n{}\n", tls.url(), tls.url());
    let ok = fleet(
        "outputs-nagios-ok",
        &tls_twice,
        &["--nagios", "--ca-file", &ca],
    );
    let text = line(&ok);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("POP3 OK - 2 targets: 0 critical"),
        "{text}"
    );
    let warning = fleet(
        "outputs-nagios-warn",
        &format!("{}\n", clean.url()),
        &["--nagios"],
    );
    assert_eq!(warning.status.code(), Some(1), "{warning:?}");
    let both = format!("{}\n{}\n", clean.url(), broken.url());
    let critical = fleet("outputs-nagios-crit", &both, &["--nagios"]);
    let text = line(&critical);
    assert_eq!(critical.status.code(), Some(2), "{text}");
    assert!(
        text.starts_with("POP3 CRITICAL - 2 targets: 1 critical"),
        "{text}"
    );
}

/// The progress bar as a person sees it, in tmux: the total known from the start (the file was
/// read once to check it), one bar below the target lines, never a stale copy between them,
/// and gone when the summary comes.
#[test]
fn on_a_terminal_one_bar_stays_below_the_lines_and_goes_before_the_summary() {
    if !tmux_available() {
        return;
    }
    let (ports, _) = counting(1, 300);
    let targets: String = (0..6)
        .map(|_| format!("pop3://127.0.0.1:{}\n", ports[0]))
        .collect();
    let file = private("outputs-tmux", &targets);
    let bin = env!("CARGO_BIN_EXE_popscope");
    let t = Tmux::start(
        &format!("{bin} check --targets {file} --jobs 1 --injection-wait 0; echo EXIT=$?"),
        140,
        50,
    );
    let bars = |screen: &str| screen.lines().filter(|l| l.contains(" done · ")).count();
    let (mut seen_total, mut seen_lines) = (false, false);
    let started = std::time::Instant::now();
    loop {
        let s = t.screen();
        if s.contains("EXIT=") {
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "no end:\n{s}");
        assert!(bars(&s) <= 1, "a stale bar in the scrollback:\n{s}");
        // Never the spinner of a total still unknown.
        assert!(!s.contains("reading the targets"), "{s}");
        seen_total |= s.contains("/6 done");
        seen_lines |= s.contains("  (") && bars(&s) == 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let end = t.wait_for("EXIT=");
    assert!(
        seen_total && seen_lines,
        "the bar, and lines with it, never seen"
    );
    assert_eq!(bars(&end), 0, "{end}");
    let lines = end.lines().filter(|l| l.starts_with("pop3://")).count();
    assert_eq!(lines, 6, "{end}");
    assert!(end.contains("6 targets checked"), "{end}");
}
