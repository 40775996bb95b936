//! `check --targets FILE --tui`: the fleet view rendered into ratatui's TestBackend (insta
//! snapshots of the table sorted two ways and of a target opened), each target's sessions
//! fed through the observer a walk's connection gets, as the run feeds them; then the real
//! binary in tmux over demo servers (one with a quirk) and a dead port.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popscope::tui::fleet::{Column, Done, FleetView, Message, Overlay, Template, draw, targets};
use popscope::tui::table::seen::feeding;
use popscope::tui::{Theme, keys};
use popscope_core::Tally;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::Notify;

mod common;
use common::tmux::{Tmux, tmux_available};

fn template() -> Template {
    Template {
        file: "targets.txt".into(),
        theme: Theme::load("dark").unwrap_or_else(|e| panic!("{e}")),
        keys: keys::defaults(),
        // 10:00:00: the transcript's clock, the same on every run.
        clock: || 36_000.0,
    }
}

struct Harness {
    view: FleetView,
    template: Template,
    changed: Arc<Notify>,
    start: Instant,
}

impl Harness {
    fn new() -> Harness {
        let template = template();
        let start = Instant::now();
        Harness {
            view: FleetView::new(&template, start),
            template,
            changed: Arc::new(Notify::new()),
            start,
        }
    }

    fn at(&self, secs: f64) -> Instant {
        self.start + Duration::from_secs_f64(secs)
    }

    fn started(&mut self, line: usize, target: &str, secs: f64) {
        let m = Message::Started {
            line,
            target: target.into(),
        };
        self.view.apply(m, self.at(secs));
    }

    /// A connection of `line`'s walk, `trace` going through it as the walk's engine sees it.
    fn session(&mut self, line: usize, label: &str, url: &str, trace: &str, secs: f64) {
        let seen = self.template.seen(label, url);
        let m = Message::Session {
            line,
            label: label.into(),
            url: url.into(),
            seen: seen.clone(),
        };
        self.view.apply(m, self.at(secs));
        let mut observer = feeding(seen, self.changed.clone(), 500);
        common::feed::feed_text(observer.as_mut(), trace, false);
    }

    fn done(&mut self, line: usize, target: &str, done: Done, secs: f64) {
        let m = Message::Done {
            line,
            target: target.into(),
            done,
        };
        self.view.apply(m, self.at(secs));
    }

    fn render(&self, w: u16, h: u16, secs: f64) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap_or_else(|e| panic!("{e}"));
        t.draw(|f| draw::draw(f, &self.view, self.at(secs)))
            .unwrap_or_else(|e| panic!("{e}"));
        common::screen::text_of(&t)
    }

    fn key(&mut self, c: KeyCode) -> bool {
        self.view.key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    fn selected(&self) -> Option<usize> {
        self.view.selected
    }

    /// Where the selected target is in the table's order.
    fn position(&self) -> usize {
        self.view.selected_at(&self.view.order())
    }
}

fn checked(v: usize, w: usize, i: usize, transports: &str, tls: Option<&str>, ms: u64) -> Done {
    Done {
        tally: Tally {
            violation: v,
            warning: w,
            info: i,
        },
        transports: transports.into(),
        tls: tls.map(str::to_owned),
        elapsed: Duration::from_millis(ms),
        ..Done::default()
    }
}

const CLEAN: &str =
    "S: +OK POP3 ready\nC: CAPA\nS: +OK\nS: USER\nS: .\nC: QUIT\nS: +OK bye\n-- closed\n";

/// The server accepts STAT before any login (ST-001).
const QUIRK: &str = "S: +OK POP3 ready\nC: STAT\nS: +OK 2 320\nC: QUIT\nS: +OK bye\n-- closed\n";

const REFUSED: &str = "connection refused by 127.0.0.1:1: nothing listens there";

/// Four targets: clean, one with a violation over two sessions, one refused, one in flight.
fn four() -> Harness {
    let mut h = Harness::new();
    h.started(1, "pop3s://mail.example.net", 0.0);
    h.session(1, "walk", "pop3s://mail.example.net:995", CLEAN, 0.1);
    h.done(
        1,
        "pop3s://mail.example.net",
        checked(0, 0, 1, "pop3s", Some("TLS 1.3"), 800),
        0.8,
    );
    // Its session came before its start: the two travel apart.
    h.session(2, "walk", "pop3://quirky.example.net:110", QUIRK, 0.2);
    h.started(2, "pop3://quirky.example.net", 0.2);
    h.session(
        2,
        "probe P2: PASS without USER",
        "pop3://quirky.example.net:110",
        CLEAN,
        0.3,
    );
    h.done(
        2,
        "pop3://quirky.example.net",
        checked(1, 2, 0, "pop3", None, 2_400),
        2.6,
    );
    h.started(3, "pop3://127.0.0.1:1", 0.3);
    let refused = Done {
        error: Some(REFUSED.into()),
        elapsed: Duration::from_millis(5),
        ..Done::default()
    };
    h.done(3, "pop3://127.0.0.1:1", refused, 0.3);
    h.started(4, "slow.example.net", 1.0);
    h.session(
        4,
        "walk",
        "pop3://slow.example.net:110",
        "S: +OK POP3 ready\n",
        1.1,
    );
    h.view.apply(Message::Total(4), h.at(1.0));
    h
}

