//! Drawing the connections view: the table ([`super::table`]) or one connection opened
//! ([`super::opened`]), and the view's overlays. Drawing borrows the view and never changes
//! it; the table draws only the rows on screen, each read from its connection's view.

use std::time::{Duration, Instant};

use ratatui::Frame;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use popscope_core::{Severity, Tally};

use super::connections::Connection;
use super::{LIST_KEYS, OPENED_KEYS, Overlay, ProxyView};
use crate::tui::components::{block, centered, sev_style};
use crate::tui::theme::Theme;

pub fn draw(f: &mut Frame, v: &ProxyView, now: Instant) {
    match v.opened() {
        Some(c) => super::opened::draw(f, v, c, now),
        None => super::table::draw(f, v, now),
    }
    match v.overlay {
        Some(Overlay::Help) => draw_help(f, v),
        Some(Overlay::ConfirmQuit) => draw_confirm_quit(f, v),
        None => {}
    }
}

/// `left`, then `right` against the right edge when there is room.
pub(super) fn padded<'a>(mut left: Vec<Span<'a>>, right: Vec<Span<'a>>, width: u16) -> Line<'a> {
    let used = |s: &[Span]| s.iter().map(|s| s.content.chars().count()).sum::<usize>();
    let (l, r) = (used(&left), used(&right));
    if l + r <= width as usize {
        left.push(Span::raw(" ".repeat(width as usize - l - r)));
        left.extend(right);
    }
    Line::from(left)
}

pub(super) fn add(total: &mut Tally, t: &Tally) {
    total.violation += t.violation;
    total.warning += t.warning;
    total.info += t.info;
}

/// `✖1 ⚠0 ℹ2`, a count coloured when it is not zero.
pub(super) fn counts(theme: &Theme, t: &Tally) -> Vec<Span<'static>> {
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

/// `client ✖0 ⚠1 ℹ0   server ✖1 ⚠0 ℹ0`: the counts of each side, for a header's right.
pub(super) fn sides(theme: &Theme, client: &Tally, server: &Tally) -> Vec<Span<'static>> {
    let mut spans = vec![Span::styled("client ", theme.dim)];
    spans.extend(counts(theme, client));
    spans.push(Span::styled("   server ", theme.dim));
    spans.extend(counts(theme, server));
    spans.push(Span::raw(" "));
    spans
}

pub(super) fn status(theme: &Theme, c: &Connection) -> (&'static str, Style) {
    match &c.ending {
        None => ("live", theme.state_current),
        Some(e) if e.error.is_some() => ("error", theme.violation),
        Some(_) => ("closed", theme.dim),
    }
}

pub(super) fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{}.{} s", s, d.subsec_millis() / 100),
        60..3600 => format!("{} m {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} m", s / 3600, (s / 60) % 60),
    }
}

pub(super) fn hints<'a>(theme: &Theme, keys: &[(&'a str, &'a str)]) -> Line<'a> {
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
}
