//! Drawing the connections view: the table ([`super::table`]) or one connection opened
//! ([`super::opened`]), and the view's overlays. Drawing borrows the view and never changes
//! it; the table draws only the rows on screen, each read from its connection's view.

use std::time::Instant;

use ratatui::Frame;

use super::{LIST_KEYS, OPENED_KEYS, Overlay, ProxyView};
use crate::tui::table::overlays;

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
    overlays::draw_help(
        f,
        &v.theme,
        &[
            ("the connections", LIST_KEYS),
            ("a connection opened", OPENED_KEYS),
        ],
        &["Each finding says whose behaviour it judges: client or server."],
    );
}

fn draw_confirm_quit(f: &mut Frame, v: &ProxyView) {
    let live = v.connections.live();
    let what = if live == 1 {
        "1 connection is still live: quitting ends it.".to_owned()
    } else {
        format!("{live} connections are still live: quitting ends them.")
    };
    overlays::draw_confirm_quit(f, &v.theme, what);
}
