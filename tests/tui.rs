//! The UI rendered into ratatui's TestBackend: text snapshots of the main screens (insta), and
//! buffer checks where colour carries meaning.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popscope::transcript::text;
use popscope::tui::app::{Action, App, Focus, Overlay};
use popscope::tui::{Theme, keys, offline, ui};
use popscope_core::Severity;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

mod common;
use common::screen::text_of;

fn app_for(fixture: &str, theme: &str) -> App {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(fixture)).unwrap_or_default();
    let entries = text::parse(&bytes).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    let theme = Theme::load(theme).unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new(
        "pop3s://mail.example.net:995".into(),
        theme,
        keys::defaults(),
    );
    offline::load(&mut app, &entries);
    app
}

fn render(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap_or_else(|e| panic!("{e}"));
    t.draw(|f| ui::draw(f, app))
        .unwrap_or_else(|e| panic!("{e}"));
    t
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

#[test]
fn the_seeds_case_screen() {
    let app = app_for("tests/fixtures/rules/st-009.fire.trace", "dark");
    let t = render(&app, 110, 32);
    let s = text_of(&t);
    assert!(s.contains("✖ ST-009 ST-001"), "{s}");
    assert!(s.contains("TRANSACTION ← login skipped"), "{s}");
    insta::assert_snapshot!("seed_case_110x32", s);
}

#[test]
fn a_healthy_stls_session_at_80x24() {
    let app = app_for("tests/fixtures/sessions/dovecot-like.trace", "dark");
    let t = render(&app, 80, 24);
    let s = text_of(&t);
    assert_eq!(
        app.counts.violation, 0,
        "a conformant session has no violation: {s}"
    );
    insta::assert_snapshot!("dovecot_like_80x24", s);
}

#[test]
fn a_large_terminal_uses_the_room() {
    let app = app_for("tests/fixtures/sessions/dovecot-like.trace", "dark");
    let s = text_of(&render(&app, 300, 100));
    assert!(
        s.contains("C: AUTH PLAIN") && s.contains("S: +OK Logged in."),
        "{s}"
    );
}

#[test]
fn help_overlay_lists_every_binding() {
    let mut app = app_for("tests/fixtures/rules/st-009.fire.trace", "dark");
    app.focus = Focus::Transcript;
    app.key(key(KeyCode::Char('?')));
    assert_eq!(app.overlay, Some(Overlay::Help));
    for (w, h) in [(110, 50), (80, 24)] {
        app.help.scroll = 0;
        let s = text_of(&render(&app, w, h));
        insta::assert_snapshot!(format!("help_{w}x{h}"), s);
        // What does not fit scrolls into view: every binding of the table, and every `:`
        // command, is on some page.
        let mut seen = s;
        for _ in 0..80 {
            app.key(key(KeyCode::Down));
            seen.push_str(&text_of(&render(&app, w, h)));
        }
        for b in keys::defaults() {
            assert!(
                seen.contains(b.desc),
                "help at {w}x{h} lacks '{}':\n{seen}",
                b.desc
            );
        }
        for c in popscope::tui::commands::COMMANDS {
            assert!(
                seen.contains(&c.usage()),
                "help at {w}x{h} lacks {}",
                c.usage()
            );
        }
    }
    // Held against the table: each binding's keys are on the line of its description.
    let entries = popscope::tui::components::help::entries(&app.keys);
    for b in keys::defaults() {
        assert!(
            entries.iter().any(|(_, k, d)| *d == b.desc
                && b.keys.iter().all(|key| {
                    let shown = if key == " " { "space" } else { key.as_str() };
                    k.contains(&shown.replace("backtab", "shift-tab"))
                })),
            "{:?} {:?} is not in the help",
            b.scope,
            b.keys
        );
    }
    app.key(key(KeyCode::Esc));
    assert_eq!(app.overlay, None);
}

#[test]
fn selecting_a_finding_explains_it_and_jumps_to_the_exchange() {
    let mut app = app_for("tests/fixtures/rules/st-009.fire.trace", "dark");
    app.focus = Focus::Findings;
    let target = app
        .findings
        .list
        .iter()
        .position(|(f, _)| f.rule.id == "ST-009" && f.severity == Severity::Violation)
        .unwrap_or(0);
    for _ in 0..target {
        app.key(key(KeyCode::Down));
    }
    app.key(key(KeyCode::Enter));
    assert_eq!(app.overlay, Some(Overlay::Finding(target)));
    let row = app.transcript.rows.index_of(app.findings.list[target].1);
    assert_eq!(Some(app.transcript.cursor), row);
    let row = app.transcript.cursor;
    assert!(
        app.transcript
            .get(row)
            .is_some_and(|r| r.text.starts_with("+OK 2 320"))
    );
    let s = text_of(&render(&app, 110, 32));
    assert!(
        s.contains("RFC 8314 §3.1") && s.contains("SASL EXTERNAL"),
        "{s}"
    );
    insta::assert_snapshot!("finding_detail_110x32", s);
}

#[test]
fn commands_the_rfc_forbids_now_need_confirmation_and_are_marked() {
    let mut app = app_for("tests/fixtures/sessions/rfc1939-apop.trace", "dark");
    app.link = popscope::tui::app::Link::Up;
    app.state = popscope_core::State::Authorization(popscope_core::AuthStep::Idle);
    for c in "STAT".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    let out = app.key(key(KeyCode::Enter));
    assert!(out.is_empty(), "sent without asking: {out:?}");
    assert!(
        matches!(&app.overlay, Some(Overlay::Confirm { why, .. }) if why.contains("not valid in AUTHORIZATION"))
    );
    let s = text_of(&render(&app, 100, 30));
    assert!(s.contains("Send \"STAT\"?"), "{s}");
    let out = app.key(key(KeyCode::Char('y')));
    assert_eq!(out, vec![Action::Send(b"STAT".to_vec())]);
    // DELE always asks.
    app.state = popscope_core::State::Transaction;
    for c in "DELE 1".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    assert!(app.key(key(KeyCode::Enter)).is_empty());
    assert!(app.key(key(KeyCode::Char('n'))).is_empty());
    assert_eq!(app.line.text, "DELE 1", "n goes back to editing");
    // confirm_dele = false in config.toml: DELE goes out at once.
    app.confirm_dele = false;
    assert_eq!(
        app.key(key(KeyCode::Enter)),
        vec![Action::Send(b"DELE 1".to_vec())]
    );
}

#[test]
fn secrets_are_masked_while_typed_and_kept_out_of_history() {
    let mut app = app_for("tests/fixtures/sessions/rfc1939-apop.trace", "dark");
    for c in "PASS hunter2 x".chars() {
        app.key(key(KeyCode::Char(c)));
    }
    assert_eq!(app.masked_input(), "PASS *********");
    let s = text_of(&render(&app, 100, 30));
    assert!(!s.contains("hunter2"), "{s}");
    app.key(key(KeyCode::Enter));
    assert_eq!(app.line.history.last().map(String::as_str), Some("PASS"));
}

#[test]
fn tab_completes_commands_valid_now_and_message_numbers() {
    let mut app = app_for("tests/fixtures/sessions/dovecot-like.trace", "dark");
    app.state = popscope_core::State::Transaction;
    app.key(key(KeyCode::Char('R')));
    app.key(key(KeyCode::Tab));
    assert_eq!(
        app.line.completions,
        vec!["RETR".to_owned(), "RSET".to_owned()]
    );
    app.line.set("RETR ".into());
    app.line.completions.clear();
    app.key(key(KeyCode::Tab));
    assert_eq!(
        app.line.completions,
        vec!["RETR 1".to_owned(), "RETR 2".to_owned()]
    );
    // In AUTHORIZATION, TRANSACTION commands are not offered.
    app.state = popscope_core::State::Authorization(popscope_core::AuthStep::Idle);
    app.line.set("S".into());
    app.line.completions.clear();
    app.key(key(KeyCode::Tab));
    assert!(
        app.line.completions.iter().all(|c| c != "STAT"),
        "{:?}",
        app.line.completions
    );
}

#[test]
fn violations_are_drawn_in_the_themes_violation_style() {
    for theme in ["dark", "light", "high-contrast"] {
        let app = app_for("tests/fixtures/rules/st-009.fire.trace", theme);
        let t = render(&app, 110, 32);
        let buf = t.backend().buffer();
        let want = Theme::load(theme)
            .unwrap_or_else(|e| panic!("{e}"))
            .violation;
        let mut found = false;
        for y in 0..buf.area.height {
            for x in 0..buf.area.width.saturating_sub(1) {
                if buf[(x, y)].symbol() == "✖" && buf[(x + 2, y)].symbol() == "S" {
                    let cell = &buf[(x, y)];
                    assert_eq!(
                        (cell.fg, cell.bg),
                        (want.fg.unwrap_or_default(), want.bg.unwrap_or_default()),
                        "{theme} at {x},{y}"
                    );
                    found = true;
                }
            }
        }
        assert!(found, "{theme}: no violation marker drawn");
    }
}

#[test]
fn no_color_drops_colours_but_keeps_the_current_state_visible() {
    let theme = Theme::load("dark")
        .map(Theme::without_colour)
        .unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules/st-009.fire.trace"),
    )
    .unwrap_or_default();
    let mut app = App::new("x".into(), theme, keys::defaults());
    offline::load(&mut app, &text::parse(&bytes).unwrap_or_default());
    let t = render(&app, 110, 32);
    let buf = t.backend().buffer();
    assert!(
        buf.content
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset)
    );
}

