//! `popscope proxy`'s connections view: a table of the client connections, and any one of
//! them opened as a session is shown (the same state panel, transcript and findings
//! components, each finding marked client or server), live while it runs.
//!
//! The proxy feeds each connection's view itself ([`watch`]), so the loop here only waits
//! on keys, new and ended connections, and a wake-up when a view changed; it redraws at most
//! once a frame, and once a second while a connection is live (its duration). Like the
//! session's [`App`](super::App), [`ProxyView`] does no I/O: tests drive it directly.

mod cells;
pub mod connections;
pub mod draw;
mod opened;
mod run;
mod table;
pub mod watch;

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent};

use super::keys;
use super::table::overlays;
use super::table::seen::opened_key;
use super::theme::Theme;
pub use connections::{Connection, Connections};
pub(crate) use run::{Waiting, prepare, run};
pub use watch::{Ending, Message, Shared, Template};

/// The keys of the view, for its footer and help (the opened connection's panels take the
/// session's keys from the key table).
pub const LIST_KEYS: &[(&str, &str)] = &[
    ("↑↓ j k", "select"),
    ("enter", "open"),
    ("g G", "first, last"),
    ("?", "help"),
    ("q", "quit"),
];

pub const OPENED_KEYS: &[(&str, &str)] = &[
    ("esc q", "back to the list"),
    ("tab", "transcript / findings"),
    ("↑↓ j k", "move"),
    ("enter", "fold, explain"),
    ("?", "help"),
];

pub use super::table::overlays::Overlay;

pub struct ProxyView {
    /// Where clients connect and where they are relayed, for the header.
    pub listen: String,
    pub upstream: String,
    pub theme: Theme,
    pub keys: Vec<keys::Binding>,
    pub connections: Connections,
    /// The connection opened, by number; None: the table.
    pub opened: Option<u64>,
    pub overlay: Option<Overlay>,
    pub(crate) dirty: bool,
}

impl ProxyView {
    pub fn new(listen: String, template: &Template) -> ProxyView {
        ProxyView {
            listen,
            upstream: template.upstream.clone(),
            theme: template.theme.clone(),
            keys: template.keys.clone(),
            connections: Connections::default(),
            opened: None,
            overlay: None,
            dirty: true,
        }
    }

    /// What the proxy said, at `now`.
    pub fn apply(&mut self, message: Message, now: Instant) {
        self.dirty = true;
        match message {
            Message::Opened {
                number,
                client,
                seen,
            } => self.connections.opened(number, client, seen, now),
            Message::Ended(ending) => self.connections.ended(ending, now),
        }
    }

    /// The connection opened, if it is still in the table.
    pub fn opened(&self) -> Option<&Connection> {
        let number = self.opened?;
        self.connections.iter().find(|c| c.number == number)
    }

    /// A key; true: quit.
    pub fn key(&mut self, k: KeyEvent) -> bool {
        self.dirty = true;
        if let Some(quit) = overlays::overlay_key(&mut self.overlay, &k) {
            return quit;
        }
        let Some(seen) = self.opened().map(|c| c.seen.clone()) else {
            self.opened = None;
            return self.list_key(k);
        };
        opened_key(&seen, k).apply(&mut self.opened, &mut self.overlay)
    }

    fn list_key(&mut self, k: KeyEvent) -> bool {
        match k.code {
            KeyCode::Up | KeyCode::Char('k') => self.connections.step(-1),
            KeyCode::Down | KeyCode::Char('j') => self.connections.step(1),
            KeyCode::PageUp => self.connections.step(-20),
            KeyCode::PageDown => self.connections.step(20),
            KeyCode::Home | KeyCode::Char('g') => self.connections.first(),
            KeyCode::End | KeyCode::Char('G') => self.connections.last(),
            KeyCode::Enter => {
                self.opened = self
                    .connections
                    .get(self.connections.selected())
                    .map(|c| c.number)
            }
            KeyCode::Char('?') => self.overlay = Some(Overlay::Help),
            KeyCode::Char('q') if self.connections.live() > 0 => {
                self.overlay = Some(Overlay::ConfirmQuit)
            }
            KeyCode::Char('q') => return true,
            _ => {}
        }
        false
    }
}
