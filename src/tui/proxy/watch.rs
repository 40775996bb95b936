//! How a proxied connection reaches the view: the proxy's [`crate::proxy::Watch`] hook gives
//! each connection an observer that applies its updates straight to that connection's [`App`]
//! (behind a lock the view shares), the updates bounded as a live session's are
//! ([`crate::session::task::forward`]). No queue grows between a busy connection and the
//! screen: what the view holds is what the App keeps, and the App bounds that.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, mpsc};

use crate::report::ConnectionReport;
use crate::session::Observer;
use crate::session::task::{Update, Updates};
use crate::tui::app::{App, Focus};
use crate::tui::keys::Binding;
use crate::tui::theme::Theme;
use crate::tui::transcript::Transcript;
use popscope_core::{Event, Tally};

/// Rows kept per connection: hundreds of connections are kept, each bounded as a session's
/// transcript is, with a smaller cap (the oldest tenth goes past it).
pub const CONNECTION_ROWS: usize = 50_000;

/// Findings listed per connection (a hostile server cannot grow a view without bound); the
/// rest are counted.
pub const CONNECTION_FINDINGS: usize = 1000;

/// One connection as the view shows it: its session view, and its findings counted by side.
pub struct Seen {
    pub app: App,
    pub client: Tally,
    pub server: Tally,
    /// Findings counted but not listed, past [`CONNECTION_FINDINGS`].
    pub left_out: usize,
}

/// A connection's view, shared by its relay (which feeds it) and the screen (which draws it).
#[derive(Clone)]
pub struct Shared(Arc<Mutex<Seen>>);

impl Shared {
    /// The view, to read or to change; a panic elsewhere while it was held leaves it usable.
    pub fn lock(&self) -> MutexGuard<'_, Seen> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What the proxy tells the view, in order.
pub enum Message {
    /// A client connected: connection `number` from `client`, its view fed from now on.
    Opened {
        number: u64,
        client: SocketAddr,
        seen: Shared,
    },
    /// A connection ended.
    Ended(Ending),
}

/// What the proxy's report of an ended connection adds to what its view saw.
#[derive(Clone, Debug, Default)]
pub struct Ending {
    pub number: u64,
    /// Why it ended, when neither side closed it (the upstream unreachable, a timeout).
    pub error: Option<String>,
    /// What the proxy did on its own (an STLS it answered).
    pub notes: Vec<String>,
    /// The upstream handshake in one line, under implicit TLS.
    pub upstream_tls: Option<String>,
}

impl From<&ConnectionReport> for Ending {
    fn from(r: &ConnectionReport) -> Ending {
        Ending {
            number: r.number,
            error: r.error.clone(),
            notes: r.notes.clone(),
            upstream_tls: r.upstream_tls.clone(),
        }
    }
}

/// What every connection's view starts with.
#[derive(Clone)]
pub struct Template {
    /// The upstream, as the views name it.
    pub upstream: String,
    pub theme: Theme,
    pub keys: Vec<Binding>,
    /// Wall-clock seconds since midnight, for a connection's clock (tests give a fixed one).
    pub clock: fn() -> f64,
}

impl Template {
    /// A fresh connection's view and its counts.
    pub fn seen(&self) -> Shared {
        let mut app = App::new(self.upstream.clone(), self.theme.clone(), self.keys.clone());
        app.transcript.rows = Transcript::with_cap(CONNECTION_ROWS);
        app.findings.sides = true;
        app.relayed = true;
        // Nothing is typed into a relayed session: the panels have the keys.
        app.focus = Focus::Transcript;
        app.clock_base = (self.clock)();
        Shared(Arc::new(Mutex::new(Seen {
            app,
            client: Tally::default(),
            server: Tally::default(),
            left_out: 0,
        })))
    }

    /// The observer of connection `number` from `client`: its view is announced on `tx`
    /// first, and every change to it wakes `changed`.
    pub fn observer(
        &self,
        number: u64,
        client: SocketAddr,
        tx: &mpsc::UnboundedSender<Message>,
        changed: &Arc<Notify>,
    ) -> Box<dyn Observer> {
        let seen = self.seen();
        let _ = tx.send(Message::Opened {
            number,
            client,
            seen: seen.clone(),
        });
        struct Nothing;
        impl Observer for Nothing {}
        crate::session::task::forward(
            IntoView {
                seen,
                changed: changed.clone(),
            },
            Box::new(Nothing),
        )
    }
}

/// The hook for [`crate::proxy::ProxyOptions`]: each connection gets
/// [`Template::observer`]'s observer.
pub fn watch(
    template: Template,
    tx: mpsc::UnboundedSender<Message>,
    changed: Arc<Notify>,
) -> crate::proxy::Watch {
    Arc::new(move |number, client| template.observer(number, client, &tx, &changed))
}

/// Applies a connection's updates to its view.
struct IntoView {
    seen: Shared,
    changed: Arc<Notify>,
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
                listed = seen.app.findings.list.len() < CONNECTION_FINDINGS;
                seen.left_out += usize::from(!listed);
            }
            if listed {
                seen.app.apply(update);
            }
        }
        self.changed.notify_one();
    }
}
