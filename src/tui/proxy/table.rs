//! The table of connections: one row each, newest last, the selected one on screen.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use popscope_core::Tally;

use super::cells::{sides, status};
use super::connections::{Connection, reached};
use super::{LIST_KEYS, ProxyView};
use crate::tui::components::safe;
use crate::tui::table::cells::{
    add, areas, cell, counts_cell, draw_rows, duration, error_tail, hints, padded,
};
use crate::tui::table::seen::Seen;

pub(super) fn draw(f: &mut Frame, v: &ProxyView, now: Instant) {
    let [header, table, footer] = areas(f.area());
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

fn draw_table(f: &mut Frame, v: &ProxyView, area: Rect, now: Instant) {
    let empty = format!("no connection yet: point a mail client at {}", v.listen);
    let width = area.width.saturating_sub(2).into();
    draw_rows(
        f,
        &v.theme,
        area,
        "Connections",
        &COLUMNS,
        &empty,
        (v.connections.len(), v.connections.selected()),
        |i, selected| match v.connections.get(i) {
            Some(c) => row(v, c, selected, now, width),
            None => Line::raw(""),
        },
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
        spans.extend(counts_cell(&v.theme, tally, width));
    }
    spans.push(Span::styled(cell(said, status_w), style));
    spans.push(Span::styled(
        cell(&duration(c.duration(now)), duration_w),
        v.theme.time,
    ));
    let error = c.ending.as_ref().and_then(|e| e.error.as_deref());
    error_tail(&mut spans, &v.theme, &COLUMNS, width, error);
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
