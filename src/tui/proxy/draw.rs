//! Drawing the connections view: the table, or one connection opened with the session's own
//! panels ([`crate::tui::ui::draw_session_panes`]). It borrows the view and never changes it;
//! the table draws only the rows on screen, each read from its connection's view.

use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use popscope_core::{Severity, Tally};

use super::connections::{Connection, reached};
use super::watch::Seen;
use super::{LIST_KEYS, OPENED_KEYS, Overlay, ProxyView};
use crate::tui::components::{block, centered, safe, sev_style};
use crate::tui::theme::Theme;
use crate::tui::ui::{self, Panes};

pub fn draw(f: &mut Frame, v: &ProxyView, now: Instant) {
    match v.opened() {
        Some(c) => draw_opened(f, v, c, now),
        None => draw_list(f, v, now),
    }
    match v.overlay {
        Some(Overlay::Help) => draw_help(f, v),
        Some(Overlay::ConfirmQuit) => draw_confirm_quit(f, v),
        None => {}
    }
}

fn draw_list(f: &mut Frame, v: &ProxyView, now: Instant) {
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
    let mut right = vec![Span::styled("client ", v.theme.dim)];
    right.extend(counts(&v.theme, &client));
    right.push(Span::styled("   server ", v.theme.dim));
    right.extend(counts(&v.theme, &server));
    right.push(Span::raw(" "));
    f.render_widget(Paragraph::new(padded(spans, right, header.width)), header);
    draw_table(f, v, table, now);
    f.render_widget(Paragraph::new(hints(&v.theme, LIST_KEYS)), footer);
}

/// `left`, then `right` against the right edge when there is room.
fn padded<'a>(mut left: Vec<Span<'a>>, right: Vec<Span<'a>>, width: u16) -> Line<'a> {
    let used = |s: &[Span]| s.iter().map(|s| s.content.chars().count()).sum::<usize>();
    let (l, r) = (used(&left), used(&right));
    if l + r <= width as usize {
        left.push(Span::raw(" ".repeat(width as usize - l - r)));
        left.extend(right);
    }
    Line::from(left)
}

fn add(total: &mut Tally, t: &Tally) {
    total.violation += t.violation;
    total.warning += t.warning;
    total.info += t.info;
}

/// `✖1 ⚠0 ℹ2`, a count coloured when it is not zero.
fn counts(theme: &Theme, t: &Tally) -> Vec<Span<'static>> {
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

fn status(theme: &Theme, c: &Connection) -> (&'static str, Style) {
    match &c.ending {
        None => ("live", theme.state_current),
        Some(e) if e.error.is_some() => ("error", theme.violation),
        Some(_) => ("closed", theme.dim),
    }
}

fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{}.{} s", s, d.subsec_millis() / 100),
        60..3600 => format!("{} m {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} m", s / 3600, (s / 60) % 60),
    }
}

fn hints<'a>(theme: &Theme, keys: &[(&'a str, &'a str)]) -> Line<'a> {
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

fn draw_opened(f: &mut Frame, v: &ProxyView, c: &Connection, now: Instant) {
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
    let mut right = vec![Span::styled("client ", v.theme.dim)];
    right.extend(counts(&v.theme, &seen.client));
    right.push(Span::styled("   server ", v.theme.dim));
    right.extend(counts(&v.theme, &seen.server));
    right.push(Span::raw(" "));
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

fn draw_help(f: &mut Frame, v: &ProxyView) {
    let t = &v.theme;
    let mut lines = vec![Line::styled("the connections", t.title)];
    let key_line = |(k, d): &(&str, &str)| {
        Line::from(vec![
            Span::styled(format!("  {k:<10}"), t.prompt),
            Span::styled(d.to_string(), t.server),
        ])
    };
    lines.extend(LIST_KEYS.iter().map(key_line));
    lines.push(Line::raw(""));
    lines.push(Line::styled("a connection opened", t.title));
    lines.extend(OPENED_KEYS.iter().map(key_line));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Each finding says whose behaviour it judges: client or server.",
        t.dim,
    ));
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

fn draw_confirm_quit(f: &mut Frame, v: &ProxyView) {
    let t = &v.theme;
    let live = v.connections.live();
    let lines = vec![
        Line::styled(
            if live == 1 {
                "1 connection is still live: quitting ends it.".to_owned()
            } else {
                format!("{live} connections are still live: quitting ends them.")
            },
            t.warning,
        ),
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
}