#[test]
fn the_table_by_line_counts_the_run_and_shows_a_failed_row_s_error() {
    let h = four();
    let s = h.render(140, 10, 4.5);
    assert!(
        s.contains("targets.txt  3/4 done · 2 failing · 1 in flight"),
        "{s}"
    );
    assert!(s.contains("sorted by line ↓"), "{s}");
    let rows: Vec<&str> = s
        .lines()
        .filter(|l| l.contains("example.net") || l.contains(":1 "))
        .collect();
    assert_eq!(rows.len(), 4, "{s}");
    assert!(
        rows[0].contains("ok") && rows[0].contains("TLS 1.3") && rows[0].contains("pop3s"),
        "{s}"
    );
    assert!(
        rows[1].contains("violations") && rows[1].contains("✖1 ⚠2"),
        "{s}"
    );
    assert!(
        rows[2].contains("failed") && rows[2].contains("connection refused"),
        "{s}"
    );
    assert!(
        rows[3].contains("checking 3.5 s"),
        "an in-flight one's time runs: {s}"
    );
    insta::assert_snapshot!("fleet_by_line_140x10", s);
}

#[test]
fn the_table_by_status_puts_the_worst_first() {
    let mut h = four();
    h.key(KeyCode::Char('s'));
    assert_eq!(h.view.sort, Column::Status);
    let s = h.render(140, 10, 4.5);
    assert!(s.contains("sorted by status ↓"), "{s}");
    let lines: Vec<usize> = ["127.0.0.1:1", "quirky", "slow", "mail.example"]
        .iter()
        .map(|t| s.find(t).unwrap_or_else(|| panic!("{t}: {s}")))
        .collect();
    assert!(
        lines.windows(2).all(|w| w[0] < w[1]),
        "failed, violations, in flight, ok: {s}"
    );
    insta::assert_snapshot!("fleet_by_status_140x10", s);
}

#[test]
fn sorting_keeps_the_selection_on_its_target() {
    let mut h = four();
    assert_eq!(h.selected(), Some(1), "the first to begin is selected");
    h.key(KeyCode::Down);
    h.key(KeyCode::Down);
    assert_eq!((h.selected(), h.position()), (Some(3), 2));
    h.key(KeyCode::Char('s'));
    assert_eq!(
        (h.selected(), h.position()),
        (Some(3), 0),
        "by status the refused one is first"
    );
    h.key(KeyCode::Char('r'));
    assert_eq!(
        (h.selected(), h.position()),
        (Some(3), 3),
        "reversed it is last"
    );
    // Moving goes by the order on screen.
    h.key(KeyCode::Up);
    assert_eq!(
        h.selected(),
        Some(2),
        "above it, reversed: the one with violations"
    );
    for want in [
        Column::Violations,
        Column::Time,
        Column::Target,
        Column::Line,
    ] {
        h.key(KeyCode::Char('s'));
        assert_eq!(h.view.sort, want);
        assert_eq!(h.selected(), Some(2));
    }
    h.key(KeyCode::Char('r'));
    assert_eq!(h.position(), 1, "by line again: the second");
}

/// Target `line` of [`four`] opened from the table, at `width` × 32.
fn opened(line: usize) -> (Harness, String) {
    let mut h = four();
    while h.selected() != Some(line) {
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Enter);
    assert_eq!(h.view.opened, Some((line, 0)));
    let s = h.render(130, 32, 4.5);
    (h, s)
}

