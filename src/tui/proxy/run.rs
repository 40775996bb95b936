//! The loop of the connections view: keys, the proxy's messages and reports, and the wake-up
//! of a connection's view that changed. It never waits on a connection: each feeds its own
//! view, and the loop only draws.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use super::{Ending, Message, ProxyView, Template};
use crate::report::ConnectionReport;
use crate::tui::terminal;

/// At most one frame per this interval while connections change.
const FRAME: Duration = Duration::from_millis(16);

/// While a connection is live its duration is redrawn this often.
const TICK: Duration = Duration::from_secs(1);

/// The view before it runs, with the other ends of its [`super::watch`] hook.
pub(crate) struct Waiting {
    view: ProxyView,
    messages: mpsc::UnboundedReceiver<Message>,
    changed: Arc<Notify>,
}

/// The hook to give the proxy, and the view it feeds.
pub(crate) fn prepare(listen: String, template: Template) -> (crate::proxy::Watch, Waiting) {
    let (tx, messages) = mpsc::unbounded_channel();
    let changed = Arc::new(Notify::new());
    let view = ProxyView::new(listen, &template);
    let hook = super::watch::watch(template, tx, changed.clone());
    (
        hook,
        Waiting {
            view,
            messages,
            changed,
        },
    )
}

/// Runs the view until the user quits (or a signal ends it); the terminal is restored on
/// every way out. `reports` are the proxy's, one per ended connection.
pub(crate) async fn run(
    waiting: Waiting,
    mut reports: mpsc::UnboundedReceiver<ConnectionReport>,
) -> std::io::Result<()> {
    let Waiting {
        mut view,
        mut messages,
        changed,
    } = waiting;
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminal = terminal::enter()?;
    let mut keys = EventStream::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut last_draw = Instant::now() - FRAME;
    let mut last_tick = Instant::now();
    let result = loop {
        if view.connections.live() > 0 && last_tick.elapsed() >= TICK {
            view.dirty = true;
            last_tick = Instant::now();
        }
        if view.dirty && last_draw.elapsed() >= FRAME {
            let now = std::time::Instant::now();
            if let Err(e) = terminal.draw(|f| super::draw::draw(f, &view, now)) {
                break Err(e);
            }
            view.dirty = false;
            last_draw = Instant::now();
        }
        let redraw_at = last_draw + FRAME;
        let tick_at = last_tick + TICK;
        tokio::select! {
            Some(m) = messages.recv() => view.apply(m, std::time::Instant::now()),
            Some(r) = reports.recv() => {
                let now = std::time::Instant::now();
                // A connection's opening was sent before its report: taken first.
                while let Ok(m) = messages.try_recv() {
                    view.apply(m, now);
                }
                view.apply(Message::Ended(Ending::from(&r)), now)
            }
            ev = keys.next() => match ev {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => {
                    if view.key(k) {
                        break Ok(());
                    }
                }
                Some(Ok(TermEvent::Resize(..))) => view.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break Ok(()),
            },
            () = changed.notified() => view.dirty = true,
            _ = tokio::time::sleep_until(redraw_at), if view.dirty => {}
            _ = tokio::time::sleep_until(tick_at), if view.connections.live() > 0 => {}
            _ = term.recv() => break Ok(()),
            _ = hup.recv() => break Ok(()),
            _ = int.recv() => break Ok(()),
        }
    };
    terminal::leave();
    result
}
