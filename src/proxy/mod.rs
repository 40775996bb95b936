//! `popscope proxy`: a mail client connects to popscope, popscope connects to the real
//! server and relays the session both ways, judging it with one engine per client
//! connection.
//!
//! Layers, each using only those before it: `rewrite` (the STLS changes between the legs,
//! bytes only) <- `judge` (one connection's engine, findings and recorder; no sockets) <-
//! `upstream` (the server leg: TCP, TLS verified as `check` does) <- `relay` (one client
//! connection, both directions at once, bounded) <- this module (the listener: a task per
//! client, and the stop).
//!
//! The client leg is plain TCP, implicit TLS (`--listen pop3s://`, the proxy's own
//! certificate), or plain until the client's STLS, which the proxy answers itself
//! (`--offer-stls`; without it STLS is kept from the client, see `rewrite`), whatever the
//! upstream leg is. The engine is told each leg apart: the server rules judge the upstream's
//! (`Config::implicit_tls`, the upstream handshake), the client rules the client's
//! (`Config::client_leg_tls`, then `TransportEvent::ClientLegStls` when the client's STLS
//! completes). The client leg asks the client for a certificate and verifies none
//! (`client_auth`): the engine hears whether one was shown (CL-003), nothing more.

pub(crate) mod ca;
pub(crate) mod client_auth;
mod inject;
mod judge;
mod relay;
mod rewrite;
mod spool;
mod starttls;
mod upstream;

use crate::report::ConnectionReport;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub use upstream::Upstream;

use crate::session::Observer;
use crate::transcript::jsonl::RecordFile;
use crate::transport::Scheme;
use popscope_core::Config;
use spool::Spool;

/// How long live connections get to end after a stop before they are dropped.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Gives each client connection (its number, the client's address) an observer of its own,
/// fed what the recorder is fed: how the connections view watches a connection live.
pub type Watch = Arc<dyn Fn(u64, SocketAddr) -> Box<dyn Observer> + Send + Sync>;

/// What every connection of one proxy run shares.
pub struct ProxyOptions {
    pub upstream: Upstream,
    /// TLS toward the client: from its first byte (`--listen pop3s://`), or after its STLS
    /// with `offer_stls`; none: plain TCP.
    pub client_tls: Option<tokio_rustls::TlsAcceptor>,
    /// `--offer-stls`: the client leg starts plain, and the proxy answers STLS itself.
    pub offer_stls: bool,
    /// How long a write to either side may wait for that side to read, and how long the
    /// server may be silent while it owes a reply before the engine judges the silence.
    pub(crate) timeout: Duration,
    pub(crate) record: Option<RecordFile>,
    pub(crate) record_secrets: bool,
    pub(crate) max_body: Option<u64>,
    /// Held while a connection's recording is appended: one session at a time.
    pub(crate) saving: std::sync::Mutex<()>,
    /// Each client's last login, for CL-016 across its connections.
    pub(crate) logins: std::sync::Mutex<crate::session::logins::LastLogins>,
    /// When each client last logged in, for `--inject login-delay`.
    pub(crate) login_times: Arc<crate::session::logins::Logins>,
    /// Another observer per connection besides the recorder (the connections view).
    pub(crate) watch: Option<Watch>,
    /// `--inject CASE`: the upstream made to misbehave toward the client (rules.md §3.19).
    pub(crate) inject: Option<popscope_core::inject::Fault>,
}

/// The engine settings of every proxied connection: the one place they are made.
pub(crate) fn engine_config(opts: &ProxyOptions) -> Config {
    // The client is anyone: its rules judge it too, by what it was shown (the proxy keeps
    // the server's STLS from it, and lists its own with --offer-stls) and by its own leg's
    // security, not the upstream's.
    let offer = opts.offer_stls && opts.client_tls.is_some();
    // strip-stls: the client's leg is plain until an STLS, but none is shown (or accepted).
    let stripped = opts
        .inject
        .is_some_and(|f| f.case == popscope_core::inject::Case::StripStls);
    Config {
        implicit_tls: opts.upstream.scheme == Scheme::Pop3s,
        judge_client: true,
        client_stls_offer: Some(offer && !stripped),
        client_leg_tls: Some(opts.client_tls.is_some() && !offer),
        ..Config::default()
    }
}

impl ProxyOptions {
    /// The observers of connection `number` from `peer`: its recorder when --record, writing
    /// into `into`, and the one `watch` gives it.
    fn observer(&self, number: u64, peer: SocketAddr, into: &Spool) -> Box<dyn Observer> {
        let mut observers: Vec<Box<dyn Observer>> = Vec::new();
        if self.record.is_some() {
            observers.push(Box::new(
                crate::transcript::jsonl::Recorder::judging_client(
                    Box::new(into.clone()),
                    &self.upstream.url(),
                    self.record_secrets,
                    &engine_config(self),
                )
                .with_max_body(self.max_body),
            ));
        }
        if let Some(watch) = &self.watch {
            observers.push(watch(number, peer));
        }
        match observers.len() {
            1 => observers.remove(0),
            _ => Box::new(crate::session::Tee(observers)),
        }
    }

    /// Appends a connection's recording to the --record file; a failure of the record file
    /// is kept there and told at the end of the run, one of the spool is returned.
    fn save_recording(&self, recording: &Spool) -> Result<(), String> {
        let Some(file) = &self.record else {
            return Ok(());
        };
        let _one_at_a_time = self.saving.lock();
        recording
            .append_to(&mut file.clone())
            .map_err(|e| format!("the recording of this connection is incomplete: {e}"))
    }
}

/// Accepts clients on `listener` until `stop` resolves; each connection's report goes to
/// `reports` when it ends. After the stop, live connections are ended (their reports still
/// come) and the call returns.
pub async fn run(
    listener: TcpListener,
    opts: ProxyOptions,
    reports: mpsc::UnboundedSender<ConnectionReport>,
    stop: impl std::future::Future<Output = ()>,
) {
    let opts = Arc::new(opts);
    let (stopping, stopped) = watch::channel(false);
    let mut live = JoinSet::new();
    let mut number = 0u64;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, peer)) = accepted else {
                    // Out of descriptors, say: wait a moment instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let _ = client.set_nodelay(true);
                number += 1;
                let (opts, stopped, reports) = (opts.clone(), stopped.clone(), reports.clone());
                live.spawn(async move {
                    let report = relay::serve(number, client, peer, opts, stopped).await;
                    let _ = reports.send(report);
                });
            }
            Some(_) = live.join_next(), if !live.is_empty() => {}
            _ = &mut stop => break,
        }
    }
    let _ = stopping.send(true);
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while live.join_next().await.is_some() {}
    })
    .await;
}
