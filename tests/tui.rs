//! The UI rendered into ratatui's TestBackend: text snapshots of the main screens (insta), and
//! buffer checks where colour carries meaning.

use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use popscope::protocol::Severity;
use popscope::transcript::text;
use popscope::tui::app::{Action, App, Focus, Overlay};
use popscope::tui::{Theme, keys, offline, ui};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

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

fn text_of(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
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
        app.counts[0], 0,
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
        let s = text_of(&render(&app, w, h));
        for b in keys::defaults() {
            assert!(
                s.contains(b.desc),
                "help at {w}x{h} lacks '{}':\n{s}",
                b.desc
            );
        }
        insta::assert_snapshot!(format!("help_{w}x{h}"), s);
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
        .iter()
        .position(|(f, _)| f.rule.id == "ST-009" && f.severity == Severity::Violation)
        .unwrap_or(0);
    for _ in 0..target {
        app.key(key(KeyCode::Down));
    }
    app.key(key(KeyCode::Enter));
    assert_eq!(app.overlay, Some(Overlay::Finding(target)));
    let row = app.findings[target].1;
    assert_eq!(app.cursor, row);
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
    app.state = popscope::protocol::State::Authorization(popscope::protocol::AuthStep::Idle);
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
    app.state = popscope::protocol::State::Transaction;
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
    app.state = popscope::protocol::State::Transaction;
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
    app.state = popscope::protocol::State::Authorization(popscope::protocol::AuthStep::Idle);
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
