//! One connection opened: the session's own state panel, transcript and findings
//! ([`crate::tui::ui::draw_session_panes`]), and where a session has its session panel, what
//! the proxy knows of the connection.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::cells::{sides, status};
use super::connections::Connection;
use super::{OPENED_KEYS, ProxyView};
use crate::tui::components::{block, safe};
use crate::tui::table::cells::{duration, hints, padded};
use crate::tui::table::seen::Seen;
use crate::tui::ui::{self, Panes};

pub(super) fn draw(f: &mut Frame, v: &ProxyView, c: &Connection, now: Instant) {
    let seen = c.seen.lock();
    let app = &seen.app;
    let panes = Panes::of(f.area());
    let (said, style) = status(&v.theme, c);
    let spans = vec![
        Span::styled(" popscope proxy ", v.theme.header),
        Span::raw(" "),
        Span::styled(
            format!(
                "connection {}  {} → {}",
                c.number,
                c.client,
                safe(&v.upstream)
            ),
            v.theme.title,
        ),
        Span::styled(format!("  {said}"), style),
        Span::styled(format!(" {}", duration(c.duration(now))), v.theme.time),
    ];
    let right = sides(&v.theme, &seen.client, &seen.server);
    f.render_widget(
        Paragraph::new(padded(spans, right, panes.header.width)),
        panes.header,
    );
    let empty = match c.ending.as_ref().and_then(|e| e.error.as_deref()) {
        Some(e) => format!("nothing relayed: {}", safe(e)),
        None => format!("waiting for {}…", safe(&v.upstream)),
    };
    ui::draw_session_panes(f, app, &panes, &empty);
    draw_connection(f, v, c, &seen, panes.session);
    f.render_widget(Paragraph::new(hints(&v.theme, OPENED_KEYS)), panes.footer);
    ui::draw_overlay(f, app);
}

/// Where the session panel is in a session: what the proxy knows of this connection.
fn draw_connection(f: &mut Frame, v: &ProxyView, c: &Connection, seen: &Seen, area: Rect) {
    let t = &v.theme;
    let field = |name: &str, value: String, style: Style| {
        Line::from(vec![
            Span::styled(format!("{name:<10}"), t.dim),
            Span::styled(value, style),
        ])
    };
    let mut lines = vec![
        field("client", c.client.to_string(), t.client),
        field("upstream", safe(&v.upstream), t.server),
    ];
    let tls = c
        .ending
        .as_ref()
        .and_then(|e| e.upstream_tls.clone())
        .or_else(|| seen.app.tls.as_ref().map(|d| d.summary()));
    lines.push(field(
        "TLS",
        tls.map_or("none toward the upstream".into(), |s| safe(&s)),
        t.dim,
    ));
    let (said, style) = status(t, c);
    lines.push(field("status", said.into(), style));
    if seen.left_out > 0 {
        let more = format!("{} more counted, not listed", seen.left_out);
        lines.push(field("findings", more, t.warning));
    }
    if let Some(e) = &c.ending {
        if let Some(error) = &e.error {
            lines.push(field("error", safe(error), t.violation));
        }
        for note in &e.notes {
            lines.push(field("note", safe(note), t.note));
        }
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(t, "Connection", false)),
        area,
    );
}
