//! Drawing the fleet view: the table ([`super::table`]) or one target opened
//! ([`super::opened`]), and the view's overlays. Drawing borrows the view and never changes
//! it.

use std::time::Instant;

use ratatui::Frame;

use super::{FleetView, LIST_KEYS, OPENED_KEYS, Overlay};
use crate::tui::table::overlays;

pub fn draw(f: &mut Frame, v: &FleetView, now: Instant) {
    match v.opened() {
        Some((row, session)) => super::opened::draw(f, v, row, session, now),
        None => super::table::draw(f, v, now),
    }
    match v.overlay {
        Some(Overlay::Help) => overlays::draw_help(
            f,
            &v.theme,
            &[("the targets", LIST_KEYS), ("a target opened", OPENED_KEYS)],
            &[
                "s sorts by line, status (the worst first), violations, time, target.",
                "A target's sessions are the connections of its walk, one per probe.",
            ],
        ),
        Some(Overlay::ConfirmQuit) => {
            let n = v.in_flight();
            let what = if n == 1 {
                "1 check is still running: quitting stops it.".to_owned()
            } else {
                format!("{n} checks are still running: quitting stops them.")
            };
            overlays::draw_confirm_quit(f, &v.theme, what)
        }
        None => {}
    }
}
