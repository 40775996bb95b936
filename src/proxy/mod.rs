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
//! The client leg is plain TCP or implicit TLS (`--listen pop3s://`, the proxy's own
//! certificate); STLS is never offered to the client (see `rewrite`), whatever the upstream
//! leg is. The engine is told each leg apart: the server rules judge the upstream's
//! (`Config::implicit_tls`, the upstream handshake), the client rules the client's
//! (`Config::client_leg_tls`).

mod inject;
mod judge;
mod relay;
mod rewrite;
mod spool;
mod upstream;

use crate::report::ConnectionReport;
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

/// What every connection of one proxy run shares.
pub struct ProxyOptions {
    pub upstream: Upstream,
    /// TLS toward the client from its first byte (`--listen pop3s://`); none: plain TCP.
    pub client_tls: Option<tokio_rustls::TlsAcceptor>,
    /// How long a write to either side may wait for that side to read, and how long the
    /// server may be silent while it owes a reply before the engine judges the silence.
    pub(crate) timeout: Duration,
    pub(crate) record: Option<RecordFile>,
    pub(crate) record_secrets: bool,
    pub(crate) max_body: Option<u64>,
    /// Held while a connection's recording is appended: one session at a time.
    pub(crate) saving: std::sync::Mutex<()>,
    /// `--inject CASE`: the upstream made to misbehave toward the client (rules.md §3.19).
    pub(crate) inject: Option<popscope_core::inject::Fault>,
}

/// The engine settings of every proxied connection: the one place they are made.
pub(crate) fn engine_config(opts: &ProxyOptions) -> Config {
    // The client is anyone: its rules judge it too. The proxy keeps STLS from it, so it is
    // judged by what it was shown, and by its own leg's security, not the upstream's.
    Config {
        implicit_tls: opts.upstream.scheme == Scheme::Pop3s,
        judge_client: true,
        stls_hidden_from_client: true,
        client_leg_tls: Some(opts.client_tls.is_some()),
        ..Config::default()
    }
}

impl ProxyOptions {
    /// The observer of one connection: its recorder when --record, writing into `into`.
    fn observer(&self, into: &Spool) -> Box<dyn Observer> {
        struct Nothing;
        impl Observer for Nothing {}
        if self.record.is_none() {
            return Box::new(Nothing);
        }
        Box::new(
            crate::transcript::jsonl::Recorder::new(
                Box::new(into.clone()),
                &self.upstream.url(),
                self.record_secrets,
            )
            .with_max_body(self.max_body),
        )
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
