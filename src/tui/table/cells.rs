//! The pieces a table view draws with: a header line with a right part, finding counts, a
//! duration, a cell cut to its column, the key hints.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use popscope_core::{Severity, Tally};

use crate::tui::components::{block, safe, sev_style};
use crate::tui::theme::Theme;

/// `left`, then `right` against the right edge when there is room.
pub(crate) fn padded<'a>(mut left: Vec<Span<'a>>, right: Vec<Span<'a>>, width: u16) -> Line<'a> {
    let used = |s: &[Span]| s.iter().map(|s| s.content.chars().count()).sum::<usize>();
    let (l, r) = (used(&left), used(&right));
    if l + r <= width as usize {
        left.push(Span::raw(" ".repeat(width as usize - l - r)));
        left.extend(right);
    }
    Line::from(left)
}

pub(crate) fn add(total: &mut Tally, t: &Tally) {
    total.violation += t.violation;
    total.warning += t.warning;
    total.info += t.info;
}

/// `✖1 ⚠0 ℹ2`, a count coloured when it is not zero.
pub(crate) fn counts(theme: &Theme, t: &Tally) -> Vec<Span<'static>> {
    [Severity::Violation, Severity::Warning, Severity::Info]
        .into_iter()
        .enumerate()
        .map(|(i, sev)| {
            let n = t.get(sev);
            let style = if n > 0 {
                sev_style(theme, sev)
            } else {
                theme.dim
            };
            let lead = if i == 0 { "" } else { " " };
            Span::styled(format!("{lead}{}{n}", sev.marker()), style)
        })
        .collect()
}

/// [`counts`] in a column `width` wide and the space after it.
pub(crate) fn counts_cell(theme: &Theme, t: &Tally, width: usize) -> Vec<Span<'static>> {
    let mut parts = counts(theme, t);
    let used: usize = parts.iter().map(|s| s.content.chars().count()).sum();
    parts.push(Span::raw(" ".repeat((width + 1).saturating_sub(used))));
    parts
}

pub(crate) fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{}.{} s", s, d.subsec_millis() / 100),
        60..3600 => format!("{} m {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} m", s / 3600, (s / 60) % 60),
    }
}

/// `text` in a column `width` wide and the space after it; cut with `…`.
pub(crate) fn cell(text: &str, width: usize) -> String {
    let mut s: String = text.chars().take(width).collect();
    if text.chars().count() > width {
        s.pop();
        s.push('…');
    }
    let n = s.chars().count();
    s.push_str(&" ".repeat(width + 1 - n));
    s
}

/// The header row of a table of `columns` (name, width).
pub(crate) fn heading(columns: &[(&str, usize)]) -> String {
    columns.iter().map(|(name, w)| cell(name, *w)).collect()
}

/// The first row to draw so that the `selected` one is on screen in `rows` rows, as low as
/// the rows before it allow.
pub(crate) fn first_shown(selected: usize, rows: usize) -> usize {
    (selected + 1).saturating_sub(rows.max(1))
}

pub(crate) fn hints<'a>(theme: &Theme, keys: &[(&'a str, &'a str)]) -> Line<'a> {
    let mut spans = vec![Span::raw(" ")];
    for (i, (k, d)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.hint));
        }
        spans.push(Span::styled(*k, theme.prompt));
        spans.push(Span::styled(format!(" {d}"), theme.hint));
    }
    Line::from(spans)
}

/// A table view's screen: a header line, the table, the footer.
pub(crate) fn areas(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// A table framed in `area`: the heading of `columns`, `empty` when `count` is 0, then of
/// the rows `0..count` those that fit with the `selected` one on screen, each drawn by
/// `row(i, selected)` and the selected one highlighted.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_rows<'a>(
    f: &mut Frame,
    theme: &Theme,
    area: Rect,
    title: &str,
    columns: &[(&str, usize)],
    empty: &str,
    (count, selected): (usize, usize),
    row: impl Fn(usize, bool) -> Line<'a>,
) {
    let inner = area.height.saturating_sub(3) as usize;
    let mut lines = vec![Line::styled(heading(columns), theme.dim)];
    if count == 0 {
        lines.push(Line::styled(empty.to_owned(), theme.dim));
    }
    for i in (first_shown(selected, inner)..count).take(inner) {
        let line = row(i, i == selected);
        lines.push(if i == selected {
            highlighted(line, theme.selection)
        } else {
            line
        });
    }
    f.render_widget(Paragraph::new(lines).block(block(theme, title, true)), area);
}

/// The selected row: the selection's colours under the whole line, and its background under
/// every cell too, each keeping its own foreground: a theme may give a cell's style a
/// background of its own (`violation = { bg = … }`), which the line's alone would not cover.
fn highlighted(line: Line<'_>, selection: ratatui::style::Style) -> Line<'_> {
    let under = ratatui::style::Style {
        fg: None,
        ..selection
    };
    let mut line = line.patch_style(selection);
    for span in &mut line.spans {
        span.style = span.style.patch(under);
    }
    line
}

/// Why a row's connection or target failed, after its `columns` in what room is left of
/// `width`.
pub(crate) fn error_tail(
    spans: &mut Vec<Span<'_>>,
    theme: &Theme,
    columns: &[(&str, usize)],
    width: usize,
    error: Option<&str>,
) {
    let used: usize = columns.iter().map(|(_, w)| w + 1).sum();
    let room = width.saturating_sub(used + 1);
    if let Some(error) = error
        && room > 8
    {
        spans.push(Span::styled(cell(&safe(error), room), theme.violation));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(Duration::from_millis(3_450)), "3.4 s");
        assert_eq!(duration(Duration::from_secs(65)), "1 m 05 s");
        assert_eq!(duration(Duration::from_secs(7_300)), "2 h 01 m");
    }

    #[test]
    fn a_cell_is_cut_and_padded_to_its_width() {
        assert_eq!(cell("abcdef", 3), "ab… ");
        assert_eq!(cell("ab", 3), "ab  ");
    }

    #[test]
    fn every_cell_of_the_selected_row_is_on_the_selection_s_background() {
        use ratatui::style::{Color, Style};
        let selection = Style::default().fg(Color::White).bg(Color::DarkGray);
        let own = Style::default().fg(Color::Red).bg(Color::Black);
        let line = Line::from(vec![Span::raw("target "), Span::styled("violations", own)]);
        let line = highlighted(line, selection);
        for span in &line.spans {
            assert_eq!(span.style.bg, Some(Color::DarkGray), "{span:?}");
        }
        // A cell's own colour is kept over the selection's.
        assert_eq!(line.spans[1].style.fg, Some(Color::Red));
    }

    #[test]
    fn the_selected_row_stays_on_screen() {
        assert_eq!(first_shown(0, 10), 0);
        assert_eq!(first_shown(9, 10), 0);
        assert_eq!(first_shown(10, 10), 1);
        assert_eq!(first_shown(3, 0), 3);
    }
}
