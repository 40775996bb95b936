//! The table of connections: one row each, newest last, the selected one on screen.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use popscope_core::Tally;

use super::cells::{add, counts, duration, hints, padded, sides, status};
use super::connections::{Connection, reached};
use super::watch::Seen;
use super::{LIST_KEYS, ProxyView};
use crate::tui::components::{block, safe};

pub(super) fn draw(f: &mut Frame, v: &ProxyView, now: Instant) {
    let [header, table, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let (mut client, mut server) = (Tally::default(), Tally::default());
    for c in v.connections.iter() {
        let seen = c.seen.lock();
        add(&mut client, &seen.client);
        add(&mut server, &seen.server);
    }
    let said = format!(
        "{}, {} live",
        popscope_core::plural(v.connections.len() as u64, "connection"),
        v.connections.live()
    );
    let mut spans = vec![
        Span::styled(" popscope proxy ", v.theme.header),
        Span::raw(" "),
        Span::styled(
            format!("{} → {}", v.listen, safe(&v.upstream)),
            v.theme.title,
        ),
        Span::styled(format!("  {said}"), v.theme.dim),
    ];
    if v.connections.dropped > 0 {
        spans.push(Span::styled(
            format!(" ({} oldest closed dropped)", v.connections.dropped),
            v.theme.dim,
        ));
    }
    let right = sides(&v.theme, &client, &server);
    f.render_widget(Paragraph::new(padded(spans, right, header.width)), header);
    draw_table(f, v, table, now);
    f.render_widget(Paragraph::new(hints(&v.theme, LIST_KEYS)), footer);
}

/// The columns: number, client, upstream, state, the two sides' counts, status, duration.
const COLUMNS: [(&str, usize); 8] = [
    (" #", 5),
    ("client", 22),
    ("upstream", 30),
    ("state", 14),
    ("client", 10),
    ("server", 10),
    ("status", 8),
    ("duration", 9),
];

/// `text` in a column `width` wide and the space after it; cut with `…`.
fn cell(text: &str, width: usize) -> String {
    let mut s: String = text.chars().take(width).collect();
    if text.chars().count() > width {
        s.pop();
        s.push('…');
    }
    let n = s.chars().count();
    s.push_str(&" ".repeat(width + 1 - n));
    s
}

fn draw_table(f: &mut Frame, v: &ProxyView, area: Rect, now: Instant) {
    let inner = area.height.saturating_sub(3) as usize;
    let mut lines = vec![Line::styled(
        COLUMNS
            .iter()
            .map(|(name, w)| cell(name, *w))
            .collect::<String>(),
        v.theme.dim,
    )];
    let selected = v.connections.selected();
    if v.connections.is_empty() {
        lines.push(Line::styled(
            format!("no connection yet: point a mail client at {}", v.listen),
            v.theme.dim,
        ));
    }
    // The selected row is on screen, as low as the rows before it allow.
    let first = (selected + 1).saturating_sub(inner.max(1));
    for (i, c) in v.connections.iter().enumerate().skip(first).take(inner) {
        let line = row(
            v,
            c,
            i == selected,
            now,
            area.width.saturating_sub(2).into(),
        );
        lines.push(if i == selected {
            line.patch_style(v.theme.selection)
        } else {
            line
        });
    }
    f.render_widget(
        Paragraph::new(lines).block(block(&v.theme, "Connections", true)),
        area,
    );
}

/// One connection's row; the selected one is marked (▶) as well as highlighted, for a
/// terminal without colours.
fn row<'a>(v: &ProxyView, c: &Connection, selected: bool, now: Instant, width: usize) -> Line<'a> {
    let seen = c.seen.lock();
    let [
        number,
        client,
        upstream,
        state,
        client_n,
        server_n,
        status_w,
        duration_w,
    ] = COLUMNS.map(|(_, w)| w);
    let mark = if selected { "▶" } else { " " };
    let (said, style) = status(&v.theme, c);
    let mut spans = vec![
        Span::styled(cell(&format!("{mark}{}", c.number), number), v.theme.dim),
        Span::styled(cell(&c.client.to_string(), client), v.theme.client),
        Span::styled(cell(&safe(&v.upstream), upstream), v.theme.server),
        Span::styled(cell(short(&seen), state), v.theme.state_visited),
    ];
    for (tally, width) in [(&seen.client, client_n), (&seen.server, server_n)] {
        let parts = counts(&v.theme, tally);
        let used: usize = parts.iter().map(|s| s.content.chars().count()).sum();
        spans.extend(parts);
        spans.push(Span::raw(" ".repeat((width + 1).saturating_sub(used))));
    }
    spans.push(Span::styled(cell(said, status_w), style));
    spans.push(Span::styled(
        cell(&duration(c.duration(now)), duration_w),
        v.theme.time,
    ));
    // Why it ended, in what room is left.
    let used: usize = COLUMNS.iter().map(|(_, w)| w + 1).sum();
    let room = width.saturating_sub(used + 1);
    if let Some(error) = c.ending.as_ref().and_then(|e| e.error.as_deref())
        && room > 8
    {
        spans.push(Span::styled(cell(&safe(error), room), v.theme.violation));
    }
    Line::from(spans)
}

/// The state a connection reached, as the table's column names it (none before the server
/// said anything).
fn short(seen: &Seen) -> &'static str {
    let s = reached(&seen.app);
    if seen.app.transcript.len() == 0 {
        "–"
    } else if s.is_authorization() {
        "AUTHORIZATION"
    } else {
        s.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_is_cut_and_padded_to_its_width() {
        assert_eq!(cell("abcdef", 3), "ab… ");
        assert_eq!(cell("ab", 3), "ab  ");
    }
}
