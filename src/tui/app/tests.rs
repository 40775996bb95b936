//! The App driven as the loop drives it: session updates in, keys in, actions out.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::*;
use crate::session::task::Update;
use crate::tui::transcript::Transcript;
use popscope_core::Severity;
use popscope_core::command::Command;
use popscope_core::{Event, Finding};

fn ask(app: &mut App, line: &str, exchange: u32) {
    let command = Command::parse(line.as_bytes(), line.len() + 2);
    app.apply(Update::Event(
        Time(u64::from(exchange)),
        Event::Command {
            exchange,
            command: Box::new(command),
        },
    ));
}

/// Findings used to keep a row index: once the oldest rows went past the cap, opening an
/// early finding put the cursor on whatever row had moved into that index.
#[test]
fn an_early_finding_whose_row_was_dropped_says_so_instead_of_jumping_elsewhere() {
    let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new("x".into(), theme, keys::defaults());
    app.transcript.rows = Transcript::with_cap(20);
    ask(&mut app, "NOOP", 1);
    let rule = popscope_core::rules::CATALOG[0];
    let finding = |exchange: u32, message: &str| Finding {
        rule,
        severity: Severity::Warning,
        message: message.into(),
        suspected: false,
        at: popscope_core::Location {
            exchange,
            ..Default::default()
        },
    };
    app.apply(Update::Event(
        Time(1),
        Event::Finding(Box::new(finding(1, "the early one"))),
    ));
    let late = finding(40, "a late one");
    for ex in 2..=40 {
        ask(&mut app, &format!("STAT {ex}"), ex);
    }
    app.apply(Update::Event(Time(41), Event::Finding(Box::new(late))));
    assert!(app.transcript.rows.dropped() > 0);
    app.focus = Focus::Findings;
    app.key(KeyEvent::from(KeyCode::Enter));
    assert_eq!(app.overlay, Some(Overlay::Finding(0)));
    assert_eq!(app.transcript.cursor, 0, "the first row kept");
    assert_eq!(app.message, Some((DROPPED_ROW.into(), true)));
    // The late finding's row is still there: the cursor goes to it.
    app.overlay = None;
    app.message = None;
    app.key(KeyEvent::from(KeyCode::Down));
    app.key(KeyEvent::from(KeyCode::Enter));
    let row = app
        .transcript
        .get(app.transcript.cursor)
        .map(|r| r.text.clone());
    assert_eq!(row.as_deref(), Some("STAT 40"));
    assert_eq!(app.message, None);
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

#[test]
fn keys_toml_rebinds_an_overlay_key_and_a_line_editor_key() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("keys.toml");
    std::fs::write(
        &file,
        "\"help-screen.close\" = [\"x\"]\n\"line-editor.clear-line\" = [\"ctrl-k\"]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let table = keys::load(Some(&file)).unwrap_or_else(|e| panic!("{e}"));
    let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new("x".into(), theme, table);
    app.focus = Focus::Transcript;
    app.key(KeyEvent::from(KeyCode::Char('?')));
    app.key(KeyEvent::from(KeyCode::Esc));
    assert_eq!(app.overlay, Some(Overlay::Help), "Esc no longer closes");
    app.key(KeyEvent::from(KeyCode::Char('x')));
    assert_eq!(app.overlay, None);
    app.key(KeyEvent::from(KeyCode::Char('i')));
    for c in "NOOP".chars() {
        app.key(KeyEvent::from(KeyCode::Char(c)));
    }
    app.key(ctrl('u'));
    assert_eq!(app.line.text, "NOOP", "ctrl-u no longer clears");
    app.key(ctrl('k'));
    assert_eq!(app.line.text, "");
}

#[test]
fn ctrl_w_drops_the_word_before_the_cursor() {
    let theme = Theme::load("dark").unwrap_or_else(|e| panic!("{e}"));
    let mut app = App::new("x".into(), theme, keys::defaults());
    app.line.set("RETR 12  ".into());
    app.key(ctrl('w'));
    assert_eq!((app.line.text.as_str(), app.line.cursor), ("RETR ", 5));
    app.key(KeyEvent::from(KeyCode::Left));
    app.key(ctrl('w'));
    assert_eq!((app.line.text.as_str(), app.line.cursor), (" ", 0));
}
