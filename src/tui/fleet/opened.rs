//! One target opened: a session of its walk in the session's own state panel, transcript
//! and findings ([`crate::tui::ui::draw_session_panes`]), and where a session has its session
//! panel, the target and the list of its sessions, the one shown marked.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::targets::{KEPT_FINISHED, Row, Session};
use super::{FleetView, OPENED_KEYS};
use crate::tui::components::{block, safe};
use crate::tui::table::cells::{counts, duration, first_shown, hints, padded};
use crate::tui::ui::{self, Panes};

pub(super) fn draw(
    f: &mut Frame,
    v: &FleetView,
    row: &Row,
    session: Option<&Session>,
    now: Instant,
) {
    let t = &v.theme;
    let panes = Panes::of(f.area());
    let (said, style) = super::table::status(t, row, now);
    let at = v.opened.map_or(0, |(_, at)| at);
    let which = match session {
        Some(s) => format!(
            "  session {}/{}: {}",
            at + 1,
            row.sessions.len(),
            safe(&s.label)
        ),
        None => String::new(),
    };
    let spans = vec![
        Span::styled(" popscope check ", t.header),
        Span::raw(" "),
        Span::styled(format!("line {}  {}", row.line, safe(&row.target)), t.title),
        Span::styled(which, t.dim),
        Span::styled(format!("  {said}"), style),
    ];
    let right = match row.done() {
        Some(d) if d.error.is_none() => {
            let mut r = counts(t, &d.tally);
            r.push(Span::raw(" "));
            r
        }
        _ => Vec::new(),
    };
    f.render_widget(
        Paragraph::new(padded(spans, right, panes.header.width)),
        panes.header,
    );
    let error = row.done().and_then(|d| d.error.as_deref());
    let empty = match (error, row.dropped) {
        (_, true) => {
            format!("its sessions went: only the last {KEPT_FINISHED} finished targets keep theirs")
        }
        (Some(e), _) => format!("not checked: {}", safe(e)),
        (None, _) => "waiting for the server…".to_owned(),
    };
    match session {
        Some(s) => {
            let seen = s.seen.lock();
            ui::draw_session_panes(f, &seen.app, &panes, &empty);
            draw_target(f, v, row, now, panes.session);
            f.render_widget(Paragraph::new(hints(t, OPENED_KEYS)), panes.footer);
            ui::draw_overlay(f, &seen.app);
        }
        None => {
            ui::draw_session_panes(f, &v.blank, &panes, &empty);
            draw_target(f, v, row, now, panes.session);
            f.render_widget(Paragraph::new(hints(t, OPENED_KEYS)), panes.footer);
        }
    }
}

/// Where a session has its session panel: the target, its outcome, its sessions.
fn draw_target(f: &mut Frame, v: &FleetView, row: &Row, now: Instant, area: Rect) {
    let t = &v.theme;
    let field = |name: &str, value: String, style: Style| {
        Line::from(vec![
            Span::styled(format!("{name:<10}"), t.dim),
            Span::styled(value, style),
        ])
    };
    let (said, style) = super::table::status(t, row, now);
    let mut lines = vec![
        field("target", safe(&row.target), t.server),
        field(
            "status",
            format!("{said} · {}", duration(row.time(now))),
            style,
        ),
    ];
    if let Some(d) = row.done() {
        if !d.transports.is_empty() {
            let tls = d
                .tls
                .as_deref()
                .map_or(String::new(), |v| format!(" · {v}"));
            lines.push(field(
                "via",
                safe(&format!("{}{tls}", d.transports)),
                t.client,
            ));
        }
        if let Some(e) = &d.error {
            lines.push(field("error", safe(e), t.violation));
        }
        if let Some(r) = &d.recording {
            lines.push(field("recording", safe(r), t.dim));
        }
    }
    let at = v.opened.map_or(0, |(_, at)| at);
    if let Some(s) = row.sessions.get(at) {
        lines.push(field("session", safe(&s.url), t.server));
    }
    // The sessions around the one shown, as many as the panel has room for.
    let room = usize::from(area.height.saturating_sub(2)).saturating_sub(lines.len());
    let first = first_shown(at, room);
    for (i, s) in row.sessions.iter().enumerate().skip(first).take(room) {
        let mark = if i == at { "▶ " } else { "  " };
        let style = if i == at { t.state_current } else { t.dim };
        let name = if i == first { "sessions" } else { "" };
        lines.push(field(name, format!("{mark}{}", safe(&s.label)), style));
    }
    f.render_widget(Paragraph::new(lines).block(block(t, "Target", false)), area);
}
