//! The connections view in the table views' loop ([`crate::tui::table::run`]): the proxy's
//! messages, and its reports of ended connections forwarded behind them.

use std::sync::Arc;

use tokio::sync::{Notify, mpsc};

use super::{Ending, Message, ProxyView, Template};
use crate::report::ConnectionReport;
use crate::tui::table::run::Live;

/// The view before it runs, with the other ends of its [`super::watch`] hook.
pub(crate) struct Waiting {
    view: ProxyView,
    tx: mpsc::UnboundedSender<Message>,
    messages: mpsc::UnboundedReceiver<Message>,
    changed: Arc<Notify>,
}

/// The hook to give the proxy, and the view it feeds.
pub(crate) fn prepare(listen: String, template: Template) -> (crate::proxy::Watch, Waiting) {
    let (tx, messages) = mpsc::unbounded_channel();
    let changed = Arc::new(Notify::new());
    let view = ProxyView::new(listen, &template);
    let hook = super::watch::watch(template, tx.clone(), changed.clone());
    (
        hook,
        Waiting {
            view,
            tx,
            messages,
            changed,
        },
    )
}

impl Live for ProxyView {
    type Message = Message;

    fn apply(&mut self, message: Message, now: std::time::Instant) {
        ProxyView::apply(self, message, now)
    }

    fn key(&mut self, k: crossterm::event::KeyEvent) -> bool {
        ProxyView::key(self, k)
    }

    fn draw(&self, f: &mut ratatui::Frame, now: std::time::Instant) {
        super::draw::draw(f, self, now)
    }

    fn ticking(&self) -> bool {
        self.connections.live() > 0
    }

    fn dirty(&mut self) -> &mut bool {
        &mut self.dirty
    }
}

/// Runs the view until the user quits (or a signal ends it); the terminal is restored on
/// every way out. `reports` are the proxy's, one per ended connection.
pub(crate) async fn run(
    waiting: Waiting,
    mut reports: mpsc::UnboundedReceiver<ConnectionReport>,
) -> std::io::Result<()> {
    let Waiting {
        mut view,
        tx,
        mut messages,
        changed,
    } = waiting;
    // A connection's opening is sent before its report, so on the one channel it comes first.
    let forward = tokio::spawn(async move {
        while let Some(r) = reports.recv().await {
            if tx.send(Message::Ended(Ending::from(&r))).is_err() {
                break;
            }
        }
    });
    let result = crate::tui::table::run::run(&mut view, &mut messages, &changed).await;
    forward.abort();
    result
}
