//! A row's session view, fed from engine events as they happen: the observer a connection
//! gets ([`feeding`]) applies its updates straight to that connection's [`App`] (behind a
//! lock the view shares), the updates bounded as a live session's are
//! ([`crate::session::task::forward`]). No queue grows between a busy connection and the
//! screen: what the view holds is what the App keeps, and the App bounds that. And the keys
//! of such a session once opened ([`opened_key`]).

use std::sync::{Arc, Mutex, MutexGuard};

use crossterm::event::{KeyCode, KeyEvent};
use tokio::sync::Notify;

use crate::session::Observer;
use crate::session::task::{Update, Updates};
use crate::tui::app::{Action, App, Focus};
use crate::tui::keys::{self, Act};
use popscope_core::{Event, Tally};

/// One connection as a view shows it: its session view, and its findings counted by side.
pub struct Seen {
    pub app: App,
    pub client: Tally,
    pub server: Tally,
    /// Findings counted but not listed, past the view's cap.
    pub left_out: usize,
}

/// A connection's view, shared by what feeds it and the screen (which draws it).
#[derive(Clone)]
pub struct Shared(Arc<Mutex<Seen>>);

impl Shared {
    /// A session view of `app`, nothing counted yet; nothing is typed into it: its panels
    /// have the keys.
    pub fn new(mut app: App) -> Shared {
        app.focus = Focus::Transcript;
        Shared(Arc::new(Mutex::new(Seen {
            app,
            client: Tally::default(),
            server: Tally::default(),
            left_out: 0,
        })))
    }

    /// The view, to read or to change; a panic elsewhere while it was held leaves it usable.
    pub fn lock(&self) -> MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The observer that feeds `seen`, listing at most `findings` findings (the rest counted),
/// and wakes `changed` on every change.
pub fn feeding(seen: Shared, changed: Arc<Notify>, findings: usize) -> Box<dyn Observer> {
    struct Nothing;
    impl Observer for Nothing {}
    crate::session::task::forward(
        IntoView {
            seen,
            changed,
            findings,
        },
        Box::new(Nothing),
    )
}

/// Applies a connection's updates to its view.
struct IntoView {
    seen: Shared,
    changed: Arc<Notify>,
    findings: usize,
}

impl Updates for IntoView {
    fn send(&self, update: Update) {
        {
            let mut seen = self.seen.lock();
            let mut listed = true;
            if let Update::Event(_, Event::Finding(f)) = &update {
                let side = if f.rule.judges_client() {
                    &mut seen.client
                } else {
                    &mut seen.server
                };
                side.add(f.severity);
                listed = seen.app.findings.list.len() < self.findings;
                seen.left_out += usize::from(!listed);
            }
            if listed {
                seen.app.apply(update);
            }
        }
        self.changed.notify_one();
    }
}

/// What a key did to an opened session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenedKey {
    /// Back to the table.
    Back,
    /// The view's help.
    Help,
    /// Quit the view (ctrl-c from the session's own overlay).
    Quit,
    /// The session's panels took it (or nobody did).
    Done,
}

impl OpenedKey {
    /// What it does to a view: back (nothing `opened`), its help, or quit (true).
    pub(crate) fn apply<T>(
        self,
        opened: &mut Option<T>,
        overlay: &mut Option<crate::tui::table::overlays::Overlay>,
    ) -> bool {
        match self {
            OpenedKey::Back => *opened = None,
            OpenedKey::Help => *overlay = Some(crate::tui::table::overlays::Overlay::Help),
            OpenedKey::Quit => return true,
            OpenedKey::Done => {}
        }
        false
    }
}

/// An opened session's keys: back, help and the panel focus here; moving, folds and the
/// finding detail are its App's, from the key table.
pub(crate) fn opened_key(seen: &Shared, k: KeyEvent) -> OpenedKey {
    let mut seen = seen.lock();
    let app = &mut seen.app;
    if app.overlay.is_some() {
        return if app.key(k).contains(&Action::Quit) {
            OpenedKey::Quit
        } else {
            OpenedKey::Done
        };
    }
    match k.code {
        KeyCode::Esc | KeyCode::Char('q') => return OpenedKey::Back,
        KeyCode::Char('?') => return OpenedKey::Help,
        KeyCode::Tab | KeyCode::BackTab => {
            app.focus = match app.focus {
                Focus::Transcript => Focus::Findings,
                _ => Focus::Transcript,
            }
        }
        _ => {
            let act = keys::lookup(&app.keys, app.focus.scope(), &keys::name(&k));
            let panel_keys = [
                Act::Up,
                Act::Down,
                Act::PageUp,
                Act::PageDown,
                Act::Top,
                Act::Bottom,
                Act::Open,
            ];
            if act.is_some_and(|a| panel_keys.contains(&a)) {
                app.key(k);
            }
        }
    }
    OpenedKey::Done
}
