//! The loop of a table view: keys, the messages of what it watches, and the wake-up of a
//! row's session view that changed. It never waits on a connection: each feeds its own view,
//! and the loop only draws, at most once a frame, and once a second while something on
//! screen counts time.

use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEvent, KeyEventKind};
use futures_util::StreamExt;
use ratatui::Frame;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::tui::terminal;

/// At most one frame per this interval while rows change.
const FRAME: Duration = Duration::from_millis(16);

/// Messages applied at most in one turn of the loop, after the one it woke for.
const BATCH: usize = 1024;

/// While something runs its time is redrawn this often.
const TICK: Duration = Duration::from_secs(1);

/// A view the loop runs: it does no I/O, so tests drive it directly.
pub(crate) trait Live {
    type Message;
    /// What the watched side said, at `now`.
    fn apply(&mut self, message: Self::Message, now: std::time::Instant);
    /// A key; true: quit.
    fn key(&mut self, k: KeyEvent) -> bool;
    fn draw(&self, f: &mut Frame, now: std::time::Instant);
    /// Something on screen counts time (a live connection, a check in flight).
    fn ticking(&self) -> bool;
    /// Changed since it was last drawn.
    fn dirty(&mut self) -> &mut bool;
    /// What is on screen shows the rows' session views as they change (not only the
    /// messages): a change to one is worth a frame.
    fn shows_sessions(&self) -> bool {
        true
    }
}

/// Runs `view` until the user quits (or a signal ends it); the terminal is restored on every
/// way out.
pub(crate) async fn run<V: Live>(
    view: &mut V,
    messages: &mut mpsc::UnboundedReceiver<V::Message>,
    changed: &Notify,
) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminal = terminal::enter()?;
    let mut keys = EventStream::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut last_draw = Instant::now() - FRAME;
    let mut last_tick = Instant::now();
    let result = loop {
        let ticking = view.ticking();
        if ticking && last_tick.elapsed() >= TICK {
            *view.dirty() = true;
            last_tick = Instant::now();
        }
        if *view.dirty() && last_draw.elapsed() >= FRAME {
            let now = std::time::Instant::now();
            if let Err(e) = terminal.draw(|f| view.draw(f, now)) {
                break Err(e);
            }
            *view.dirty() = false;
            last_draw = Instant::now();
        }
        let redraw_at = last_draw + FRAME;
        let tick_at = last_tick + TICK;
        let dirty = *view.dirty();
        tokio::select! {
            Some(m) = messages.recv() => {
                // What came meanwhile too, before the next frame: a busy run is drained in
                // batches, not a message a turn (each turn also looks at the clock and the
                // keys), so its messages, each holding a session view, do not pile up.
                let now = std::time::Instant::now();
                view.apply(m, now);
                for _ in 0..BATCH {
                    match messages.try_recv() {
                        Ok(m) => view.apply(m, now),
                        Err(_) => break,
                    }
                }
            }
            ev = keys.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => {
                    if view.key(k) {
                        break Ok(());
                    }
                }
                Some(Ok(TermEvent::Resize(..))) => *view.dirty() = true,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break Ok(()),
            },
            () = changed.notified() => {
                if view.shows_sessions() {
                    *view.dirty() = true;
                }
            }
            _ = tokio::time::sleep_until(redraw_at), if dirty => {}
            _ = tokio::time::sleep_until(tick_at), if ticking => {}
            _ = term.recv() => break Ok(()),
            _ = hup.recv() => break Ok(()),
            _ = int.recv() => break Ok(()),
        }
    };
    terminal::leave();
    result
}
