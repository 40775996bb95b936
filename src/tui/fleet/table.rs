//! The table of targets: one row each in the order chosen, the selected one on screen; the
//! header counts the run.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::targets::{Row, Status};
use super::{FleetView, LIST_KEYS};
use crate::tui::components::safe;
use crate::tui::table::cells::{
    areas, cell, counts_cell, draw_rows, duration, error_tail, hints, padded,
};
use crate::tui::theme::Theme;

pub(super) fn draw(f: &mut Frame, v: &FleetView, now: Instant) {
    let [header, table, footer] = areas(f.area());
    f.render_widget(
        Paragraph::new(padded(header_spans(v), sorted(v), header.width)),
        header,
    );
    draw_table(f, v, table, now);
    f.render_widget(Paragraph::new(hints(&v.theme, LIST_KEYS)), footer);
}

/// ` popscope check  targets.txt  3/5 done · 1 failing · 2 in flight`.
fn header_spans(v: &FleetView) -> Vec<Span<'static>> {
    let t = &v.theme;
    let failing = v.targets.failing();
    let total = v.total.map_or_else(|| "?".to_owned(), |n| n.to_string());
    let mut spans = vec![
        Span::styled(" popscope check ", t.header),
        Span::raw(" "),
        Span::styled(safe(&v.file), t.title),
        Span::styled(format!("  {}/{total} done · ", v.targets.done()), t.dim),
    ];
    spans.push(Span::styled(
        format!("{failing} failing"),
        if failing > 0 { t.violation } else { t.dim },
    ));
    let rest = if v.finished {
        " · finished".to_owned()
    } else {
        format!(" · {} in flight", v.in_flight())
    };
    spans.push(Span::styled(rest, t.dim));
    spans
}

/// `sorted by status ↓ `, for the header's right.
fn sorted(v: &FleetView) -> Vec<Span<'static>> {
    let arrow = if v.reversed { "↑" } else { "↓" };
    vec![
        Span::styled("sorted by ", v.theme.dim),
        Span::styled(format!("{} {arrow} ", v.sort.name()), v.theme.prompt),
    ]
}

/// The columns: line, target, status, counts, transports, TLS, time.
const COLUMNS: [(&str, usize); 7] = [
    (" line", 6),
    ("target", 30),
    ("status", 14),
    ("findings", 12),
    ("transport", 15),
    ("TLS", 8),
    ("time", 8),
];

fn draw_table(f: &mut Frame, v: &FleetView, area: Rect, now: Instant) {
    let empty = if v.finished {
        "no target in the file"
    } else {
        "no check has begun yet"
    };
    let order = v.order();
    let width = usize::from(area.width.saturating_sub(2));
    draw_rows(
        f,
        &v.theme,
        area,
        "Targets",
        &COLUMNS,
        empty,
        (order.len(), v.selected_at(&order)),
        |at, selected| row(&v.theme, v.targets.at(order[at]), selected, now, width),
    );
}

/// A row's status word and its style: `checking 2.1 s`, `ok`, `warnings`, `violations`,
/// `failed`.
pub(super) fn status(t: &Theme, r: &Row, now: Instant) -> (String, Style) {
    match &r.status {
        Status::Checking(_) => (
            format!("checking {}", duration(r.time(now))),
            t.state_current,
        ),
        Status::Done(d) if d.error.is_some() => ("failed".into(), t.violation),
        Status::Done(d) if d.tally.violation > 0 => ("violations".into(), t.violation),
        Status::Done(d) if d.tally.warning > 0 => ("warnings".into(), t.warning),
        Status::Done(_) => ("ok".into(), t.state_visited),
    }
}

/// One target's row; the selected one is marked (▶) as well as highlighted, for a terminal
/// without colours.
fn row<'a>(t: &Theme, r: &Row, selected: bool, now: Instant, width: usize) -> Line<'a> {
    let [line, target, status_w, counts_w, transport, tls, time] = COLUMNS.map(|(_, w)| w);
    let mark = if selected { "▶" } else { " " };
    let (said, style) = status(t, r, now);
    let mut spans = vec![
        Span::styled(cell(&format!("{mark}{}", r.line), line), t.dim),
        Span::styled(cell(&safe(&r.target), target), t.server),
        Span::styled(cell(&said, status_w), style),
    ];
    let done = r.done();
    match done {
        Some(d) if d.error.is_none() => spans.extend(counts_cell(t, &d.tally, counts_w)),
        _ => spans.push(Span::styled(cell("–", counts_w), t.dim)),
    }
    let or_dash = |s: Option<&str>| s.filter(|s| !s.is_empty()).unwrap_or("–").to_owned();
    spans.push(Span::styled(
        cell(
            &safe(&or_dash(done.map(|d| d.transports.as_str()))),
            transport,
        ),
        t.client,
    ));
    spans.push(Span::styled(
        cell(&safe(&or_dash(done.and_then(|d| d.tls.as_deref()))), tls),
        t.dim,
    ));
    let took = match done {
        Some(d) => duration(d.elapsed),
        None => String::new(),
    };
    spans.push(Span::styled(cell(&took, time), t.time));
    error_tail(
        &mut spans,
        t,
        &COLUMNS,
        width,
        done.and_then(|d| d.error.as_deref()),
    );
    Line::from(spans)
}