fn app_from(trace: &str) -> App {
    let entries = text::parse(trace.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new("pop3://mail.example.net".into(), theme, keys::defaults());
    offline::load(&mut app, &entries);
    app
}

fn typed(app: &mut App, text: &str) -> Vec<Action> {
    let mut out = Vec::new();
    for c in text.chars() {
        out.extend(app.key(key(if c == '\t' {
            KeyCode::Tab
        } else {
            KeyCode::Char(c)
        })));
    }
    out
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

#[test]
fn the_confirm_dialog_masks_passwords_digests_and_sasl_payloads() {
    let mut app = app_for("tests/fixtures/sessions/dovecot-like.trace", "dark");
    app.link = popscope::tui::app::Link::Up;
    app.state = popscope_core::State::Transaction;
    for (line, secret, shown) in [
        ("PASS hunter2", "hunter2", "PASS *******"),
        (
            "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
            "c4c9334bac",
            "APOP mrose ********************************",
        ),
        (
            "AUTH PLAIN AGFsaWNlAHMzY3JldA==",
            "AGFsaWNl",
            "AUTH PLAIN ********",
        ),
    ] {
        app.line.set(line.into());
        assert!(
            app.key(key(KeyCode::Enter)).is_empty(),
            "{line}: sent unasked"
        );
        assert!(
            matches!(app.overlay, Some(Overlay::Confirm { .. })),
            "{line}"
        );
        let s = text_of(&render(&app, 110, 32));
        assert!(!s.contains(secret), "{line} shown in clear:\n{s}");
        assert!(
            s.contains(&format!("Send \"{}", &shown[..shown.len().min(40)])),
            "{s}"
        );
        // Confirmed, it goes as typed; history keeps no secret.
        assert_eq!(
            app.key(key(KeyCode::Char('y'))),
            vec![Action::Send(line.as_bytes().to_vec())]
        );
        assert!(
            app.line.history.iter().all(|h| !h.contains(secret)),
            "{:?}",
            app.line.history
        );
    }
}

#[test]
fn a_leading_space_or_a_tab_does_not_hide_a_password() {
    use popscope::session::task::Update;
    use popscope_core::command::Command;
    use popscope_core::{Event, Time};
    for line in [" PASS hunter2", "PASS\thunter2", "\tpass  hunter2"] {
        let mut app = app_for("tests/fixtures/sessions/rfc1939-apop.trace", "dark");
        app.line.set(line.into());
        assert!(!app.masked_input().contains("hunter2"), "{line:?} typed");
        let s = text_of(&render(&app, 100, 30));
        assert!(!s.contains("hunter2"), "{line:?}:\n{s}");
        let out = app.key(key(KeyCode::Enter));
        assert_eq!(out, vec![Action::Send(line.as_bytes().to_vec())]);
        assert_eq!(
            app.line.history.last().map(String::as_str),
            Some("PASS"),
            "{line:?}"
        );
        // The engine reads no PASS in it, but its row is masked all the same.
        app.apply(Update::Event(
            Time(9_000_000),
            Event::Command {
                exchange: 40,
                command: Box::new(Command::parse(line.as_bytes(), line.len() + 2)),
            },
        ));
        let s = text_of(&render(&app, 100, 30));
        assert!(!s.contains("hunter2"), "{line:?} row:\n{s}");
        assert!(s.contains("*******"), "{line:?} row:\n{s}");
    }
}

#[test]
fn lines_typed_while_an_auth_is_pending_are_sasl_responses() {
    use popscope::session::task::Update;
    use popscope_core::command::Command;
    use popscope_core::{Event, Time};
    let mut app = app_for("tests/fixtures/sessions/rfc1939-apop.trace", "dark");
    app.link = popscope::tui::app::Link::Up;
    app.state = popscope_core::State::Authorization(popscope_core::AuthStep::Idle);
    let out = typed(&mut app, "AUTH PLAIN");
    assert!(out.is_empty());
    assert_eq!(
        app.key(key(KeyCode::Enter)),
        vec![Action::Send(b"AUTH PLAIN".to_vec())]
    );
    // The challenge has not come yet: the response is typed masked, sent as a response only.
    typed(&mut app, "AGFsaWNlAHMzY3JldA==");
    assert_eq!(app.masked_input(), "*".repeat(20));
    let s = text_of(&render(&app, 100, 30));
    assert!(!s.contains("AGFsaWNl") && s.contains("SASL ›"), "{s}");
    assert_eq!(
        app.key(key(KeyCode::Enter)),
        vec![Action::SaslLine(b"AGFsaWNlAHMzY3JldA==".to_vec())]
    );
    assert!(
        app.line.history.iter().all(|h| !h.contains("AGFsaWNl")),
        "{:?}",
        app.line.history
    );
    // Once the AUTH has its final reply, lines are commands again.
    let auth = Command::parse(b"AUTH PLAIN", 12);
    app.apply(Update::Event(
        Time(9_000_000),
        Event::Command {
            exchange: 30,
            command: Box::new(auth),
        },
    ));
    assert!(app.secret_mode());
    let r = popscope_core::event::Reply {
        exchange: 30,
        status: popscope_core::Status::Ok,
        code: None,
        text: b"Logged in.".to_vec(),
        multiline: false,
        raw: b"+OK Logged in.".to_vec(),
    };
    app.apply(Update::Event(Time(9_100_000), Event::Reply(Box::new(r))));
    assert!(!app.secret_mode());
    typed(&mut app, "NOOP");
    assert_eq!(app.masked_input(), "NOOP");
}

#[test]
fn esc_drops_the_line_colon_opens_a_command_and_tab_leaves_an_empty_line() {
    let mut app = app_for("tests/fixtures/sessions/dovecot-like.trace", "dark");
    app.state = popscope_core::State::Transaction;
    // A half-completed line: Esc drops it (and its completion cycle).
    typed(&mut app, "R\t");
    assert_eq!(app.line.text, "RETR");
    app.key(key(KeyCode::Esc));
    assert_eq!(app.focus, Focus::Transcript);
    assert!(app.line.text.is_empty() && app.line.completions.is_empty());
    // ':' from a panel is a colon command, not an empty line to the server.
    app.key(key(KeyCode::Char(':')));
    assert_eq!(
        (app.focus, app.line.text.as_str()),
        (Focus::CommandLine, ":")
    );
    typed(&mut app, "help");
    assert_eq!(app.key(key(KeyCode::Enter)), Vec::<Action>::new());
    assert_eq!(app.overlay, Some(Overlay::Help));
    app.key(key(KeyCode::Esc));
    // Tab on an empty command line goes on to the next panel, shift-Tab to the previous one.
    app.key(key(KeyCode::Tab));
    assert_eq!(app.focus, Focus::Transcript);
    app.key(key(KeyCode::Char('i')));
    assert_eq!(app.focus, Focus::CommandLine);
    app.key(key(KeyCode::BackTab));
    assert_eq!(app.focus, Focus::Session);
    // 'i' opens an empty line.
    app.key(key(KeyCode::Char('i')));
    assert_eq!(
        (app.focus, app.line.text.as_str()),
        (Focus::CommandLine, "")
    );
}

#[test]
fn ctrl_u_ends_the_completion_cycle() {
    let mut app = app_for("tests/fixtures/sessions/dovecot-like.trace", "dark");
    app.state = popscope_core::State::Transaction;
    typed(&mut app, "R\t");
    assert_eq!(app.line.text, "RETR");
    app.key(ctrl('u'));
    assert!(app.line.text.is_empty() && app.line.completions.is_empty());
    typed(&mut app, "\t");
    assert_ne!(app.line.text, "RSET", "Tab resumed the old cycle");
    assert!(app.line.text.is_empty());
}

#[test]
fn completion_follows_tls_and_utf8() {
    // STLS offered and done, no CAPA after it: STLS is not offered again, nor what no CAPA
    // listed (UTF8, LANG).
    let mut app = app_from(
        "S: +OK ready\nC: CAPA\nS: +OK\nS: STLS\nS: USER\nS: TOP\nS: .\nC: STLS\nS: +OK go\n-- tls\n",
    );
    app.line.set(String::new());
    let c = app.candidates();
    assert!(c.contains(&"USER".to_owned()), "{c:?}");
    for k in ["STLS", "UTF8", "LANG"] {
        assert!(!c.contains(&k.to_owned()), "{k} offered after STLS: {c:?}");
    }
    app.line.set(":s".into());
    assert_eq!(app.candidates(), vec![":save ".to_owned()]);
    // After +OK to UTF8 no STLS (RFC 6856 §2.1) and no second UTF8.
    let mut app = app_from(
        "S: +OK ready\nC: CAPA\nS: +OK\nS: STLS\nS: UTF8\nS: USER\nS: .\nC: UTF8\nS: +OK UTF8 on\n",
    );
    app.line.set(String::new());
    let c = app.candidates();
    assert!(c.contains(&"USER".to_owned()), "{c:?}");
    assert!(
        !c.contains(&"STLS".to_owned()) && !c.contains(&"UTF8".to_owned()),
        "{c:?}"
    );
}

/// The transcript panel's inner lines (between its borders) as text.
fn transcript_rows(s: &str, state_w: usize) -> Vec<String> {
    let lines: Vec<&str> = s.lines().collect();
    let top = lines
        .iter()
        .position(|l| l.contains("┌ Transcript"))
        .unwrap_or(0);
    lines[top + 1..]
        .iter()
        .take_while(|l| l.chars().nth(state_w).is_none_or(|c| c != '└'))
        .map(|l| l.chars().skip(state_w + 1).collect::<String>())
        .collect()
}

#[test]
fn scrolling_up_from_the_end_leaves_no_blank_rows() {
    let app0 = app_for("tests/fixtures/sessions/dovecot-like.trace", "dark");
    let n = app0.transcript.len();
    let mut checked = 0;
    for h in 20..48u16 {
        let mut app = app_for("tests/fixtures/sessions/dovecot-like.trace", "dark");
        app.focus = Focus::Transcript;
        app.key(key(KeyCode::End));
        for ups in 1..4 {
            app.key(key(KeyCode::Up));
            let s = text_of(&render(&app, 110, h));
            let rows = transcript_rows(&s, 30);
            let total: usize = (0..n)
                .filter_map(|i| app.transcript.get(i))
                .map(|r| r.height())
                .sum();
            if total <= rows.len() {
                continue;
            }
            checked += 1;
            let blank = rows
                .iter()
                .filter(|r| r.trim_end_matches('│').trim().is_empty())
                .count();
            assert_eq!(
                blank, 0,
                "{h} rows, {ups} up: blank rows in the transcript:\n{s}"
            );
        }
    }
    assert!(
        checked > 10,
        "only {checked} screens had a transcript longer than the panel"
    );
}

#[test]
fn the_clock_runs_on_across_a_reconnect() {
    use popscope::session::Note;
    use popscope::session::task::Update;
    use popscope_core::Time;
    let mut app = app_for("tests/fixtures/sessions/dovecot-like.trace", "dark");
    let last = (0..app.transcript.len())
        .filter_map(|i| app.transcript.get(i))
        .map(|r| r.time)
        .max()
        .unwrap_or_default();
    assert!(last.0 > 10_000, "{last:?}");
    // A new connection counts from zero.
    app.apply(Update::Note(
        Time(2_000),
        Note::Connected {
            addr: "127.0.0.1:110".into(),
        },
    ));
    let row = app.transcript.len() - 1;
    let t = app.transcript.get(row).map(|r| r.time).unwrap_or_default();
    assert!(
        t > last,
        "the new connection's row at {t:?}, before the last one at {last:?}"
    );
    // With the wall-clock moment of :reconnect known, the clock jumps to it.
    app.clock_base = 3_600.0;
    app.reconnect_wall = Some(3_900.0);
    app.apply(Update::Note(
        Time(1_000),
        Note::Connected {
            addr: "127.0.0.1:110".into(),
        },
    ));
    let t = app
        .transcript
        .get(app.transcript.len() - 1)
        .map(|r| r.time)
        .unwrap_or_default();
    assert_eq!(t, Time(300_001_000));
    let s = text_of(&render(&app, 110, 32));
    assert!(
        s.contains("01:05:00.001 ── connected to 127.0.0.1:110"),
        "{s}"
    );
}

#[test]
fn the_session_panel_scrolls_and_findings_wrap() {
    let long: String = (1..=30)
        .map(|i| format!("S: X-LONG-CAPABILITY-{i}\n"))
        .collect();
    let trace = format!(
        "S: +OK ready\nC: CAPA\nS: +OK\n{long}S: USER\nS: .\nC: USER demo\nS: +OK\nC: PASS x\nS: -ERR {}\n",
        "word ".repeat(30)
    );
    let mut app = app_from(&trace);
    let s = text_of(&render(&app, 80, 24));
    assert!(s.contains("Session 1-"), "no scroll position shown:\n{s}");
    assert!(!s.contains("X-LONG-CAPABILITY-30"), "{s}");
    app.focus = Focus::Session;
    for _ in 0..100 {
        app.key(key(KeyCode::Down));
    }
    let s = text_of(&render(&app, 80, 24));
    assert!(
        s.contains("X-LONG-CAPABILITY-30") && s.contains("USER"),
        "{s}"
    );
    assert!(app.session.scroll <= app.session.max_scroll.get());
    app.key(key(KeyCode::Up));
    assert_eq!(app.session.scroll + 1, app.session.max_scroll.get());
    // A finding longer than the panel is wrapped, not cut.
    let few: String = (1..=5)
        .map(|i| format!("S: X-LONG-CAPABILITY-{i}\n"))
        .collect();
    let trace = trace.replace(&long, &few);
    let long_finding = app_from(&trace)
        .findings
        .list
        .iter()
        .map(|(f, _)| f.message.clone())
        .max_by_key(|m| m.chars().count())
        .unwrap_or_default();
    assert!(long_finding.chars().count() > 100, "{long_finding}");
    let tail: String = long_finding
        .chars()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut app = app_from(&trace);
    app.focus = Focus::Findings;
    let target = app
        .findings
        .list
        .iter()
        .position(|(f, _)| f.message == long_finding)
        .unwrap_or(0);
    app.findings.selected = target;
    let s = text_of(&render(&app, 110, 40));
    assert!(
        s.contains(tail.trim()),
        "'{tail}' of a long finding not shown:\n{s}"
    );
}

#[test]
fn escapes_in_findings_and_the_session_panel_are_shown_not_dropped() {
    let app = app_from(
        "S: +OK ready\nC: CAPA\nS: +OK\nS: IMPLEMENTATION \\x1b]52;c;cHduZWQ=\\x07\nS: USER\nS: .\nC: NOOP\nS: +OK \\x1b[2J\\x07\n",
    );
    let mut app = app;
    // A failure's text may quote the server (an -ERR to STLS): the footer escapes it too.
    app.message = Some(("STLS refused: -ERR \x1b]52;c;cHduZWQ=\x07".into(), true));
    let s = text_of(&render(&app, 160, 40));
    assert!(s.contains("-ERR \\x1b]52;c;cHduZWQ=\\x07"), "{s}");
    // CAPA-012 quotes the IMPLEMENTATION line: its escapes are shown in the Findings panel.
    assert!(
        s.lines()
            .any(|l| l.contains("CAPA-012") && l.contains("\\x1b]52;c;cHduZWQ=\\x07")),
        "{s}"
    );
    let session: Vec<&str> = s.lines().filter(|l| l.contains("IMPLEMENTATION")).collect();
    assert!(
        session
            .iter()
            .any(|l| l.contains("\\x1b]52;c;cHduZWQ=\\x07")),
        "{s}"
    );
    assert!(!s.chars().any(|c| c.is_control() && c != '\n'), "{s:?}");
}

#[test]
fn every_panel_escapes_a_server_string_exactly_once() {
    // ESC, BEL and a right-to-left override in a CAPA line, and in a NOOP reply.
    let mut app = app_from(
        "S: +OK ready\nC: CAPA\nS: +OK\nS: IMPLEMENTATION \\x1b]52;c;cHduZWQ=\\x07\u{202E}x\nS: USER\nS: .\nC: NOOP\nS: +OK \\x1b[2J\u{202E}\n",
    );
    let once = "\\x1b]52;c;cHduZWQ=\\x07\\u{202E}x";
    for focus in [Focus::Session, Focus::Findings, Focus::Transcript] {
        app.focus = focus;
        let s = text_of(&render(&app, 200, 50));
        let session: Vec<&str> = s
            .lines()
            .filter(|l| l.contains("CAPA: ") && l.contains("IMPLEMENTATION"))
            .collect();
        assert!(
            !session.is_empty() && session.iter().all(|l| l.contains(once)),
            "the Session panel: {s}"
        );
        assert!(
            s.lines()
                .any(|l| l.contains("CAPA-012") && l.contains(once)),
            "the Findings panel: {s}"
        );
        assert!(
            s.contains("S: +OK \\x1b[2J\\u{202E}"),
            "the Transcript: {s}"
        );
        // Never an escaped backslash: nothing here had one.
        assert!(!s.contains("\\\\"), "escaped twice somewhere: {s}");
    }
}

#[test]
fn the_session_panel_counts_one_message_as_one() {
    let app = app_from("S: +OK ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\nC: STAT\nS: +OK 1 1\n");
    let s = text_of(&render(&app, 160, 40));
    assert!(s.contains("maildrop: 1 message, 1 octet"), "{s}");
    let app =
        app_from("S: +OK ready\nC: USER a\nS: +OK\nC: PASS b\nS: +OK\nC: STAT\nS: +OK 2 320\n");
    let s = text_of(&render(&app, 160, 40));
    assert!(s.contains("maildrop: 2 messages, 320 octets"), "{s}");
}

#[test]
fn a_broken_config_toml_is_an_error_naming_the_file_and_line() {
    let dir = std::env::temp_dir().join(format!("popscope-cfg-{}", std::process::id()));
    let cfg = dir.join("popscope");
    std::fs::create_dir_all(&cfg).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        cfg.join("config.toml"),
        "confirm_dele = false\ntheme = \"light\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_popscope"))
        .arg("pop3://127.0.0.1:1")
        .env("XDG_CONFIG_HOME", &dir)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("popscope/config.toml:2: "), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- OAuth (issue 13)

const TOKEN: &str = "ya29.tok-SECRET-6f1c2e";

fn b64(s: &str) -> String {
    popscope_core::auth::b64encode(s.as_bytes())
}

/// A refused OAUTHBEARER login in the two-line form, as a recording has it.
fn refused_oauthbearer(challenge_json: &str) -> String {
    let ir = popscope_core::oauth::initial_response(
        popscope_core::oauth::Mechanism::OauthBearer,
        b"alice",
        b"mail.example.net",
        110,
        TOKEN.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    format!(
        "S: +OK ready\nC: CAPA\nS: +OK\nS: SASL OAUTHBEARER XOAUTH2\nS: .\nC: AUTH OAUTHBEARER\nS: + \nC: {}\nS: + {}\nC: AQ==\nS: -ERR Authentication failed\n",
        &*ir,
        b64(challenge_json)
    )
}

fn in_authorization(app: &mut App) {
    app.link = popscope::tui::app::Link::Up;
    app.state = popscope_core::State::Authorization(popscope_core::AuthStep::Idle);
}

#[test]
fn an_oauth_error_challenge_is_explained_under_it_and_the_state_panel_shows_each_step() {
    use popscope::session::task::Update;
    let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new("pop3://mail.example.net".into(), theme, keys::defaults());
    // What the session says of the token it is about to send (a JWT's claims).
    app.apply(Update::Token(Some(
        "the token (a JWT, not verified): expired 3 min ago".into(),
    )));
    let trace = refused_oauthbearer(
        r#"{"status":"invalid_token","scope":"https://outlook.office.com/POP.AccessAsUser.All"}"#,
    );
    let entries = text::parse(trace.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    offline::load(&mut app, &entries);
    let t = render(&app, 180, 32);
    let s = text_of(&t);
    for shown in [
        // The challenge explained, and the token's claims.
        "status invalid_token: the token was refused; the server wants scope https://outlook.office.com/POP.AccessAsUser.All",
        "the token (a JWT, not verified): expired 3 min ago",
        // The state panel's steps (wrapped).
        "SASL OAUTHBEARER two-line",
        "AUTH → + → response → +",
        "error → AQ== → -ERR",
        // The dummy as sent, and said.
        "C: AQ==",
        "the dummy response, AQ==, as RFC 7628 §3.2.3 asks",
    ] {
        assert!(s.contains(shown), "{shown}:\n{s}");
    }
    assert!(!s.contains("tok-SECRET"), "{s}");
    // The response row is the recording's redacted form: the user kept, the token masked.
    let ir = trace
        .lines()
        .nth(7)
        .and_then(|l| l.strip_prefix("C: "))
        .unwrap_or_default();
    let redacted =
        popscope_core::redact::client_line(ir.as_bytes(), Some("OAUTHBEARER")).unwrap_or_default();
    assert!(
        !s.contains(ir) && s.contains(&String::from_utf8_lossy(&redacted)[..]),
        "{s}"
    );
    // The annotation is drawn dim: it is popscope's, not the server's.
    let buf = t.backend().buffer();
    let dim = Theme::load("dark").unwrap_or_else(|e| panic!("{e}")).dim;
    let (x, y) = (0..buf.area.height)
        .find_map(|y| {
            let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            let col = row.find("status invalid_token")?;
            Some((row[..col].chars().count() as u16, y))
        })
        .unwrap_or_else(|| panic!("no annotation:\n{s}"));
    assert_eq!(buf[(x, y)].fg, dim.fg.unwrap_or_default(), "{s}");
    insta::assert_snapshot!("oauth_error_challenge_180x32", s);
}

#[test]
fn the_state_panel_follows_an_oauth_exchange_while_it_is_open() {
    // The AUTH line carried the initial response; the server's error challenge is the last
    // thing seen: the dummy is owed.
    let ir = b64(&format!("user=alice\x01auth=Bearer {TOKEN}\x01\x01"));
    let trace = format!(
        "S: +OK ready\nC: AUTH XOAUTH2 {ir}\nS: + {}\n",
        b64(r#"{"status":"401","schemes":"bearer","scope":"mail"}"#)
    );
    let app = app_from(&trace);
    let s = text_of(&render(&app, 150, 32));
    assert!(s.contains("SASL XOAUTH2 one-line"), "{s}");
    assert!(s.contains("AUTH → + error → …"), "{s}");
    assert!(
        s.contains("status 401: the token was refused; the server wants scope mail"),
        "{s}"
    );
    // The AUTH line redacted as recordings are: base64 still, the token masked.
    let line = format!("AUTH XOAUTH2 {ir}");
    let redacted = popscope_core::redact::client_line(line.as_bytes(), None).unwrap_or_default();
    assert!(
        !s.contains(&ir) && s.contains(&String::from_utf8_lossy(&redacted)[..]),
        "{s}"
    );
    insta::assert_snapshot!("oauth_open_exchange_150x32", s);
}

#[test]
fn a_challenge_that_is_no_oauth_error_gets_no_annotation() {
    // LOGIN's "Username:" prompt and PLAIN's go-ahead are challenges, not errors.
    let trace = "S: +OK ready\nC: AUTH LOGIN\nS: + VXNlcm5hbWU6\nC: YWxpY2U=\nS: + UGFzc3dvcmQ6\nC: c2VjcmV0\nS: -ERR no\n";
    let s = text_of(&render(&app_from(trace), 110, 32));
    assert!(!s.contains("not JSON") && !s.contains("status"), "{s}");
    assert!(
        !s.contains("SASL LOGIN"),
        "an ended non-OAuth exchange is not kept:\n{s}"
    );
    assert!(!s.contains("dummy"), "{s}");
}

#[test]
fn auth_needs_a_mechanism_and_a_user_and_uses_the_configured_token() {
    use popscope::session::task::OAuthLogin;
    use popscope_core::oauth::{Mechanism, SaslForm};
    let mut app = app_from("S: +OK ready\n");
    in_authorization(&mut app);
    typed(&mut app, ":auth oauthbearer");
    assert!(app.key(key(KeyCode::Enter)).is_empty());
    let said = app.message.clone().map(|m| m.0).unwrap_or_default();
    assert!(
        said.contains("needs a user name") && said.contains("--user"),
        "{said}"
    );
    app.configured = popscope::tui::app::Configured {
        user: true,
        token: true,
    };
    for (line, form) in [
        (":auth oauthbearer", None),
        (":auth XOAUTH2 two-line", Some(SaslForm::TwoLine)),
    ] {
        let mut app = app_from("S: +OK ready\n");
        in_authorization(&mut app);
        app.configured = popscope::tui::app::Configured {
            user: true,
            token: true,
        };
        typed(&mut app, line);
        let mechanism = Mechanism::parse(line.split(' ').nth(1).unwrap_or_default())
            .unwrap_or_else(|| panic!("{line}"));
        assert_eq!(
            app.key(key(KeyCode::Enter)),
            vec![Action::OAuth(OAuthLogin {
                mechanism,
                form,
                token: None
            })],
            "{line}"
        );
        // Lines typed before the exchange ends are secrets.
        assert!(app.secret_mode(), "{line}");
    }
    for bad in [
        ":auth plain",
        ":auth",
        ":auth xoauth2 auto",
        ":auth xoauth2 two-line x",
    ] {
        app.line.set(bad.into());
        assert!(app.key(key(KeyCode::Enter)).is_empty(), "{bad}");
        let said = app.message.clone().map(|m| m.0).unwrap_or_default();
        assert!(said.starts_with("usage: :auth"), "{bad}: {said}");
    }
    // Once logged in, AUTH is not for now.
    app.state = popscope_core::State::Transaction;
    app.line.set(":auth xoauth2".into());
    assert!(app.key(key(KeyCode::Enter)).is_empty());
    let said = app.message.clone().map(|m| m.0).unwrap_or_default();
    assert!(said.contains("TRANSACTION"), "{said}");
}

#[test]
fn a_token_typed_at_the_auth_prompt_is_masked_and_never_kept() {
    use popscope::session::task::OAuthLogin;
    use popscope_core::oauth::Mechanism;
    let mut app = app_from("S: +OK ready\n");
    in_authorization(&mut app);
    app.configured = popscope::tui::app::Configured {
        user: true,
        token: false,
    };
    let before = app.line.history.clone();
    typed(&mut app, ":auth xoauth2");
    assert!(app.key(key(KeyCode::Enter)).is_empty());
    let mut so_far = String::new();
    for c in TOKEN.chars() {
        app.key(key(KeyCode::Char(c)));
        so_far.push(c);
        assert_eq!(app.masked_input(), "*".repeat(so_far.len()));
        let s = text_of(&render(&app, 110, 32));
        assert!(s.contains("token › "), "{s}");
        assert!(so_far.len() < 4 || !s.contains(&so_far), "{s}");
    }
    let s = text_of(&render(&app, 110, 32));
    assert!(
        !s.contains("tok-SECRET") && s.contains(&"*".repeat(TOKEN.len())),
        "{s}"
    );
    assert_eq!(
        app.key(key(KeyCode::Enter)),
        vec![Action::OAuth(OAuthLogin {
            mechanism: Mechanism::XOauth2,
            form: None,
            token: Some(popscope_core::Secret::new(TOKEN.as_bytes().to_vec())),
        })]
    );
    // History and its file are written together (`remember`): nothing in one, nothing in the other.
    assert_eq!(
        app.line.history, before,
        "the prompt put something in history"
    );
    // Esc leaves the prompt: nothing is sent, and the next line is a command again.
    let mut app = app_from("S: +OK ready\n");
    in_authorization(&mut app);
    app.configured.user = true;
    typed(&mut app, ":auth oauthbearer");
    app.key(key(KeyCode::Enter));
    typed(&mut app, "half");
    app.key(key(KeyCode::Esc));
    assert!(!app.secret_mode());
    app.focus = Focus::CommandLine;
    typed(&mut app, "NOOP");
    assert_eq!(app.masked_input(), "NOOP");
}

#[test]
fn a_typed_oauth_auth_line_is_masked_while_typed_and_kept_without_its_response() {
    let mut app = app_from("S: +OK ready\n");
    in_authorization(&mut app);
    let ir = b64(&format!("user=alice\x01auth=Bearer {TOKEN}\x01\x01"));
    let line = format!("AUTH XOAUTH2 {ir}");
    let typed_from = "AUTH XOAUTH2 ".len();
    for (i, c) in line.chars().enumerate() {
        app.key(key(KeyCode::Char(c)));
        let shown = app.masked_input();
        if i >= typed_from {
            assert_eq!(
                shown,
                format!("AUTH XOAUTH2 {}", "*".repeat(i + 1 - typed_from)),
                "after {} chars",
                i + 1
            );
        }
    }
    let s = text_of(&render(&app, 110, 32));
    assert!(!s.contains(&ir[..8]), "{s}");
    assert_eq!(
        app.key(key(KeyCode::Enter)),
        vec![Action::Send(line.clone().into_bytes())]
    );
    assert_eq!(
        app.line.history.last().map(String::as_str),
        Some("AUTH XOAUTH2")
    );
    // The two-line form: the response typed after AUTH is masked and never kept.
    typed(&mut app, "AUTH OAUTHBEARER");
    app.key(key(KeyCode::Enter));
    typed(&mut app, &ir);
    assert_eq!(app.masked_input(), "*".repeat(ir.len()));
    assert_eq!(
        app.key(key(KeyCode::Enter)),
        vec![Action::SaslLine(ir.clone().into_bytes())]
    );
    assert!(
        app.line.history.iter().all(|h| !h.contains(&ir[..8])),
        "{:?}",
        app.line.history
    );
}

#[test]
fn tab_completes_auth_with_the_two_mechanisms_then_the_forms() {
    let mut app = app_from("S: +OK ready\n");
    in_authorization(&mut app);
    typed(&mut app, ":au\t");
    assert_eq!(app.line.text, ":auth ");
    typed(&mut app, "\t");
    assert_eq!(app.line.completions, [":auth xoauth2", ":auth oauthbearer"]);
    assert_eq!(app.line.text, ":auth xoauth2");
    typed(&mut app, "\t");
    assert_eq!(app.line.text, ":auth oauthbearer");
    typed(&mut app, " t\t");
    assert_eq!(app.line.text, ":auth oauthbearer two-line");
}

#[test]
fn an_error_challenge_that_is_not_json_is_said_to_be_so() {
    let ir = b64(&format!("user=alice\x01auth=Bearer {TOKEN}\x01\x01"));
    let trace = format!(
        "S: +OK ready\nC: AUTH XOAUTH2 {ir}\nS: + {}\nC: \nS: -ERR no\n",
        b64("invalid token, go away")
    );
    let s = text_of(&render(&app_from(&trace), 150, 32));
    assert!(s.contains("   the error challenge is not JSON"), "{s}");
    // XOAUTH2's dummy is the empty line, shown and said as such.
    assert!(s.contains("C: (empty line)"), "{s}");
    assert!(
        s.contains("the dummy response, an empty line, as XOAUTH2 asks"),
        "{s}"
    );
    assert!(s.contains("AUTH → + error → empty line"), "{s}");
}
