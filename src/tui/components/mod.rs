//! The panels and overlays of the UI, each a component (gitui's model): it owns its state,
//! draws it, and handles the actions of its own scope of the key table, so the footer and the
//! help, built from that table, always say what its keys do. Components never hold each other;
//! what one needs of the rest of the app it returns as an [`Internal`] event that the App
//! carries out. Drawing borrows the state and never changes it (a panel that scrolls records
//! how far it could scroll in a `Cell`, layout and not state).

pub(crate) mod editor;
pub(crate) mod findings;
pub mod help;
pub(crate) mod overlays;
pub(crate) mod sasl;
pub(crate) mod session;
pub(crate) mod state;
pub(crate) mod transcript;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Block, Borders};

use popscope_core::Severity;

use super::keys::{Act, Binding};
use super::theme::Theme;
use super::transcript::RowId;

/// What every component draws with, beside its own state.
pub(crate) struct View<'a> {
    pub(crate) theme: &'a Theme,
    pub(crate) keys: &'a [Binding],
    /// Wall-clock seconds since midnight at session start, for timestamps.
    pub(crate) clock_base: f64,
    pub(crate) focused: bool,
}

/// What a component asks of the rest of the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Internal {
    /// Open the finding detail of finding `index`, and put the transcript at its row.
    OpenFinding { index: usize, row: RowId },
}

/// A panel that takes the focus.
pub(crate) trait Component {
    /// One action bound in its scope; what others must do comes back.
    fn act(&mut self, act: Act) -> Option<Internal>;
}

pub(crate) fn sev_style(theme: &Theme, s: Severity) -> Style {
    match s {
        Severity::Violation => theme.violation,
        Severity::Warning => theme.warning,
        Severity::Info => theme.info,
    }
}

/// Longest text drawn for one entry of a panel (a finding, a capability list); the rest is
/// cut with `…`, so a hostile 20,000-line CAPA costs a frame no more than a normal one.
const PANEL_TEXT: usize = 8192;

/// Text that may hold server bytes (a finding's message, a capability, a certificate name),
/// made safe to draw: control and invisible characters become visible escapes (`\x1b`),
/// never dropped. Text that is already clean is drawn as it is (not escaped twice).
pub(crate) fn safe(text: &str) -> String {
    if popscope_core::sanitize::is_clean(text) {
        if text.len() <= PANEL_TEXT {
            return text.to_owned();
        }
        let mut cut: String = text.chars().take(PANEL_TEXT).collect();
        if cut.len() < text.len() {
            cut.push('…');
        }
        cut
    } else {
        popscope_core::sanitize::display(text.as_bytes(), PANEL_TEXT)
    }
}

/// Wraps `text` at spaces into lines of at most `first` characters for the first line and
/// `rest` for the others; a word longer than a line is cut. At least one line.
pub(crate) fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut len = 0usize;
    let room = |out: &Vec<String>| if out.is_empty() { first } else { rest }.max(1);
    for word in text.split_inclusive(' ') {
        if len == 0 && word.trim().is_empty() {
            continue;
        }
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let r = room(&out);
            // The word's trailing space may hang past the edge.
            let visible = word.len() - usize::from(word.last() == Some(&' '));
            if len + visible <= r {
                len += word.len();
                line.extend(word);
                break;
            }
            if len > 0 {
                out.push(std::mem::take(&mut line).trim_end().to_owned());
                len = 0;
                continue;
            }
            let tail = word.split_off(r.min(word.len()));
            out.push(word.into_iter().collect());
            word = tail;
            if word.is_empty() {
                break;
            }
        }
        if len >= room(&out) {
            out.push(std::mem::take(&mut line).trim_end().to_owned());
            len = 0;
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line.trim_end().to_owned());
    }
    out
}

pub(crate) fn block<'a>(theme: &Theme, title: &'a str, focused: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
        .title(Span::styled(format!(" {title} "), theme.title))
}

pub(crate) fn clock(base: f64, t: popscope_core::Time) -> String {
    let secs = base + t.as_secs_f64();
    let ms = (secs.fract() * 1000.0) as u32;
    let s = secs as u64;
    format!(
        "{:02}:{:02}:{:02}.{ms:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}

pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2));
    let h = h.min(area.height.saturating_sub(2));
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("aa bb cc", 5, 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("aa bb cc", 2, 8), vec!["aa", "bb cc"]);
        assert_eq!(wrap("abcdefgh", 3, 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 3, 3), vec![""]);
        assert_eq!(wrap("x abcdefg", 4, 4), vec!["x", "abcd", "efg"]);
        assert_eq!(wrap("aa  bb", 3, 3), vec!["aa", "bb"]);
        for w in 1..12 {
            for l in wrap("TLS TLSv1.3 AES_256_GCM_SHA384  CAPA  X", w, w) {
                assert!(l.chars().count() <= w, "{w}: {l:?}");
            }
        }
    }
}
