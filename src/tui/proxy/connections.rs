//! The table of connections: newest last, one selected (following the newest until the user
//! moves it), and bounded: past [`MAX_CLOSED`] closed connections the oldest closed ones go.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use popscope_core::State;

use super::watch::{Ending, Shared};
use crate::tui::app::App;

/// Closed connections kept; live ones are never dropped.
pub const MAX_CLOSED: usize = 500;

/// One client connection.
pub struct Connection {
    pub number: u64,
    pub client: SocketAddr,
    pub seen: Shared,
    pub started: Instant,
    /// How long it lasted, once it ended.
    pub lasted: Option<Duration>,
    /// The proxy's report of it, once it ended.
    pub ending: Option<Ending>,
}

impl Connection {
    pub fn is_live(&self) -> bool {
        self.ending.is_none()
    }

    /// How long it has lasted at `now`.
    pub fn duration(&self, now: Instant) -> Duration {
        self.lasted
            .unwrap_or_else(|| now.saturating_duration_since(self.started))
    }
}

/// The last POP3 state a connection reached before it closed: how far the client got.
pub fn reached(app: &App) -> State {
    app.state_panel
        .path
        .iter()
        .rev()
        .map(|(s, _)| *s)
        .find(|s| *s != State::Closed)
        .unwrap_or(app.state)
}

#[derive(Default)]
pub struct Connections {
    list: VecDeque<Connection>,
    selected: usize,
    /// The user moved the selection away from the newest: new connections no longer take it.
    held: bool,
    /// Closed connections dropped so far (the oldest ones).
    pub dropped: u64,
}

impl Connections {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Connection> {
        self.list.iter()
    }

    pub fn get(&self, i: usize) -> Option<&Connection> {
        self.list.get(i)
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn live(&self) -> usize {
        self.list.iter().filter(|c| c.is_live()).count()
    }

    /// A client connected at `now`.
    pub fn opened(&mut self, number: u64, client: SocketAddr, seen: Shared, now: Instant) {
        self.list.push_back(Connection {
            number,
            client,
            seen,
            started: now,
            lasted: None,
            ending: None,
        });
        if !self.held {
            self.selected = self.list.len() - 1;
        }
    }

    /// A connection ended at `now`; past [`MAX_CLOSED`] closed ones the oldest closed go.
    pub fn ended(&mut self, ending: Ending, now: Instant) {
        if let Some(c) = self.list.iter_mut().find(|c| c.number == ending.number) {
            c.lasted = Some(now.saturating_duration_since(c.started));
            c.ending = Some(ending);
        }
        let mut closed = self.list.iter().filter(|c| !c.is_live()).count();
        while closed > MAX_CLOSED {
            let Some(oldest) = self.list.iter().position(|c| !c.is_live()) else {
                break;
            };
            self.list.remove(oldest);
            self.dropped += 1;
            closed -= 1;
            if oldest < self.selected {
                self.selected -= 1;
            }
        }
        self.selected = self.selected.min(self.list.len().saturating_sub(1));
    }

    /// Moves the selection; on the newest it follows new connections again.
    pub fn step(&mut self, by: isize) {
        let last = self.list.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(by).min(last);
        self.held = self.selected != last;
    }

    pub fn first(&mut self) {
        self.step(isize::MIN);
    }

    pub fn last(&mut self) {
        self.step(isize::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::proxy::watch::Template;

    fn template() -> Template {
        Template {
            upstream: "pop3://127.0.0.1:110".into(),
            theme: crate::tui::Theme::load("dark").unwrap_or_else(|e| panic!("{e}")),
            keys: crate::tui::keys::defaults(),
            clock: || 0.0,
        }
    }

    fn open(c: &mut Connections, number: u64, now: Instant) {
        let addr = SocketAddr::from(([127, 0, 0, 1], 40_000 + number as u16));
        c.opened(number, addr, template().seen(), now);
    }

    fn end(c: &mut Connections, number: u64, now: Instant) {
        let ending = Ending {
            number,
            ..Ending::default()
        };
        c.ended(ending, now);
    }

    #[test]
    fn the_selection_follows_the_newest_until_moved() {
        let now = Instant::now();
        let mut c = Connections::default();
        open(&mut c, 1, now);
        open(&mut c, 2, now);
        assert_eq!(c.selected(), 1);
        c.step(-1);
        open(&mut c, 3, now);
        assert_eq!(c.selected(), 0, "moved by the user: it stays");
        c.last();
        open(&mut c, 4, now);
        assert_eq!(c.selected(), 3, "back on the newest: it follows again");
    }

    #[test]
    fn closed_connections_past_the_cap_go_oldest_first_and_live_ones_stay() {
        let now = Instant::now();
        let mut c = Connections::default();
        open(&mut c, 1, now);
        for n in 2..=(MAX_CLOSED as u64 + 3) {
            open(&mut c, n, now);
            end(&mut c, n, now + Duration::from_secs(1));
        }
        assert_eq!(c.dropped, 2);
        assert_eq!(c.len(), MAX_CLOSED + 1);
        let numbers: Vec<u64> = c.iter().take(2).map(|x| x.number).collect();
        assert_eq!(
            numbers,
            [1, 4],
            "the live one stays, the two oldest closed went"
        );
        assert_eq!(c.selected(), c.len() - 1);
        assert_eq!(c.live(), 1);
        assert_eq!(
            c.get(1).map(|x| x.duration(now + Duration::from_secs(9))),
            Some(Duration::from_secs(1))
        );
    }
}
