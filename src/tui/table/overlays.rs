//! The overlays of a table view: its help (the keys of the table and of a row opened) and
//! the question before quitting while something is still running.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use crate::tui::components::{block, centered};
use crate::tui::theme::Theme;

/// A titled list of keys.
pub(crate) type Keys<'a> = (&'a str, &'a [(&'a str, &'a str)]);

/// The help: each section's keys, then `notes`.
pub(crate) fn draw_help(f: &mut Frame, t: &Theme, sections: &[Keys], notes: &[&str]) {
    let mut lines = Vec::new();
    for (i, (title, keys)) in sections.iter().enumerate() {
        if i > 0 {
            lines.push(Line::raw(""));
        }
        lines.push(Line::styled(*title, t.title));
        lines.extend(keys.iter().map(|(k, d)| {
            Line::from(vec![
                Span::styled(format!("  {k:<10}"), t.prompt),
                Span::styled(d.to_string(), t.server),
            ])
        }));
    }
    lines.push(Line::raw(""));
    lines.extend(notes.iter().map(|n| Line::styled(*n, t.dim)));
    lines.push(Line::styled("ctrl-c quits at once.", t.dim));
    let r = centered(f.area(), 70, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(t, "Help", true)),
        r,
    );
}

/// "Quit?", saying what quitting ends.
pub(crate) fn draw_confirm_quit(f: &mut Frame, t: &Theme, what: String) {
    let lines = vec![
        Line::styled(what, t.warning),
        Line::raw(""),
        Line::from(vec![
            Span::styled("y", t.prompt),
            Span::styled(" quit   ", t.server),
            Span::styled("any other key", t.prompt),
            Span::styled(" stay", t.server),
        ]),
    ];
    let r = centered(f.area(), 60, 5);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(t, "Quit?", true)),
        r,
    );
}

/// A table view's overlay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    Help,
    /// q with something still running: quitting ends it.
    ConfirmQuit,
}

/// A key the overlay shown (or ctrl-c, anywhere) takes first: Some(true) quit, Some(false)
/// taken; None, the view's.
pub(crate) fn overlay_key(overlay: &mut Option<Overlay>, k: &KeyEvent) -> Option<bool> {
    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
        return Some(true);
    }
    match overlay {
        Some(Overlay::ConfirmQuit) => {
            *overlay = None;
            Some(matches!(k.code, KeyCode::Char('y' | 'Y' | 'q')))
        }
        Some(Overlay::Help) => {
            if matches!(
                k.code,
                KeyCode::Esc | KeyCode::Char('q' | '?') | KeyCode::Enter
            ) {
                *overlay = None;
            }
            Some(false)
        }
        None => None,
    }
}
