//! The server leg: TCP to the upstream, and implicit TLS (or STLS, see `starttls`) verified
//! as `check` verifies it (the same `--ca-file`, `--insecure`, `--sni`, timeouts).

use std::time::Duration;

use popscope_core::TransportEvent;

use super::judge::{Judge, with};
use super::starttls::{self, StlsError};
use crate::session::Note;
use crate::transport::{self, Scheme, Stream, Target, TlsSettings};

/// Where and how the proxy reaches the real server.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub(crate) target: Target,
    pub(crate) scheme: Scheme,
    pub(crate) tls: TlsSettings,
    pub(crate) connect_timeout: Duration,
    /// `--upstream-starttls` (pop3:// only): the proxy upgrades the leg by STLS itself.
    pub(crate) starttls: bool,
}

impl Upstream {
    /// The URL as reports name it.
    pub(crate) fn url(&self) -> String {
        self.target.url(self.scheme)
    }

    /// Connects (and for pop3s shakes hands; with `starttls` runs STLS first), telling
    /// `judge` what the engine must know: a handshake's outcome is a transport event of the
    /// session.
    pub(crate) async fn connect(
        &self,
        judge: &std::sync::Mutex<Judge>,
    ) -> Result<Stream, StlsError> {
        let port = self.target.port_or_default(self.scheme);
        let tcp = transport::connect_tcp(&self.target, port, self.connect_timeout).await?;
        let addr = self.target.socket_addr(port);
        with(judge, |j| j.note(&Note::Connected { addr }));
        if self.scheme == Scheme::Pop3 && self.starttls {
            let host = &self.target.host;
            let timeout = self.connect_timeout;
            let (stream, greeting) =
                starttls::upgrade(tcp, host, &self.tls, timeout, judge).await?;
            with(judge, |j| j.relay_first(greeting));
            return Ok(stream);
        }
        if self.scheme == Scheme::Pop3 {
            return Ok(Stream::Plain(tcp));
        }
        match transport::handshake(tcp, &self.target.host, &self.tls, self.connect_timeout).await {
            Ok((stream, details)) => {
                with(judge, |j| j.tls_established(&details));
                Ok(stream)
            }
            Err(e) => {
                let reason = e.tls_failure();
                with(judge, |j| j.transport(TransportEvent::TlsFailed { reason }));
                Err(e.into())
            }
        }
    }
}