#[test]
fn an_opened_target_shows_its_sessions_in_the_session_view() {
    let (mut h, s) = opened(2);
    assert!(
        s.contains("line 2  pop3://quirky.example.net  session 1/2: walk"),
        "{s}"
    );
    assert!(s.contains("C: STAT") && s.contains("S: +OK 2 320"), "{s}");
    assert!(
        s.contains("ST-001") && s.contains("RFC 1939"),
        "the rule and its RFC: {s}"
    );
    assert!(
        s.contains("▶ walk") && s.contains("probe P2: PASS without USER"),
        "{s}"
    );
    insta::assert_snapshot!("fleet_opened_130x32", s);
    // The next session, and the finding's explanation.
    h.key(KeyCode::Right);
    assert_eq!(h.view.opened, Some((2, 1)));
    let next = h.render(130, 32, 4.5);
    assert!(
        next.contains("session 2/2: probe P2") && next.contains("C: CAPA"),
        "{next}"
    );
    h.key(KeyCode::Left);
    h.key(KeyCode::Tab);
    h.key(KeyCode::Enter);
    let why = h.render(130, 32, 4.5);
    assert!(why.contains("ST-001"), "{why}");
    // esc closes the explanation, then goes back to the table.
    h.key(KeyCode::Esc);
    h.key(KeyCode::Esc);
    assert_eq!(h.view.opened, None);
    assert!(h.render(130, 12, 4.5).contains("sorted by line"));
}

#[test]
fn a_failed_target_opened_says_why() {
    let (_, s) = opened(3);
    assert!(s.contains(&format!("not checked: {REFUSED}")), "{s}");
    assert!(s.contains("error     connection refused"), "{s}");
}

#[test]
fn q_asks_first_while_checks_are_in_flight_and_not_once_the_run_is_over() {
    let mut h = four();
    assert!(!h.key(KeyCode::Char('q')));
    assert_eq!(h.view.overlay, Some(Overlay::ConfirmQuit));
    assert!(
        h.render(140, 20, 4.5)
            .contains("1 check is still running: quitting stops it.")
    );
    assert!(!h.key(KeyCode::Char('n')), "any other key stays");
    assert_eq!(h.view.overlay, None);
    h.key(KeyCode::Char('q'));
    assert!(h.key(KeyCode::Char('y')), "y quits");
    let mut over = four();
    over.view.apply(Message::Finished, over.at(5.0));
    assert!(over.render(140, 10, 5.0).contains("finished"));
    assert!(
        over.key(KeyCode::Char('q')),
        "the run over: q quits at once"
    );
    let mut help = Harness::new();
    assert!(!help.key(KeyCode::Char('?')), "? is help");
    let s = help.render(100, 30, 0.0);
    assert!(
        s.contains("a target opened") && s.contains("previous, next session"),
        "{s}"
    );
    help.key(KeyCode::Esc);
    assert_eq!(help.view.overlay, None);
}

#[test]
fn hostile_target_names_and_errors_are_shown_escaped() {
    let mut h = Harness::new();
    h.started(1, "pop3://evil\x1b]0;owned\x07.example", 0.0);
    let bad = Done {
        error: Some("said \x1b[31mred".into()),
        ..Done::default()
    };
    h.done(1, "pop3://evil\x1b]0;owned\x07.example", bad, 0.5);
    let table = h.render(160, 8, 1.0);
    h.key(KeyCode::Enter);
    let opened = h.render(130, 32, 1.0);
    for s in [&table, &opened] {
        common::screen::assert_escaped(s);
    }
    assert!(opened.contains("said \\x1b[31mred"), "{opened}");
}

#[test]
fn only_the_last_finished_targets_keep_their_sessions_and_the_opened_one() {
    let mut h = Harness::new();
    let n = targets::KEPT_FINISHED + 5;
    for line in 1..=n {
        h.started(line, &format!("pop3://m{line}.example.net"), 0.0);
        h.session(line, "walk", "pop3://x:110", CLEAN, 0.0);
        if line == 1 {
            h.key(KeyCode::Enter);
        }
        h.done(
            line,
            &format!("pop3://m{line}.example.net"),
            checked(0, 0, 0, "pop3", None, 10),
            0.1,
        );
    }
    let kept = |h: &Harness, line| {
        h.view
            .targets
            .get(line)
            .is_some_and(|r| !r.sessions.is_empty())
    };
    assert!(kept(&h, 1), "the opened one keeps its sessions");
    assert!(!kept(&h, 2) && !kept(&h, 6), "the oldest others went");
    assert!(kept(&h, 7) && kept(&h, n));
    let kept_count = (1..=n).filter(|&l| kept(&h, l)).count();
    assert_eq!(
        kept_count,
        targets::KEPT_FINISHED,
        "the opened one among them"
    );
    assert_eq!(h.view.targets.len(), n, "every row stays");
    h.key(KeyCode::Esc);
    h.key(KeyCode::Down);
    h.key(KeyCode::Enter);
    let s = h.render(130, 32, 1.0);
    assert!(s.contains("its sessions went"), "{s}");
}

