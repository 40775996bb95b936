//! The command line's editor: the text, its cursor, history and the completion cycle, and the
//! editing keys (the `line-editor` scope of the key table). What a submitted line means is
//! the App's business; this only edits.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use popscope_core::redact;

use super::{Component, Internal, View};
use crate::tui::keys::Act;

/// The command line: text, cursor (in chars), history and completion.
#[derive(Clone, Debug, Default)]
pub struct LineEdit {
    pub text: String,
    pub(crate) cursor: usize,
    pub history: Vec<String>,
    pub(crate) history_pos: Option<usize>,
    pub completions: Vec<String>,
    pub(crate) completion_pos: usize,
    /// The line is a search (`/`), not a command.
    pub(crate) searching: bool,
}

impl LineEdit {
    fn byte_at(&self, char_pos: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_pos)
            .map_or(self.text.len(), |(i, _)| i)
    }
    pub(crate) fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
        self.completions.clear();
    }
    fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
        self.completions.clear();
    }
    fn delete(&mut self) {
        if self.cursor < self.text.chars().count() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
        self.completions.clear();
    }
    /// Drops the word before the cursor, and the spaces after it.
    fn delete_word(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut start = self.cursor.min(chars.len());
        while start > 0 && chars[start - 1] == ' ' {
            start -= 1;
        }
        while start > 0 && chars[start - 1] != ' ' {
            start -= 1;
        }
        let (from, to) = (self.byte_at(start), self.byte_at(self.cursor));
        self.text.replace_range(from..to, "");
        self.cursor = start;
        self.completions.clear();
    }
    /// Replaces the text; a completion cycle ends with it.
    pub fn set(&mut self, s: String) {
        self.cursor = s.chars().count();
        self.text = s;
        self.completions.clear();
    }
    pub(crate) fn take(&mut self) -> String {
        self.cursor = 0;
        self.history_pos = None;
        self.completions.clear();
        std::mem::take(&mut self.text)
    }

    /// Steps through the history (Up: back, Down: forward, past the newest: empty).
    pub(crate) fn history_step(&mut self, back: bool) {
        let h = &self.history;
        if h.is_empty() {
            return;
        }
        let pos = match (self.history_pos, back) {
            (None, true) => Some(h.len() - 1),
            (None, false) => None,
            (Some(p), true) => Some(p.saturating_sub(1)),
            (Some(p), false) if p + 1 < h.len() => Some(p + 1),
            (Some(_), false) => None,
        };
        let text = pos.and_then(|p| h.get(p)).cloned().unwrap_or_default();
        self.history_pos = pos;
        self.set(text);
    }

    /// What the command line shows: secrets masked while typed.
    pub(crate) fn shown(&self, secret: bool) -> String {
        let t = &self.text;
        if self.searching {
            return t.clone();
        }
        if secret {
            return "*".repeat(t.chars().count());
        }
        redact::typed_form(t)
    }

    /// Draws the prompt and the line; `secret`: the prompt of a secret being typed (a SASL
    /// response, a token), masked; the terminal cursor is placed when the line is focused
    /// and nothing covers it.
    pub(crate) fn draw(&self, f: &mut Frame, area: Rect, v: &View, secret: Option<&str>) {
        let focused = v.focused;
        let prompt = match secret {
            _ if self.searching => "/ ",
            Some(p) => p,
            None => "› ",
        };
        let text = self.shown(secret.is_some());
        let mut spans = vec![
            Span::styled(prompt, v.theme.prompt),
            Span::styled(text.clone(), v.theme.input),
        ];
        if !self.completions.is_empty() {
            let c: Vec<String> = self.completions.iter().take(8).cloned().collect();
            spans.push(Span::styled(format!("   [{}]", c.join(" ")), v.theme.hint));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), area);
        if focused {
            let x = area.x
                + prompt.chars().count() as u16
                + text.chars().take(self.cursor).count() as u16;
            f.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
        }
    }
}

impl Component for LineEdit {
    fn act(&mut self, act: Act) -> Option<Internal> {
        match act {
            Act::ClearLine => {
                self.take();
            }
            Act::DeleteWord => self.delete_word(),
            Act::DeleteBack => self.backspace(),
            Act::DeleteForward => self.delete(),
            Act::CursorLeft => self.cursor = self.cursor.saturating_sub(1),
            Act::CursorRight => self.cursor = (self.cursor + 1).min(self.text.chars().count()),
            Act::LineStart => self.cursor = 0,
            Act::LineEnd => self.cursor = self.text.chars().count(),
            _ => {}
        }
        None
    }
}
