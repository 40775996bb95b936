//! How a proxied connection reaches the view: the proxy's [`crate::proxy::Watch`] hook gives
//! each connection an observer that feeds that connection's session view
//! ([`crate::tui::table::seen`]), which the view shares.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{Notify, mpsc};

use crate::report::ConnectionReport;
use crate::session::Observer;
use crate::tui::app::App;
use crate::tui::keys::Binding;
use crate::tui::table::seen::feeding;
pub use crate::tui::table::seen::{Seen, Shared};
use crate::tui::theme::Theme;
use crate::tui::transcript::Transcript;

/// Rows kept per connection: hundreds of connections are kept, each bounded as a session's
/// transcript is, with a smaller cap (the oldest tenth goes past it).
pub const CONNECTION_ROWS: usize = 50_000;

/// Findings listed per connection (a hostile server cannot grow a view without bound); the
/// rest are counted.
pub const CONNECTION_FINDINGS: usize = 1000;

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
        app.clock_base = (self.clock)();
        Shared::new(app)
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
        feeding(seen, changed.clone(), CONNECTION_FINDINGS)
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
