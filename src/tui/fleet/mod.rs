//! `check --targets FILE --tui`: the targets as a live table (status, counts, transports,
//! TLS, time), sortable, and any one opened as its sessions are shown (each connection of
//! its walk in the session's state panel, transcript and findings components), live while
//! its check runs.
//!
//! The fleet run feeds the view through a sink ([`hook::ToView`]: a target began, ended,
//! the file's count, the end) and each target's walk feeds its sessions through a watch
//! ([`hook::Hook::watch`]). Like the session's [`App`], [`FleetView`] does no
//! I/O: tests drive it directly.

pub mod draw;
pub mod hook;
mod opened;
mod table;
pub mod targets;

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent};

use super::app::App;
use super::keys;
use super::table::overlays;
use super::table::seen::{OpenedKey, Shared, opened_key};
use super::theme::Theme;
pub use hook::{Hook, Template, Waiting, prepare, run};
pub use targets::{Column, Done, Row, Session, Status, Targets};

/// The keys of the table, for its footer and help.
pub const LIST_KEYS: &[(&str, &str)] = &[
    ("↑↓ j k", "select"),
    ("enter", "open"),
    ("s", "sort by"),
    ("r", "reverse"),
    ("g G", "first, last"),
    ("?", "help"),
    ("q", "quit"),
];

/// The keys of a target opened (its panels take the session's keys from the key table).
pub const OPENED_KEYS: &[(&str, &str)] = &[
    ("esc q", "back to the table"),
    ("← → [ ]", "previous, next session"),
    ("tab", "transcript / findings"),
    ("↑↓ j k", "move"),
    ("enter", "fold, explain"),
    ("?", "help"),
];

/// What the run tells the view, in order (a target's sessions may come before its start:
/// they travel apart).
pub enum Message {
    /// The check of the target of `line` began.
    Started { line: usize, target: String },
    /// A connection of its walk opened, its view fed from now on.
    Session {
        line: usize,
        label: String,
        url: String,
        seen: Shared,
    },
    /// It ended, with this outcome.
    Done {
        line: usize,
        target: String,
        done: Done,
    },
    /// The target file holds this many targets.
    Total(usize),
    /// Every target is done.
    Finished,
}

pub use super::table::overlays::Overlay;

pub struct FleetView {
    /// The target file, for the header.
    pub file: String,
    pub theme: Theme,
    pub targets: Targets,
    pub sort: Column,
    pub reversed: bool,
    /// The selected target, by line: it stays on its target whatever the order.
    pub selected: Option<usize>,
    /// The target opened (by line) and which of its sessions; None: the table.
    pub opened: Option<(usize, usize)>,
    pub overlay: Option<Overlay>,
    /// The file's count of targets, once read to its end.
    pub total: Option<usize>,
    /// Every target is done.
    pub finished: bool,
    /// What the order of the rows by time is taken at: the last message's instant.
    pub now: Instant,
    /// Drawn for a target without a session (one that failed before it connected).
    pub(crate) blank: App,
    pub(crate) dirty: bool,
}

impl FleetView {
    pub fn new(template: &Template, now: Instant) -> FleetView {
        FleetView {
            file: template.file.clone(),
            theme: template.theme.clone(),
            targets: Targets::default(),
            sort: Column::Line,
            reversed: false,
            selected: None,
            opened: None,
            overlay: None,
            total: None,
            finished: false,
            now,
            blank: App::new(String::new(), template.theme.clone(), keys::defaults()),
            dirty: true,
        }
    }

    pub fn apply(&mut self, message: Message, now: Instant) {
        self.dirty = true;
        self.now = now;
        match message {
            Message::Started { line, target } => self.targets.started(line, &target, now),
            Message::Session {
                line,
                label,
                url,
                seen,
            } => self
                .targets
                .session(line, Session { label, url, seen }, now),
            Message::Done { line, target, done } => {
                let keep = self.opened.map(|(line, _)| line);
                self.targets.finished(line, &target, done, keep, now)
            }
            Message::Total(n) => self.total = Some(n),
            Message::Finished => self.finished = true,
        }
        if self.selected.is_none() {
            self.selected = self.order().first().map(|&i| self.targets.at(i).line);
        }
    }

    /// The rows in the table's order: indices into [`Targets::iter`].
    pub fn order(&self) -> Vec<usize> {
        self.targets.order(self.sort, self.reversed, self.now)
    }

    /// Where the selected target is in [`Self::order`].
    pub fn selected_at(&self, order: &[usize]) -> usize {
        order
            .iter()
            .position(|&i| Some(self.targets.at(i).line) == self.selected)
            .unwrap_or(0)
    }

    /// Checks still running (none once the run is over).
    pub fn in_flight(&self) -> usize {
        if self.finished {
            0
        } else {
            self.targets.in_flight()
        }
    }

    /// The target opened and the session shown, if any.
    pub fn opened(&self) -> Option<(&Row, Option<&Session>)> {
        let (line, session) = self.opened?;
        let row = self.targets.get(line)?;
        Some((row, row.sessions.get(session)))
    }

    /// A key; true: quit.
    pub fn key(&mut self, k: KeyEvent) -> bool {
        self.dirty = true;
        if let Some(quit) = overlays::overlay_key(&mut self.overlay, &k) {
            return quit;
        }
        let Some((line, at)) = self.opened else {
            return self.list_key(k);
        };
        let count = self.targets.get(line).map_or(0, |r| r.sessions.len());
        match k.code {
            KeyCode::Left | KeyCode::Char('[') => {
                self.opened = Some((line, at.saturating_sub(1)));
                return false;
            }
            KeyCode::Right | KeyCode::Char(']') => {
                self.opened = Some((line, (at + 1).min(count.saturating_sub(1))));
                return false;
            }
            _ => {}
        }
        let seen = self.opened().and_then(|(_, s)| s).map(|s| s.seen.clone());
        let said = match seen {
            Some(seen) => opened_key(&seen, k),
            None => match k.code {
                KeyCode::Esc | KeyCode::Char('q') => OpenedKey::Back,
                KeyCode::Char('?') => OpenedKey::Help,
                _ => OpenedKey::Done,
            },
        };
        said.apply(&mut self.opened, &mut self.overlay)
    }

    fn list_key(&mut self, k: KeyEvent) -> bool {
        match k.code {
            KeyCode::Up | KeyCode::Char('k') => self.step(-1),
            KeyCode::Down | KeyCode::Char('j') => self.step(1),
            KeyCode::PageUp => self.step(-20),
            KeyCode::PageDown => self.step(20),
            KeyCode::Home | KeyCode::Char('g') => self.step(isize::MIN),
            KeyCode::End | KeyCode::Char('G') => self.step(isize::MAX),
            KeyCode::Enter => self.opened = self.selected.map(|line| (line, 0)),
            KeyCode::Char('s') => self.sort = self.sort.next(),
            KeyCode::Char('r') => self.reversed = !self.reversed,
            KeyCode::Char('?') => self.overlay = Some(Overlay::Help),
            KeyCode::Char('q') if self.in_flight() > 0 => self.overlay = Some(Overlay::ConfirmQuit),
            KeyCode::Char('q') => return true,
            _ => {}
        }
        false
    }

    /// Moves the selection `by` rows in the table's order.
    fn step(&mut self, by: isize) {
        let order = self.order();
        if order.is_empty() {
            return;
        }
        let at = self
            .selected_at(&order)
            .saturating_add_signed(by)
            .min(order.len() - 1);
        self.selected = Some(self.targets.at(order[at]).line);
    }
}