/// Demo servers, one with a quirk, and a dead port, checked by the real binary with --tui:
/// the table fills, sorts, opens the quirky one on its rule, and q exits with the code the
/// run has without --tui.
#[test]
fn through_the_real_binary_the_table_fills_sorts_opens_and_exits_with_the_run_s_code() {
    if !tmux_available() {
        return;
    }
    let rt = common::runtime();
    let clean = common::start(&rt, popscope::server::TlsMode::None, None);
    let quirk = popscope_core::server::Quirk::parse("lowercase-status");
    let quirky = common::start(&rt, popscope::server::TlsMode::None, quirk);
    let dead = common::fleet::dead_port();
    let file = common::fleet::private(
        "tui-fleet-targets",
        &format!(
            "{}\n{}\npop3://127.0.0.1:{dead}\n",
            clean.url(),
            quirky.url()
        ),
    );
    let bin = env!("CARGO_BIN_EXE_popscope");
    let args = format!("check --targets {file} --injection-wait 0");
    let plain = std::process::Command::new(bin)
        .args(args.split(' '))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let code = plain.status.code().unwrap_or(-1);
    assert_eq!(
        code,
        3,
        "a dead port: {}",
        String::from_utf8_lossy(&plain.stdout)
    );
    let t = Tmux::start(&format!("{bin} {args} --tui; echo EXIT=$?"), 140, 32);
    let table = t.wait_for("3/3 done");
    assert!(
        table.contains("finished") && table.contains("2 failing"),
        "{table}"
    );
    assert!(
        table.contains("violations") && table.contains("connection refused"),
        "{table}"
    );
    t.keys(&["s"]);
    t.wait_for("sorted by status");
    // Worst first: the dead port, then the quirky one.
    t.keys(&["g", "j", "Enter"]);
    let opened = t.wait_for("GEN-002");
    assert!(
        opened.contains(&quirky.url()) && opened.contains("session 1/"),
        "{opened}"
    );
    t.keys(&["Escape"]);
    t.wait_for("enter open");
    t.keys(&["q"]);
    t.wait_for(&format!("EXIT={code}"));
}

#[test]
fn without_a_terminal_tui_is_a_usage_error() {
    let o = common::popscope(&["check", "--targets", "-", "--tui"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--tui needs a terminal"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // A monitoring plugin's usage errors are UNKNOWN (3), as its other errors.
    for (other, code) in [("--json", 2), ("--nagios", 3)] {
        let o = common::popscope(&["check", "--targets", "-", "--tui", other]);
        assert_eq!(o.status.code(), Some(code), "--tui {other}");
        let said = [&o.stdout, &o.stderr].map(|b| String::from_utf8_lossy(b).into_owned());
        assert!(said.concat().contains("cannot be used with"), "{said:?}");
    }
}

/// q while a check hangs on a silent server: asked first, then the check is stopped, the run
/// ends as it would (--junit complete, the stopped target an error) and the process exits.
#[test]
fn through_the_real_binary_quitting_stops_the_checks_in_flight() {
    if !tmux_available() {
        return;
    }
    let rt = common::runtime();
    let clean = common::start(&rt, popscope::server::TlsMode::None, None);
    let silent = common::silent(4);
    let file = common::fleet::private(
        "tui-fleet-quit",
        &format!("{}\npop3://127.0.0.1:{silent}\n", clean.url()),
    );
    let junit = common::scratch_path("tui-fleet-quit.xml");
    let _ = std::fs::remove_file(&junit);
    let record = common::scratch_path("tui-fleet-quit-rec");
    let _ = std::fs::remove_dir_all(&record);
    let t = Tmux::start(
        &format!(
            "{} check --targets {file} --injection-wait 0 --junit {} --record {} --tui; echo EXIT=$?",
            env!("CARGO_BIN_EXE_popscope"),
            junit.display(),
            record.display()
        ),
        140,
        24,
    );
    let table = t.wait_for("1/2 done");
    assert!(
        table.contains("1 in flight") && table.contains("checking"),
        "{table}"
    );
    t.keys(&["q"]);
    t.wait_for("1 check is still running: quitting stops it.");
    let started = std::time::Instant::now();
    t.keys(&["y"]);
    t.wait_for("EXIT=3");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped at once"
    );
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("{e}"));
    assert!(xml.contains("stopped: the view was quit"), "{xml}");
    assert!(xml.trim_end().ends_with("</testsuites>"), "{xml}");
    // A recording each, the stopped one's too (its greeting never came: a header alone).
    let files = std::fs::read_dir(&record).map_or(0, |d| d.count());
    assert_eq!(files, 2, "{}", record.display());
}
