//! Drawing the connections view: the table ([`super::table`]) or one connection opened
//! ([`super::opened`]), and the view's overlays. Drawing borrows the view and never changes
//! it; the table draws only the rows on screen, each read from its connection's view.

use std::time::Instant;

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{LIST_KEYS, OPENED_KEYS, Overlay, ProxyView};
use crate::tui::components::{block, centered};

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
